/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "ckptd.h"
#include "conn.h"
#include "log.h"
#include "mauth.h"
#include "rpc.h"
#include "server.h"
#include "tcp.h"

/* epoll tags of the fds that are not clients (whose tag is their struct conn). */
enum { TAG_LISTEN = 1, TAG_SIGNAL = 2, TAG_TCP = 3, TAG_MAUTH = 4 };

static int epfd = -EBADF;
static int tcp_fd = -EBADF; /* the TCP listener, when tcp_listen is set */
static char *munge_socket;
static atomic_uint nr_conns;
static atomic_uint max_conns = 1024;
static uint8_t *rx_buf; /* the event loop's only: requests are read by one thread */

const struct peer *conn_peer(const struct conn *c)
{
	return &c->peer;
}

int conn_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->tcp)
		return tcp_send(c, buf, len);
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

struct conn *conn_new(int fd)
{
	struct conn *c;

	if (atomic_load(&nr_conns) >= atomic_load(&max_conns)) {
		pr_debug("too many clients (%u): closing a new one", atomic_load(&max_conns));
		close(fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	atomic_fetch_add(&nr_conns, 1);
	return c;
}

void conn_close(struct conn *c)
{
	/* Explicitly: a forked child may still hold the fd, and with it the registration. */
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->tcp)
		tcp_forget(c);
	close(c->fd);
	peer_free(&c->peer);
	free(c);
	atomic_fetch_sub(&nr_conns, 1);
}

void conn_release(struct conn *c, bool keep)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};

	if (c->tcp) {
		if (!tcp_release(c, keep))
			conn_close(c);
		return;
	}
	if (keep && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		return;
	conn_close(c);
}

void server_set_max_clients(uint32_t n)
{
	atomic_store(&max_conns, n);
}

static int sun_of(const char *path, struct sockaddr_un *sun)
{
	*sun = (struct sockaddr_un){.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun->sun_path))
		return pr_err("socket path '%s' is too long", path), -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

/* A socket file left by a daemon that died is removed; one that answers is another daemon's. */
static int remove_stale(const struct sockaddr_un *sun)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct stat st;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : pr_perror("stat of '%s'", sun->sun_path);
	if (!S_ISSOCK(st.st_mode))
		return pr_err("'%s' exists and is not a socket", sun->sun_path), -EEXIST;
	if (fd < 0)
		return pr_perror("socket");
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		return pr_err("another ckptd listens on '%s'", sun->sun_path), -EADDRINUSE;
	if (unlink(sun->sun_path) < 0)
		return pr_perror("removing stale socket '%s'", sun->sun_path);
	return 0;
}

int server_listen(const char *path, uint32_t mode, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sun;
	mode_t old;
	int r;

	r = sun_of(path, &sun);
	if (r == 0)
		r = remove_stale(&sun);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pr_perror("socket");
	/* Bound owner-only, then opened up: nobody connects before the mode is the configured one. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0)
		return pr_perror("cannot bind '%s'", path);
	if (chmod(path, mode) < 0)
		return pr_perror("chmod of '%s'", path);
	if (listen(fd, SOMAXCONN) < 0)
		return pr_perror("listen on '%s'", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void accept_one(int cfd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT};
	struct conn *c = conn_new(cfd);

	if (!c)
		return;
	if (peer_from_socket(cfd, &c->peer) < 0) {
		conn_close(c);
		return;
	}
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev) < 0) {
		pr_perror("epoll_ctl");
		conn_close(c);
	}
}

/*
 * Out of fds (EMFILE, ENFILE), the pending client would wake epoll at once again, forever:
 * give up a spare fd to accept it, and close it, a clean refusal (the way libev and nginx do).
 * 0 when refused, -errno when even that failed.
 */
static int refuse_one(int lfd, int *spare)
{
	int cfd;

	if (*spare < 0)
		return pr_perror("accept: out of file descriptors, none spare");
	close(*spare);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd >= 0)
		close(cfd);
	else if (errno != EAGAIN) /* EAGAIN: the client gave up meanwhile */
		pr_perror("accept");
	*spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return -EMFILE;
	pr_warn("out of file descriptors (max_clients too high for RLIMIT_NOFILE?): refused a client");
	return 0;
}

/* The clients of lfd, the unix socket or (tcp) the TCP listener. */
static void accept_all(int lfd, bool tcp)
{
	static int spare = -EBADF;

	if (spare < 0)
		spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd >= 0) {
			if (tcp)
				tcp_accept_one(cfd);
			else
				accept_one(cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			if (refuse_one(lfd, &spare) == 0)
				continue;
			return;
		}
		if (errno != EAGAIN)
			pr_perror("accept");
		return;
	}
}

/*
 * One request. On SOCK_SEQPACKET a read of 0 is either an empty packet or the end: the hang-up
 * flags tell which. MSG_TRUNC makes recv() return the packet's real length, so that an
 * oversized one is told apart from a request that just fits.
 */
static void on_client(struct conn *c, uint32_t events)
{
	ssize_t n;
	int r;

	if (c->tcp) {
		tcp_on_event(c, events);
		return;
	}
	do
		n = recv(c->fd, rx_buf, CKPTD_MAX_REQUEST, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		conn_release(c, !(events & (EPOLLHUP | EPOLLERR)));
		return;
	}
	if (n < 0 || (n == 0 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))) {
		conn_close(c);
		return;
	}
	r = rpc_handle(c, rx_buf, (size_t)n);
	if (r != RPC_PENDING)
		conn_release(c, r == RPC_KEEP);
}

/* 1 to stop serving, 0 to go on. */
static int on_signal(int sfd, const struct server_hooks *hooks)
{
	struct signalfd_siginfo si;
	ssize_t n = read(sfd, &si, sizeof(si));

	if (n != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		pr_info("SIGHUP: reloading the configuration");
		if (hooks->reload)
			hooks->reload();
		return 0;
	}
	pr_info("signal %u: stopping; running jobs finish first", si.ssi_signo);
	return 1;
}

static int add_fd(int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return pr_perror("epoll_ctl");
	return 0;
}

static int setup_tcp(void)
{
	int efd = -EBADF;
	int r = tcp_start(epfd, munge_socket, &efd);

	if (r == 0)
		r = add_fd(efd, TAG_MAUTH);
	if (r == 0)
		r = add_fd(tcp_fd, TAG_TCP);
	return r;
}

int server_listen_tcp(const char *hostport, const char *munge_sock, uint32_t timeout_ms)
{
	tcp_set_timeout(timeout_ms);
	munge_socket = strdup(munge_sock);
	if (!munge_socket)
		return -ENOMEM;
	return tcp_listen(hostport, &tcp_fd);
}

void server_set_tcp_timeout(uint32_t ms)
{
	tcp_set_timeout(ms);
}

static int setup(int listen_fd, int *ret_sfd)
{
	sigset_t set;
	int r;

	rx_buf = malloc(CKPTD_MAX_REQUEST);
	if (!rx_buf)
		return -ENOMEM;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return pr_perror("epoll_create1");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	*ret_sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*ret_sfd < 0)
		return pr_perror("signalfd");
	r = add_fd(listen_fd, TAG_LISTEN);
	if (r == 0)
		r = add_fd(*ret_sfd, TAG_SIGNAL);
	if (r == 0 && tcp_fd >= 0)
		r = setup_tcp();
	return r;
}

int server_run(int listen_fd, const struct server_hooks *hooks)
{
	struct epoll_event evs[64];
	_cleanup_close_ int sfd = -EBADF;
	int r = setup(listen_fd, &sfd);

	while (r == 0) {
		int n = epoll_wait(epfd, evs, (int)ARRAY_SIZE(evs), tcp_fd >= 0 ? tcp_expire() : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pr_perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n && r == 0; i++) {
			if (evs[i].data.u64 == TAG_LISTEN)
				accept_all(listen_fd, false);
			else if (evs[i].data.u64 == TAG_TCP)
				accept_all(tcp_fd, true);
			else if (evs[i].data.u64 == TAG_MAUTH)
				mauth_drain();
			else if (evs[i].data.u64 == TAG_SIGNAL)
				r = on_signal(sfd, hooks);
			else
				on_client(evs[i].data.ptr, evs[i].events);
		}
	}
	if (tcp_fd >= 0) {
		tcp_stop();
		close(tcp_fd);
		tcp_fd = -EBADF;
	}
	return r < 0 ? r : 0;
}
