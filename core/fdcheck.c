/* SPDX-License-Identifier: MIT */
/*
 * Refusals of fds, by name. The kind of an anonymous-inode file is the name in its
 * /proc/PID/fd link ("anon_inode:[eventfd]", "anon_inode:inotify": the name passed to
 * anon_inode_getfile() in the kernel). The family, type and state of a socket are asked of
 * a copy of it taken with pidfd_getfd(2) (SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ACCEPTCONN,
 * getsockname, getpeername: socket(7)); with --tcp-established, the state of a TCP socket
 * from TCP_INFO (tcp(7)). Locks are the "lock:" lines of /proc/PID/fdinfo/FD,
 * which lists the locks and leases held through that fd (proc(5)).
 *
 * Eventfd, timerfd, signalfd, epoll and inotify instances are not refused: anonfd.c dumps them.
 *
 * An anonymous inode is never an external object: nothing outside the tree can hand an
 * equivalent one back, so --inherit-fd does not apply to it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include "anonfd.h"
#include "fdcheck.h"
#include "log.h"
#include "pipes.h"
#include "proc.h"

static const struct {
	const char *link; /* after "anon_inode:" */
	const char *what;
} anon_kinds[] = {
	{"[eventfd]", "eventfd"},
	{"[eventpoll]", "epoll instance"},
	{"[signalfd]", "signalfd"},
	{"[timerfd]", "timerfd"},
	{"inotify", "inotify instance"},
	{"[fanotify]", "fanotify instance"},
	{"[io_uring]", "io_uring instance"},
	{"[perf_event]", "perf_event"},
	{"[pidfd]", "pidfd"},
	{"[userfaultfd]", "userfaultfd"},
	{"seccomp notify", "seccomp listener"},
	{"bpf-map", "bpf map"},
	{"bpf-prog", "bpf program"},
	{"bpf_link", "bpf link"},
	{"bpf_iter", "bpf iterator"},
	{"[fscontext]", "filesystem context"},
	{"[landlock-ruleset]", "landlock ruleset"},
	{"kvm-vm", "KVM virtual machine"},
	{"kvm-vcpu", "KVM vcpu"},
	{"[dmabuf]", "dma-buf"},
	{"sync_file", "sync_file"},
};

const char *fdcheck_anon_kind(const char *link)
{
	if (!strncmp(link, "pidfd:", 6))
		return "pidfd"; /* pidfs, Linux 6.9 */
	if (strncmp(link, "anon_inode:", 11))
		return NULL;
	link += 11;
	for (size_t i = 0; i < ARRAY_SIZE(anon_kinds); i++)
		if (!strncmp(link, anon_kinds[i].link, strlen(anon_kinds[i].link)))
			return anon_kinds[i].what;
	return "anonymous inode";
}

const char *fdcheck_lock_kind_buf(const char *buf)
{
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *p;

		if (strncmp(l, "lock:", 5))
			continue;
		/* "lock:\t1: POSIX  ADVISORY  WRITE pid maj:min:ino start end", fs/locks.c */
		p = strchr(l, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p += strspn(p + 1, " \t") + 1;
		if (!strncmp(p, "->", 2))
			continue; /* a waiter, not a holder */
		if (!strncmp(p, "POSIX", 5))
			return "POSIX lock";
		if (!strncmp(p, "OFDLCK", 6))
			return "OFD lock";
		if (!strncmp(p, "FLOCK", 5))
			return "flock lock";
		if (!strncmp(p, "DELEG", 5))
			return "delegation";
		if (!strncmp(p, "ACCESS", 6))
			continue;
		return "lease";
	}
	return NULL;
}

static int check_locks(pid_t pid, int fd, bool file_locks)
{
	_cleanup_free_ char *buf = NULL;
	const char *kind;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r == -ENOENT)
		return 0; /* closed meanwhile: the fd list is read again later */
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: reading its fdinfo", pid, fd);
	kind = fdcheck_lock_kind_buf(buf);
	if (kind && file_locks && strstr(kind, "lock"))
		return 0; /* flock, POSIX, OFD: locks_dump() */
	if (kind && strstr(kind, "lock"))
		return pr_err("pid %d: fd %d: holds a%s %s: dump with --file-locks", pid, fd,
			      strchr("aeiouAEIOU", kind[0]) ? "n" : "", kind),
		       -ENOTSUP;
	if (kind)
		return pr_err("pid %d: fd %d: holds a %s: not supported", pid, fd, kind), -ENOTSUP;
	return 0;
}

/* "127.0.0.1:80", "[::1]:80" or "*" */
static void inet_name(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s->sin6_port));
	} else {
		snprintf(buf, size, "*");
	}
}

static const char *const tcp_states[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

/* The restore makes sockets in its own network namespace: the dump's must be ckpt's. */
static int check_netns(pid_t pid, int fd, int sk)
{
	_cleanup_close_ int ns = ioctl(sk, SIOCGSKNS);
	struct stat a, b;

	if (ns < 0)
		return pr_perror("pid %d: fd %d: SIOCGSKNS", pid, fd);
	if (fstat(ns, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return pr_perror("pid %d: fd %d: comparing network namespaces", pid, fd);
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return pr_err("pid %d: fd %d: TCP socket of another network namespace than ckpt's: not "
			      "supported",
			      pid, fd),
		       -ENOTSUP;
	return 0;
}

/*
 * --tcp-established: established connections, listeners with no connection waiting to be
 * accepted and sockets that are neither (TCP_CLOSE) pass; inetsk.c dumps them. A half-closed
 * connection (FIN_WAIT*, CLOSE_WAIT, ...) or one being made is refused by the name of its
 * state (tcp(7), tcp_info).
 */
static int check_tcp(pid_t pid, int fd, int sk)
{
	struct sockaddr_storage me = {}, peer = {};
	socklen_t ml = sizeof(me), pl = sizeof(peer), il = sizeof(struct tcp_info);
	struct tcp_info ti = {};
	char a[80], b[80];
	int r = check_netns(pid, fd, sk);

	if (r < 0)
		return r;
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &il) < 0)
		return pr_perror("pid %d: fd %d: TCP_INFO", pid, fd);
	if (ti.tcpi_state == TCP_ESTABLISHED || ti.tcpi_state == TCP_CLOSE)
		return 0;
	if (getsockname(sk, (struct sockaddr *)&me, &ml) < 0)
		ml = 0;
	inet_name(&me, ml, a, sizeof(a));
	/* A listener's tcpi_unacked is its accept queue (tcp_get_info()). */
	if (ti.tcpi_state == TCP_LISTEN && ti.tcpi_unacked)
		return pr_err("pid %d: fd %d: TCP socket listening on %s has %u connection(s) not accepted "
			      "yet: not supported",
			      pid, fd, a, ti.tcpi_unacked),
		       -ENOTSUP;
	if (ti.tcpi_state == TCP_LISTEN)
		return 0;
	if (getpeername(sk, (struct sockaddr *)&peer, &pl) < 0)
		pl = 0;
	inet_name(&peer, pl, b, sizeof(b));
	return pr_err("pid %d: fd %d: TCP socket %s -> %s in state %s: not supported", pid, fd, a, b,
		      ti.tcpi_state < ARRAY_SIZE(tcp_states) && tcp_states[ti.tcpi_state]
			      ? tcp_states[ti.tcpi_state]
			      : "?"),
	       -ENOTSUP;
}

static int refuse_inet(pid_t pid, int fd, int sk, int type, int proto, bool tcp_established)
{
	struct sockaddr_storage me = {}, peer = {};
	socklen_t ml = sizeof(me), pl = sizeof(peer);
	char a[80], b[80];
	int listening = 0;
	socklen_t il = sizeof(listening);
	const char *tcp;
	const char *what = type == SOCK_STREAM && proto == IPPROTO_TCP	   ? "TCP socket"
			   : type == SOCK_DGRAM && proto == IPPROTO_UDP	   ? "UDP socket"
			   : type == SOCK_DGRAM && proto == IPPROTO_ICMP   ? "ICMP socket"
			   : type == SOCK_DGRAM && proto == IPPROTO_ICMPV6 ? "ICMP socket"
			   : type == SOCK_RAW				   ? "raw IP socket"
									   : "IP socket";

	if (type == SOCK_STREAM && proto == IPPROTO_TCP && tcp_established)
		return check_tcp(pid, fd, sk);
	getsockopt(sk, SOL_SOCKET, SO_ACCEPTCONN, &listening, &il);
	if (getsockname(sk, (struct sockaddr *)&me, &ml) < 0)
		ml = 0;
	inet_name(&me, ml, a, sizeof(a));
	tcp = type == SOCK_STREAM && proto == IPPROTO_TCP ? ": dump with --tcp-established"
							  : ": not supported";
	if (listening)
		return pr_err("pid %d: fd %d: %s listening on %s%s", pid, fd, what, a, tcp), -ENOTSUP;
	if (getpeername(sk, (struct sockaddr *)&peer, &pl) == 0) {
		inet_name(&peer, pl, b, sizeof(b));
		return pr_err("pid %d: fd %d: %s %s -> %s%s", pid, fd, what, a, b, tcp), -ENOTSUP;
	}
	return pr_err("pid %d: fd %d: %s bound to %s%s", pid, fd, what, a, tcp), -ENOTSUP;
}

static int check_socket(pid_t pid, int fd, bool tcp_established)
{
	_cleanup_close_ int sk = pipes_grab_fd(pid, fd);
	int family = 0, type = 0, proto = 0;
	socklen_t l1 = sizeof(int), l2 = sizeof(int), l3 = sizeof(int);

	if (sk < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &family, &l1) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &l2) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, &proto, &l3) < 0)
		return pr_perror("pid %d: fd %d: asking its socket family", pid, fd);
	switch (family) {
	case AF_UNIX:
		return 0; /* unixsk.c and unixsk-bound.c decide, and refuse by name */
	case AF_INET:
	case AF_INET6:
		return refuse_inet(pid, fd, sk, type, proto, tcp_established);
	case AF_NETLINK:
		return pr_err("pid %d: fd %d: netlink socket (protocol %d): not supported", pid, fd, proto),
		       -ENOTSUP;
	case AF_PACKET:
		return pr_err("pid %d: fd %d: packet socket: not supported", pid, fd), -ENOTSUP;
	default:
		return pr_err("pid %d: fd %d: socket of address family %d: not supported", pid, fd, family),
		       -ENOTSUP;
	}
}

static int check_fd(pid_t pid, int fd, const struct ckpt_dump_opts *opts)
{
	_cleanup_free_ char *link = NULL;
	const char *kind;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	r = readlink_malloc(AT_FDCWD, path, &link);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: readlink", pid, fd);
	kind = anonfd_link_kind(link) ? NULL : fdcheck_anon_kind(link); /* restored: anonfd.c */
	if (kind && !strcmp(kind, "anonymous inode"))
		return pr_err("pid %d: fd %d: anonymous inode '%s': not supported", pid, fd, link), -ENOTSUP;
	if (kind)
		return pr_err("pid %d: fd %d: %s: not supported", pid, fd, kind), -ENOTSUP;
	if (!strncmp(link, "socket:[", 8)) {
		r = check_socket(pid, fd, opts->tcp_established);
		if (r < 0)
			return r;
	}
	return check_locks(pid, fd, opts->file_locks);
}

int fdcheck_task(const struct task *task, const struct ckpt_dump_opts *opts)
{
	_cleanup_free_ int *fds = NULL;
	size_t n;
	int r;

	if (task->zombie)
		return 0;
	r = proc_list_fds(task->pid, &fds, &n);
	if (r < 0)
		return pr_err_errno(r, "pid %d: listing its fds", task->pid);
	for (size_t i = 0; i < n; i++) {
		r = check_fd(task->pid, fds[i], opts);
		if (r < 0)
			return r;
	}
	return 0;
}
