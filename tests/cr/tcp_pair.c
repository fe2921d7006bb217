/* SPDX-License-Identifier: MIT */
/*
 * An established loopback TCP connection whose two ends a parent and its child hold
 * (dump and restore with --tcp-established). "tcp_pair" uses 127.0.0.1, "tcp_pair 6" ::1.
 *
 * Before READY each side writes, without blocking, as much of its stream (TOTAL bytes of a
 * pattern that depends on the direction and the offset) as the connection takes, and reads
 * nothing: each receive queue is full, each send queue holds bytes sent and not yet
 * acknowledged or never sent. The parent's end is also at a second fd (dup: one file), and
 * has TCP_NODELAY and SO_REUSEADDR (from its listener), the child's SO_KEEPALIVE with
 * TCP_KEEPIDLE 77.
 *
 * After SIGTERM (to the parent, which forwards it) each side sends the rest of its stream
 * while reading the other's: every byte must arrive once and in order. Then PINGS round
 * trips go each way, each side closes its end with SO_LINGER 0 (a reset: no TIME_WAIT keeps
 * the ports for a later restore of the same images), the child exits 0 or 1 and the parent
 * prints the verdict.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "crtest.h"

#define TOTAL	     (8u << 20)
#define PINGS	     100
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

static const char *me = "parent";

static uint8_t pattern(int dir, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)dir * 0xd1b54a32d192ed03ull;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

struct stream {
	int fd;
	int dir_out, dir_in;
	uint64_t sent, got;
};

/* Write what the socket takes now; -1 on error. */
static int push(struct stream *s)
{
	uint8_t buf[65536];

	while (s->sent < TOTAL) {
		size_t n = MIN_SZ(sizeof(buf), TOTAL - s->sent);
		ssize_t k;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(s->dir_out, s->sent + i);
		k = send(s->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (k < 0) {
			cr_say("note: %s: send at %llu: %s", me, (unsigned long long)s->sent,
			       strerror(errno));
			return -1;
		}
		s->sent += (uint64_t)k;
	}
	return 0;
}

/* Read and check what is there; -1 on error or a wrong byte. */
static int pull(struct stream *s)
{
	uint8_t buf[65536];

	while (s->got < TOTAL) {
		/* never past the stream: the pings come next */
		ssize_t k = recv(s->fd, buf, MIN_SZ(sizeof(buf), TOTAL - s->got), MSG_DONTWAIT);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (k <= 0) {
			cr_say("note: %s: recv at %llu: %zd (%s)", me, (unsigned long long)s->got, k,
			       k ? strerror(errno) : "end of stream");
			return -1;
		}
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] != pattern(s->dir_in, s->got + (uint64_t)i)) {
				cr_say("note: %s: byte %llu is %u, want %u", me,
				       (unsigned long long)(s->got + i), buf[i],
				       pattern(s->dir_in, s->got + (uint64_t)i));
				return -1;
			}
		s->got += (uint64_t)k;
	}
	return 0;
}

/* Send the rest while reading the whole stream of the other side. */
static int exchange(struct stream *s)
{
	while (s->sent < TOTAL || s->got < TOTAL) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN | (s->sent < TOTAL ? POLLOUT : 0)};
		int n = poll(&p, 1, 20000);

		if (n <= 0) {
			cr_say("note: %s: stalled: sent %llu, got %llu of %u", me,
			       (unsigned long long)s->sent, (unsigned long long)s->got, TOTAL);
			return 1;
		}
		if (push(s) < 0 || pull(s) < 0)
			return 1;
	}
	return 0;
}

static int read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, 20000) <= 0)
			return -1;
		k = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* PINGS round trips, started by the side with first set. */
static int ping_pong(int fd, bool first)
{
	for (uint32_t i = 0; i < PINGS; i++) {
		uint32_t v = 0;

		if (first && cr_write_all(fd, &i, sizeof(i)) < 0)
			return cr_say("note: %s: ping %u: %s", me, i, strerror(errno)), 1;
		if (read_exact(fd, &v, sizeof(v)) < 0 || v != i)
			return cr_say("note: %s: ping %u: got %u", me, i, v), 1;
		if (!first && cr_write_all(fd, &i, sizeof(i)) < 0)
			return cr_say("note: %s: pong %u: %s", me, i, strerror(errno)), 1;
	}
	return 0;
}

static int get_opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, name, &v, &l);
	return v;
}

static void hard_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int check_opts(int fd, bool parent)
{
	int bad = 0;

	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK))
		bad = 1, cr_say("note: %s: lost O_NONBLOCK", me);
	if (parent && get_opt(fd, IPPROTO_TCP, TCP_NODELAY) != 1)
		bad = 1, cr_say("note: %s: lost TCP_NODELAY", me);
	/* accepted from a listener with SO_REUSEADDR: leaving repair mode clears it */
	if (parent && get_opt(fd, SOL_SOCKET, SO_REUSEADDR) != 1)
		bad = 1, cr_say("note: %s: lost SO_REUSEADDR", me);
	if (!parent &&
	    (get_opt(fd, SOL_SOCKET, SO_KEEPALIVE) != 1 || get_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) != 77))
		bad = 1, cr_say("note: %s: lost SO_KEEPALIVE or TCP_KEEPIDLE", me);
	return bad;
}

static void __attribute__((noreturn))
child_main(int family, const struct sockaddr_storage *srv, socklen_t len)
{
	struct stream s = {.dir_out = 2, .dir_in = 1};
	int one = 1, idle = 77, bad = 0;

	me = "child";
	s.fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s.fd < 0 || connect(s.fd, (const struct sockaddr *)srv, len) < 0)
		cr_die("child: connect");
	if (setsockopt(s.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(s.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    fcntl(s.fd, F_SETFL, O_NONBLOCK) < 0)
		cr_die("child: options");
	if (push(&s) < 0)
		_exit(1);
	cr_wait_sigterm();
	bad |= check_opts(s.fd, false);
	bad |= exchange(&s);
	bad |= bad ? 0 : ping_pong(s.fd, false);
	hard_close(s.fd);
	_exit(bad);
}

static int listen_any(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)ss, *len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)ss, len) < 0)
		cr_die("listen");
	return l;
}

int main(int argc, char **argv)
{
	int family = argc > 1 && !strcmp(argv[1], "6") ? AF_INET6 : AF_INET, l, dup_fd, bad = 0, status,
	    one = 1;
	struct stream s = {.dir_out = 1, .dir_in = 2};
	struct sockaddr_storage ss;
	struct stat a, b;
	socklen_t len;
	pid_t child, r;

	cr_init();
	l = listen_any(family, &ss, &len);
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		close(l);
		child_main(family, &ss, len);
	}
	s.fd = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s.fd < 0)
		cr_die("accept");
	close(l);
	if (setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		cr_die("TCP_NODELAY");
	dup_fd = fcntl(s.fd, F_DUPFD_CLOEXEC, 20);
	if (dup_fd < 0 || push(&s) < 0)
		cr_die("setup");
	usleep(200000); /* both sides have written what they could */
	cr_ready();
	cr_wait_sigterm();
	if (fstat(s.fd, &a) < 0 || fstat(dup_fd, &b) < 0 || a.st_ino != b.st_ino)
		bad = 1, cr_say("note: parent: fd %d and its dup %d are no longer one socket", s.fd, dup_fd);
	bad |= check_opts(dup_fd, true);
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	bad |= exchange(&s);
	bad |= bad ? 0 : ping_pong(s.fd, true);
	close(dup_fd);
	hard_close(s.fd);
	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != child)
		cr_fail("waitpid child: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("child ended with status %#x", status);
	if (bad)
		cr_fail("see the notes above");
	cr_pass();
}
