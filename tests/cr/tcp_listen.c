/* SPDX-License-Identifier: MIT */
/*
 * Listening TCP sockets inside the tree (dump and restore with --tcp-established): the
 * parent listens on 127.0.0.1 (backlog 5) and on ::1 (IPV6_V6ONLY, SO_REUSEADDR off), and
 * holds a socket it made and never bound or connected. Before READY the child connects over
 * IPv6, the parent accepts (and sets SO_LINGER 5 s), and "hello" waits unread at the
 * parent's end; the child keeps its end open.
 *
 * After SIGTERM (to the parent, which forwards it) the parent reads "hello" on the accepted
 * connection; the child connects anew to both listeners, which accept at the same ports
 * (the addresses were kept), and each new connection carries one message each way. The
 * unconnected socket still connects. Every socket is closed with SO_LINGER 0 (no TIME_WAIT).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "crtest.h"

static const char *me = "parent";

static void hard_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int expect(int fd, const char *want)
{
	size_t len = strlen(want), got = 0;
	char buf[64];

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			return cr_say("note: %s: nothing to read after %zu bytes of '%s'", me, got, want), 1;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return cr_say("note: %s: read returned %zd (%s)", me, n, strerror(errno)), 1;
		got += (size_t)n;
	}
	if (memcmp(buf, want, len))
		return cr_say("note: %s: got '%.*s', want '%s'", me, (int)got, buf, want), 1;
	return 0;
}

static int say(int fd, const char *msg)
{
	if (cr_write_all(fd, msg, strlen(msg)) < 0)
		return cr_say("note: %s: write '%s': %s", me, msg, strerror(errno)), 1;
	return 0;
}

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_addr = in6addr_loopback;
	return sizeof(*a6);
}

static int listen_on(int family, int reuse, struct sockaddr_storage *ss, socklen_t *len)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	*len = loopback(family, ss);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0 ||
	    (family == AF_INET6 && setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(l, (struct sockaddr *)ss, *len) < 0 || listen(l, 5) < 0 ||
	    getsockname(l, (struct sockaddr *)ss, len) < 0)
		cr_die("listen");
	return l;
}

static int dial(int family, const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)ss, len) < 0) {
		cr_say("note: %s: connect: %s", me, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct addrs {
	struct sockaddr_storage a4, a6;
	socklen_t l4, l6;
};

static void __attribute__((noreturn)) child_main(const struct addrs *a)
{
	int old, c4, c6, bad = 0;

	me = "child";
	old = dial(AF_INET6, &a->a6, a->l6);
	if (old < 0 || say(old, "hello"))
		_exit(1);
	cr_wait_sigterm();
	c4 = dial(AF_INET, &a->a4, a->l4);
	c6 = dial(AF_INET6, &a->a6, a->l6);
	if (c4 < 0 || c6 < 0)
		_exit(1);
	bad |= say(c4, "new4") | say(c6, "new6");
	bad |= expect(c4, "ok4") | expect(c6, "ok6") | expect(old, "bye");
	hard_close(c4);
	hard_close(c6);
	hard_close(old);
	_exit(bad);
}

static int accept_one(int l, const char *what, const char *want, const char *reply)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	int fd, bad;

	if (poll(&p, 1, 10000) <= 0)
		return cr_say("note: parent: no connection on the %s listener", what), 1;
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return cr_say("note: parent: accept on the %s listener: %s", what, strerror(errno)), 1;
	bad = expect(fd, want) | say(fd, reply);
	hard_close(fd);
	return bad;
}

/* The never-connected socket still works: it connects to the IPv4 listener. */
static int check_unbound(int fd, int l4, const struct addrs *a)
{
	int bad;

	if (connect(fd, (const struct sockaddr *)&a->a4, a->l4) < 0)
		return cr_say("note: parent: the unconnected socket: connect: %s", strerror(errno)), 1;
	bad = say(fd, "new4") | accept_one(l4, "IPv4 (from the parent)", "new4", "ok4");
	bad |= expect(fd, "ok4");
	hard_close(fd);
	return bad;
}

int main(void)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 5};
	socklen_t lgl = sizeof(lg);
	struct addrs a;
	int l4, l6, acc, idle, bad = 0, status;
	pid_t child, r;

	cr_init();
	l4 = listen_on(AF_INET, 1, &a.a4, &a.l4);
	l6 = listen_on(AF_INET6, 0, &a.a6, &a.l6);
	idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (idle < 0)
		cr_die("socket");
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		close(l4);
		close(l6);
		close(idle);
		child_main(&a);
	}
	acc = accept4(l6, NULL, NULL, SOCK_CLOEXEC);
	if (acc < 0 || setsockopt(acc, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		cr_die("accept");
	usleep(100000); /* "hello" is queued at acc */
	cr_ready();
	cr_wait_sigterm();
	bad |= expect(acc, "hello");
	lg = (struct linger){0, 0};
	if (getsockopt(acc, SOL_SOCKET, SO_LINGER, &lg, &lgl) < 0 || !lg.l_onoff || lg.l_linger != 5)
		bad = 1, cr_say("note: parent: lost SO_LINGER 5 s");
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	bad |= accept_one(l4, "IPv4", "new4", "ok4");
	bad |= accept_one(l6, "IPv6", "new6", "ok6");
	bad |= say(acc, "bye");
	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != child)
		cr_fail("waitpid child: %s", strerror(errno));
	bad |= check_unbound(idle, l4, &a);
	hard_close(acc);
	close(l4);
	close(l6);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("child ended with status %#x", status);
	if (bad)
		cr_fail("see the notes above");
	cr_pass();
}
