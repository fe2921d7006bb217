/* SPDX-License-Identifier: MIT */
/*
 * Dump side of TCP sockets (--tcp-established), IPv4 and IPv6. Each socket of the tree is
 * read from a copy taken with pidfd_getfd(2), once whatever the number of fds on it.
 *
 * An established connection is put in repair mode (TCP_REPAIR, tcp(7) and linux/tcp.h; the
 * kernel's tcp_can_repair_sock() allows it to CAP_NET_ADMIN on ESTABLISHED and CLOSE
 * sockets). In repair mode TCP_REPAIR_QUEUE selects a queue, TCP_QUEUE_SEQ then gives its
 * sequence number (the send queue's write_seq, the receive queue's rcv_nxt), and recv(2)
 * with MSG_PEEK reads it without consuming: the send queue from its oldest unacknowledged
 * byte, the receive queue from the first unread one. TCP_MAXSEG gives the MSS clamp,
 * TCP_REPAIR_WINDOW the windows; tcp_info the options agreed at the handshake. Nothing
 * leaves the socket while in repair mode, and closing it there sends nothing.
 *
 * Listening sockets (fdcheck.c refused those with connections waiting) and unconnected ones
 * are their names and options.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include "image.h"
#include "inetsk.h"
#include "inetsk.pb-c.h"
#include "log.h"
#include "pipes.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72 /* Linux 5.14 */
#endif

#define MAX_QUEUE (1u << 30)

/*
 * glibc's struct tcp_info stops at tcpi_total_retrans; the kernel's goes on (linux/tcp.h,
 * which cannot be included with netinet/tcp.h). The packet counters are there.
 */
struct tcp_info_counts {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in; /* Linux 4.2 */
};
_Static_assert(offsetof(struct tcp_info_counts, segs_out) == 136, "struct tcp_info layout");

/* The first fd of the tree that holds a socket. */
struct inet_ref {
	uint64_t id;
	pid_t pid;
	int fd;
	uint32_t flags;
	int family;
};

/* One record and the buffers it points to. */
struct inet_rec {
	InetSkEntry e;
	uint8_t src[16], dst[16];
	uint8_t *sndq, *rcvq;
};

static int get_int(const struct inet_ref *s, int sk, int level, int name, const char *what, uint32_t *ret)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(sk, level, name, &v, &l) < 0)
		return pr_perror("pid %d: fd %d: getsockopt %s", s->pid, s->fd, what);
	*ret = (uint32_t)v;
	return 0;
}

static int set_int(const struct inet_ref *s, int sk, int level, int name, const char *what, int v)
{
	if (setsockopt(sk, level, name, &v, sizeof(v)) < 0)
		return pr_perror("pid %d: fd %d: setsockopt %s", s->pid, s->fd, what);
	return 0;
}

/* An address into bytes and port; false when it is not of family. */
static bool split_addr(const struct sockaddr_storage *ss, uint32_t family, uint8_t *addr, size_t *len,
		       uint32_t *port, uint32_t *scope)
{
	if (ss->ss_family != family)
		return false;
	if (family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		memcpy(addr, &a->sin_addr, 4);
		*len = 4;
		*port = ntohs(a->sin_port);
		return true;
	}
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

	memcpy(addr, &a6->sin6_addr, 16);
	*len = 16;
	*port = ntohs(a6->sin6_port);
	*scope = a6->sin6_scope_id;
	return true;
}

static int dump_names(const struct inet_ref *s, int sk, struct inet_rec *rec)
{
	InetSkEntry *e = &rec->e;
	struct sockaddr_storage ss = {};
	socklen_t l = sizeof(ss);
	uint32_t scope = 0;

	if (getsockname(sk, (struct sockaddr *)&ss, &l) < 0)
		return pr_perror("pid %d: fd %d: getsockname", s->pid, s->fd);
	if (!split_addr(&ss, e->family, rec->src, &e->src_addr.len, &e->src_port, &scope))
		return pr_err("pid %d: fd %d: getsockname: family %d", s->pid, s->fd, ss.ss_family), -EPROTO;
	e->has_src_addr = e->has_src_port = true;
	e->src_addr.data = rec->src;
	if (e->state == TCP_ESTABLISHED) {
		l = sizeof(ss);
		if (getpeername(sk, (struct sockaddr *)&ss, &l) < 0)
			return pr_perror("pid %d: fd %d: getpeername", s->pid, s->fd);
		if (!split_addr(&ss, e->family, rec->dst, &e->dst_addr.len, &e->dst_port, &scope))
			return pr_err("pid %d: fd %d: getpeername: family %d", s->pid, s->fd, ss.ss_family),
			       -EPROTO;
		e->has_dst_addr = e->has_dst_port = true;
		e->dst_addr.data = rec->dst;
	}
	e->has_scope_id = scope != 0;
	e->scope_id = scope;
	return 0;
}

static int dump_keepalive(const struct inet_ref *s, int sk, InetSkEntry *e)
{
	uint32_t v = 0;
	int r = get_int(s, sk, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", &v);

	e->has_keepalive = true;
	e->keepalive = v != 0;
	if (r == 0)
		r = get_int(s, sk, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", &e->keepidle);
	if (r == 0)
		r = get_int(s, sk, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", &e->keepintvl);
	if (r == 0)
		r = get_int(s, sk, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", &e->keepcnt);
	e->has_keepidle = e->has_keepintvl = e->has_keepcnt = true;
	return r;
}

/* Buffer sizes only when the task set them: otherwise the kernel tunes them (tcp(7)). */
static int dump_buffers(const struct inet_ref *s, int sk, InetSkEntry *e)
{
	uint32_t lock = 0;
	int r = 0;

	if (get_int(s, sk, SOL_SOCKET, SO_BUF_LOCK, "SO_BUF_LOCK", &lock) < 0) {
		if (errno != ENOPROTOOPT)
			return -errno;
		lock = 0;
	}
	e->has_buf_lock = lock != 0;
	e->buf_lock = lock;
	if (lock & 1) {
		e->has_sndbuf = true;
		r = get_int(s, sk, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", &e->sndbuf);
	}
	if (r == 0 && (lock & 2)) {
		e->has_rcvbuf = true;
		r = get_int(s, sk, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", &e->rcvbuf);
	}
	return r;
}

static int dump_linger(const struct inet_ref *s, int sk, InetSkEntry *e)
{
	struct linger lg = {};
	socklen_t l = sizeof(lg);

	if (getsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, &l) < 0)
		return pr_perror("pid %d: fd %d: getsockopt SO_LINGER", s->pid, s->fd);
	e->has_linger = lg.l_onoff != 0;
	e->linger = lg.l_linger;
	return 0;
}

static int dump_options(const struct inet_ref *s, int sk, InetSkEntry *e)
{
	uint32_t v = 0;
	int r = get_int(s, sk, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", &v);
	struct pollfd p = {.fd = sk, .events = POLLRDHUP};

	e->has_reuseaddr = e->reuseaddr = v != 0;
	if (r == 0)
		r = get_int(s, sk, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", &v);
	e->has_reuseport = e->reuseport = v != 0;
	if (r == 0)
		r = get_int(s, sk, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", &v);
	e->has_nodelay = e->nodelay = v != 0;
	if (r == 0 && e->family == AF_INET6)
		r = get_int(s, sk, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", &v);
	e->has_v6only = e->v6only = e->family == AF_INET6 && v != 0;
	if (r == 0)
		r = dump_keepalive(s, sk, e);
	if (r == 0)
		r = dump_buffers(s, sk, e);
	if (r == 0)
		r = dump_linger(s, sk, e);
	if (r < 0)
		return r;
	/* shutdown(SHUT_RD) puts nothing on the wire: tcp_poll() shows it as POLLRDHUP */
	if (e->state == TCP_ESTABLISHED && poll(&p, 1, 0) < 0)
		return pr_perror("pid %d: fd %d: poll", s->pid, s->fd);
	e->has_rcv_shutdown = e->rcv_shutdown = e->state == TCP_ESTABLISHED && (p.revents & POLLRDHUP);
	return 0;
}

/* Sequence number of a queue (TCP_QUEUE_SEQ) once it is selected. */
static int queue_seq(const struct inet_ref *s, int sk, int queue, uint32_t *ret)
{
	int r = set_int(s, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", queue);

	return r < 0 ? r : get_int(s, sk, IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ", ret);
}

static int queue_len(const struct inet_ref *s, int sk, unsigned long req, const char *what, uint32_t *ret)
{
	int n = 0;

	if (ioctl(sk, req, &n) < 0)
		return pr_perror("pid %d: fd %d: ioctl %s", s->pid, s->fd, what);
	if (n < 0 || (uint32_t)n > MAX_QUEUE)
		return pr_err("pid %d: fd %d: %d bytes queued: not supported", s->pid, s->fd, n), -ENOTSUP;
	*ret = (uint32_t)n;
	return 0;
}

/* MSG_PEEK of the selected queue into a buffer of len + 1: exactly len bytes, or -EAGAIN. */
static int peek_queue(const struct inet_ref *s, int sk, uint32_t len, uint8_t **ret)
{
	_cleanup_free_ uint8_t *buf = malloc((size_t)len + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = len ? recv(sk, buf, (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (n < 0 && errno != EAGAIN && errno != EFAULT)
		return pr_perror("pid %d: fd %d: peeking at its queue", s->pid, s->fd);
	if (n != (ssize_t)len)
		return -EAGAIN; /* the queue moved (an ACK, or data from the peer): read again */
	*ret = TAKE_PTR(buf);
	return 0;
}

/*
 * One queue: its sequence number, length and bytes, read again until they agree (while
 * the tree is frozen, only the peer moves them: an ACK shortens the send queue, data from
 * outside lengthens the receive queue).
 */
static int read_queue(const struct inet_ref *s, int sk, int queue, uint32_t *seq, uint8_t **data, size_t *len)
{
	unsigned long req = queue == TCP_SEND_QUEUE ? SIOCOUTQ : SIOCINQ;
	const char *what = queue == TCP_SEND_QUEUE ? "SIOCOUTQ" : "SIOCINQ";

	for (int tries = 0; tries < 16; tries++) {
		uint32_t n = 0, after = 0;
		int r = queue_seq(s, sk, queue, seq);

		if (r == 0)
			r = queue_len(s, sk, req, what, &n);
		if (r == 0)
			r = peek_queue(s, sk, n, data);
		if (r == -EAGAIN)
			continue;
		if (r == 0)
			r = queue_seq(s, sk, queue, &after);
		if (r == 0 && after != *seq) {
			free(*data);
			*data = NULL;
			continue;
		}
		*len = n;
		return r;
	}
	return pr_err("pid %d: fd %d: its queue keeps changing while the tree is frozen", s->pid, s->fd),
	       -EAGAIN;
}

/* unsent: SIOCOUTQNSD before the send queue was ever selected (dump_static()). */
static int dump_queues(const struct inet_ref *s, int sk, uint32_t unsent, struct inet_rec *rec)
{
	InetSkEntry *e = &rec->e;
	int r = read_queue(s, sk, TCP_SEND_QUEUE, &e->snd_seq, &rec->sndq, &e->snd_queue.len);

	e->snd_unsent = unsent;
	if (r == 0)
		r = read_queue(s, sk, TCP_RECV_QUEUE, &e->rcv_seq, &rec->rcvq, &e->rcv_queue.len);
	if (r == 0)
		r = set_int(s, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_NO_QUEUE);
	if (r < 0)
		return r;
	e->snd_unsent = MIN(e->snd_unsent, (uint32_t)e->snd_queue.len);
	e->has_snd_seq = e->has_rcv_seq = e->has_snd_unsent = true;
	e->has_snd_queue = e->has_rcv_queue = true;
	e->snd_queue.data = rec->sndq;
	e->rcv_queue.data = rec->rcvq;
	return 0;
}

static int dump_window(const struct inet_ref *s, int sk, InetSkEntry *e)
{
	struct tcp_repair_window w = {};
	socklen_t l = sizeof(w);

	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &l) < 0)
		return pr_perror("pid %d: fd %d: TCP_REPAIR_WINDOW", s->pid, s->fd);
	e->has_snd_wl1 = e->has_snd_wnd = e->has_max_window = e->has_rcv_wnd = e->has_rcv_wup = true;
	e->snd_wl1 = w.snd_wl1;
	e->snd_wnd = w.snd_wnd;
	e->max_window = w.max_window;
	e->rcv_wnd = w.rcv_wnd;
	e->rcv_wup = w.rcv_wup;
	return 0;
}

/* What the handshake agreed on: MSS, window scales, SACK, timestamps. */
static int dump_conn_opts(const struct inet_ref *s, int sk, const struct tcp_info *ti, InetSkEntry *e)
{
	int r = get_int(s, sk, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", &e->mss_clamp);

	if (r == 0)
		r = get_int(s, sk, IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP", &e->timestamp);
	e->has_mss_clamp = e->has_timestamp = e->has_opt_mask = true;
	e->opt_mask = ti->tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	e->has_snd_wscale = e->has_rcv_wscale = true;
	e->snd_wscale = ti->tcpi_snd_wscale;
	e->rcv_wscale = ti->tcpi_rcv_wscale;
	return r;
}

/* A copy of the task's socket, refused when a peek offset is set (MSG_PEEK would move it). */
static int grab(const struct inet_ref *s)
{
	_cleanup_close_ int sk = pipes_grab_fd(s->pid, s->fd);
	socklen_t l = sizeof(int);
	int off = -1;

	if (sk < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, &l) == 0 && off >= 0)
		return pr_err("pid %d: fd %d: SO_PEEK_OFF on a TCP socket is not supported yet", s->pid,
			      s->fd),
		       -ENOTSUP;
	return TAKE_FD(sk);
}

static int add_repair(struct inetsk_repair *rep, int sk, bool reuseaddr)
{
	int *nv = realloc(rep->fds, (rep->n + 1) * sizeof(*nv));
	bool *nr = nv ? realloc(rep->reuseaddr, (rep->n + 1) * sizeof(*nr)) : NULL;

	if (nv)
		rep->fds = nv;
	if (!nr)
		return -ENOMEM;
	rep->reuseaddr = nr;
	rep->fds[rep->n] = sk;
	rep->reuseaddr[rep->n++] = reuseaddr;
	return 0;
}

/* One socket of the tree while it is dumped. */
struct inet_sk {
	struct inet_ref ref;
	int sk; /* our copy; an established one's is in the repair set too */
	bool owned;
	uint32_t unsent; /* SIOCOUTQNSD once in repair mode, before any queue was selected */
	struct tcp_info ti;
	struct inet_rec rec;
};

static int repair_on(struct inet_sk *k, struct inetsk_repair *rep)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP, r;

	if (setsockopt(k->sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return pr_perror("pid %d: fd %d: TCP_REPAIR (needs CAP_NET_ADMIN)", k->ref.pid, k->ref.fd);
	r = add_repair(rep, k->sk, k->rec.e.reuseaddr);
	if (r < 0) {
		setsockopt(k->sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
		return r;
	}
	k->owned = false; /* rep closes it */
	return 0;
}

/* What does not move with packets: state, names, options; established ones go to repair mode. */
static int dump_static(struct inet_sk *k, struct inetsk_repair *rep)
{
	const struct inet_ref *s = &k->ref;
	InetSkEntry *e = &k->rec.e;
	socklen_t l = sizeof(k->ti);
	int r;

	inet_sk_entry__init(e);
	e->id = s->id;
	e->family = (uint32_t)s->family;
	k->sk = grab(s);
	if (k->sk < 0)
		return k->sk;
	k->owned = true;
	if (getsockopt(k->sk, IPPROTO_TCP, TCP_INFO, &k->ti, &l) < 0)
		return pr_perror("pid %d: fd %d: TCP_INFO", s->pid, s->fd);
	e->state = k->ti.tcpi_state;
	if (e->state != TCP_ESTABLISHED && e->state != TCP_LISTEN && e->state != TCP_CLOSE)
		return pr_err("pid %d: fd %d: TCP socket in state %u: not supported", s->pid, s->fd,
			      e->state),
		       -ENOTSUP;
	e->has_flags = true;
	e->flags = s->flags;
	e->has_backlog = e->state == TCP_LISTEN;
	e->backlog = k->ti.tcpi_sacked; /* a listener's sk_max_ack_backlog (tcp_get_info()) */
	r = dump_names(s, k->sk, &k->rec);
	if (r == 0)
		r = dump_options(s, k->sk, e);
	if (r < 0 || e->state != TCP_ESTABLISHED)
		return r;
	r = repair_on(k, rep);
	/*
	 * The bytes never sent, read before the send queue is first selected: while it is,
	 * anything that makes the kernel push (an ACK coming in) marks the whole queue sent
	 * without sending it (tcp_write_xmit()), and a restore would then wait for the
	 * retransmit timer to send it. Counting sent bytes as unsent is harmless: they go out
	 * again with the same sequence numbers, and the peer drops what it has.
	 */
	return r < 0 ? r : queue_len(s, k->sk, SIOCOUTQNSD, "SIOCOUTQNSD", &k->unsent);
}

static int dump_established(struct inet_sk *k)
{
	int r = dump_conn_opts(&k->ref, k->sk, &k->ti, &k->rec.e);

	if (r == 0)
		r = dump_window(&k->ref, k->sk, &k->rec.e);
	return r < 0 ? r : dump_queues(&k->ref, k->sk, k->unsent, &k->rec);
}

/* Segments in and out of every established socket: what any packet moves. */
static int packet_counts(struct inet_sk *v, size_t n, uint64_t *ret)
{
	for (size_t i = 0; i < n; i++) {
		struct tcp_info_counts ti = {};
		socklen_t l = sizeof(ti);

		if (v[i].rec.e.state != TCP_ESTABLISHED)
			continue;
		if (getsockopt(v[i].sk, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
			return pr_perror("pid %d: fd %d: TCP_INFO", v[i].ref.pid, v[i].ref.fd);
		if (l < offsetof(struct tcp_info_counts, segs_in) + sizeof(ti.segs_in))
			return pr_err("TCP_INFO has no packet counters (Linux 4.2)"), -ENOTSUP;
		ret[i] = (uint64_t)ti.segs_in << 32 | ti.segs_out;
	}
	return 0;
}

static void drop_queues(struct inet_sk *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rec.sndq);
		free(v[i].rec.rcvq);
		v[i].rec.sndq = v[i].rec.rcvq = NULL;
	}
}

/*
 * The established sockets are read in passes until one sees no packet come in or go out
 * of any of them from its start to its end. Frozen tasks send nothing, but their kernel
 * still does (delayed ACKs, window probes, pacing): a connection whose two ends are both in
 * the tree must be read as of one instant, or data the receiver got (and acknowledged)
 * after its queue was read would be gone from both.
 */
static int consistent_pass(struct inet_sk *v, size_t n)
{
	_cleanup_free_ uint64_t *before = calloc(n, sizeof(uint64_t)), *after = calloc(n, sizeof(uint64_t));
	int r = before && after ? 0 : -ENOMEM;

	for (int tries = 0; tries < 100 && r == 0; tries++) {
		r = packet_counts(v, n, before);
		for (size_t i = 0; i < n && r == 0; i++)
			if (v[i].rec.e.state == TCP_ESTABLISHED)
				r = dump_established(&v[i]);
		if (r == 0)
			r = packet_counts(v, n, after);
		if (r < 0 || !memcmp(before, after, n * sizeof(uint64_t)))
			return r;
		drop_queues(v, n);
		usleep(1000 * (useconds_t)(tries + 1));
	}
	return r < 0 ? r
		     : (pr_err("TCP connections of the tree keep moving while it is frozen: no consistent "
			       "state to dump"),
			-EAGAIN);
}

static int sk_kind(const struct inet_ref *s, int *family, int *type, int *proto)
{
	_cleanup_close_ int sk = pipes_grab_fd(s->pid, s->fd);
	socklen_t l1 = sizeof(int), l2 = sizeof(int), l3 = sizeof(int);

	if (sk < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, family, &l1) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_TYPE, type, &l2) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, proto, &l3) < 0)
		return pr_perror("pid %d: fd %d: asking its socket family", s->pid, s->fd);
	return 0;
}

/* Socket ino is an IPv4/IPv6 one: every fd of it becomes FD_INET. */
static void mark_inet(struct fd_list *fds, size_t n_tasks, uint64_t ino)
{
	for (size_t i = 0; i < n_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_UNIX && fds[i].v[k]->sk_id == ino)
				fds[i].v[k]->kind = FD_KIND__FD_INET;
}

/* Socket fd k of task i, when it is an inet one: appended to v. */
static int note_inet(const struct pstree *t, struct fd_list *fds, size_t i, size_t k, struct inet_ref **v,
		     size_t *n)
{
	const FdEntry *fe = fds[i].v[k];
	struct inet_ref s = {.id = fe->sk_id, .pid = t->tasks[i]->pid, .fd = (int)fe->fd, .flags = fe->flags},
			*nv;
	int type = 0, proto = 0, r;

	if (fe->kind != FD_KIND__FD_UNIX)
		return 0; /* not a socket, or a socket seen already */
	r = sk_kind(&s, &s.family, &type, &proto);
	if (r < 0 || (s.family != AF_INET && s.family != AF_INET6))
		return r;
	/* fdcheck.c refused the others already; the tree has not moved since */
	if (type != SOCK_STREAM || proto != IPPROTO_TCP)
		return pr_err("pid %d: fd %d: IP socket of type %d protocol %d: not supported", s.pid, s.fd,
			      type, proto),
		       -ENOTSUP;
	mark_inet(fds, t->nr_tasks, s.id);
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = s;
	return 0;
}

static int write_image(int dirfd, struct inet_sk *v, size_t n)
{
	struct img *img = NULL;
	int r = img_create(dirfd, "inetsk.img", IMG_INETSK, &img);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = img_write_msg(img, &v[i].rec.e.base);
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

int inetsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds, struct inetsk_repair *rep)
{
	_cleanup_free_ struct inet_ref *refs = NULL;
	struct inet_sk *v = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < t->nr_tasks && r == 0; i++)
		for (size_t k = 0; k < fds[i].n && r == 0; k++)
			r = note_inet(t, fds, i, k, &refs, &n);
	if (r < 0 || !n)
		return r;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct inet_sk){.ref = refs[i], .sk = -EBADF};
	for (size_t i = 0; i < n && r == 0; i++)
		r = dump_static(&v[i], rep);
	if (r == 0)
		r = consistent_pass(v, n);
	if (r == 0)
		r = write_image(dirfd, v, n);
	drop_queues(v, n);
	for (size_t i = 0; i < n; i++)
		if (v[i].owned)
			close(v[i].sk);
	free(v);
	return r;
}

int inetsk_release(struct inetsk_repair *rep, bool keep_repair)
{
	int off = TCP_REPAIR_OFF_NO_WP, r = 0;

	for (size_t i = 0; i < rep->n; i++) {
		int reuse = rep->reuseaddr[i];

		if (!keep_repair && setsockopt(rep->fds[i], IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0 &&
		    r == 0)
			r = pr_perror("a TCP socket of the tree: leaving repair mode");
		/* leaving repair mode sets sk_reuse to SK_NO_REUSE (do_tcp_setsockopt()) */
		if (!keep_repair &&
		    setsockopt(rep->fds[i], SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0 && r == 0)
			r = pr_perror("a TCP socket of the tree: SO_REUSEADDR");
		close(rep->fds[i]);
	}
	free(rep->fds);
	free(rep->reuseaddr);
	rep->fds = NULL;
	rep->reuseaddr = NULL;
	rep->n = 0;
	return r;
}
