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
#include "log.h"
#include "rpc.h"
#include "server.h"

struct conn {
	int fd;
	struct peer peer;
};

enum { TAG_LISTEN = 1, TAG_SIGNAL = 2 };

static int epfd = -EBADF;
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

	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	peer_free(&c->peer);
	free(c);
	atomic_fetch_sub(&nr_conns, 1);
}

void conn_release(struct conn *c, bool keep)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};

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
	struct conn *c;

	if (atomic_load(&nr_conns) >= atomic_load(&max_conns)) {
		pr_debug("too many clients (%u): closing a new one", atomic_load(&max_conns));
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->fd = cfd;
	if (peer_from_socket(cfd, &c->peer) < 0) {
		close(cfd);
		free(c);
		return;
	}
	atomic_fetch_add(&nr_conns, 1);
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev) < 0) {
		pr_perror("epoll_ctl");
		conn_close(c);
	}
}

static void accept_all(int lfd)
{
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd >= 0) {
			accept_one(cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
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
	return r;
}

int server_run(int listen_fd, const struct server_hooks *hooks)
{
	struct epoll_event evs[64];
	_cleanup_close_ int sfd = -EBADF;
	int r = setup(listen_fd, &sfd);

	while (r == 0) {
		int n = epoll_wait(epfd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pr_perror("epoll_wait");
		for (int i = 0; i < n && r == 0; i++) {
			if (evs[i].data.u64 == TAG_LISTEN)
				accept_all(listen_fd);
			else if (evs[i].data.u64 == TAG_SIGNAL)
				r = on_signal(sfd, hooks);
			else
				on_client(evs[i].data.ptr, evs[i].events);
		}
	}
	return r < 0 ? r : 0;
}
