/* SPDX-License-Identifier: MIT */
/*
 * Unix socketpairs shared by a parent and its child:
 *
 *   stream  parent end (O_NONBLOCK) <-> child end; "ping" sent by the parent and "pong" sent
 *           by the child are both still queued, unread, at READY;
 *   seqpacket  parent end <-> child end, nothing queued.
 *
 * After SIGTERM (to the parent, which forwards it) each side reads its pending message exactly
 * once, checks nothing else is queued, then one more message goes each way on both pairs.
 * The child prints "note: ..." lines and exits 1 on a mismatch; the parent prints the verdict.
 *
 * "socketpair dgram": one process holding both ends of a datagram pair with one datagram
 * queued, which a dump refuses (tests/test_unix_refused.py); after SIGTERM it reads it.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include "crtest.h"

static const char *me = "parent";

static int queued(int fd)
{
	int n = -1;

	if (ioctl(fd, SIOCINQ, &n) < 0)
		return -1;
	return n;
}

/* Wait up to 10 s for fd to be readable, then read one message or len bytes of a stream. */
static int expect(int fd, const char *what, const char *want)
{
	size_t len = strlen(want), got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];

	while (got < len) {
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0) {
			cr_say("note: %s: %s: nothing to read after %zu of %zu bytes", me, what, got, len);
			return 1;
		}
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0) {
			cr_say("note: %s: %s: read returned %zd (%s)", me, what, n, strerror(errno));
			return 1;
		}
		got += (size_t)n;
	}
	if (got != len || memcmp(buf, want, len)) {
		cr_say("note: %s: %s: got '%.*s', want '%s'", me, what, (int)got, buf, want);
		return 1;
	}
	return 0;
}

static int check_empty(int fd, const char *what)
{
	int n = queued(fd);

	if (n != 0) {
		cr_say("note: %s: %s: %d bytes still queued", me, what, n);
		return 1;
	}
	return 0;
}

static int send_msg(int fd, const char *what, const char *msg)
{
	if (cr_write_all(fd, msg, strlen(msg)) < 0) {
		cr_say("note: %s: %s: write: %s", me, what, strerror(errno));
		return 1;
	}
	return 0;
}

static void __attribute__((noreturn)) child_main(int st, int sq)
{
	int bad = 0;

	me = "child";
	if (send_msg(st, "stream", "pong"))
		_exit(1);
	cr_wait_sigterm();
	bad |= expect(st, "stream pending", "ping");
	bad |= check_empty(st, "stream after ping");
	bad |= check_empty(sq, "seqpacket");
	bad |= send_msg(st, "stream", "more-c");
	bad |= expect(st, "stream second", "more-p");
	bad |= send_msg(sq, "seqpacket", "sq-c");
	bad |= expect(sq, "seqpacket", "sq-p");
	_exit(bad);
}

static void __attribute__((noreturn)) dgram_main(void)
{
	int sd[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sd) < 0)
		cr_die("socketpair");
	if (cr_write_all(sd[0], "queued", 6) < 0)
		cr_die("send");
	cr_ready();
	cr_wait_sigterm();
	if (expect(sd[1], "dgram", "queued") || check_empty(sd[1], "dgram"))
		cr_fail("see the notes above");
	cr_pass();
}

int main(int argc, char **argv)
{
	int st[2], sq[2], bad = 0, status;
	pid_t child, r;

	cr_init();
	if (argc > 1 && !strcmp(argv[1], "dgram"))
		dgram_main();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sq) < 0)
		cr_die("socketpair");
	if (cr_write_all(st[0], "ping", 4) < 0)
		cr_die("write ping");
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		close(st[0]);
		close(sq[0]);
		child_main(st[1], sq[1]);
	}
	close(st[1]);
	close(sq[1]);
	if (fcntl(st[0], F_SETFL, O_NONBLOCK) < 0)
		cr_die("O_NONBLOCK");
	/* "pong" is queued at our end, unread, before READY. */
	for (int i = 0; queued(st[0]) < 4; i++) {
		if (i > 10000)
			cr_fail("setup: no pong from the child");
		usleep(1000);
	}
	cr_ready();
	cr_wait_sigterm();
	if (!(fcntl(st[0], F_GETFL) & O_NONBLOCK))
		bad = 1, cr_say("note: parent: stream end lost O_NONBLOCK");
	bad |= expect(st[0], "stream pending", "pong");
	bad |= check_empty(st[0], "stream after pong");
	bad |= check_empty(sq[0], "seqpacket");
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	/* Answer only once the child has read its pending data: each read sees one message. */
	bad |= expect(st[0], "stream second", "more-c");
	bad |= send_msg(st[0], "stream", "more-p");
	bad |= expect(sq[0], "seqpacket", "sq-c");
	bad |= send_msg(sq[0], "seqpacket", "sq-p");
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
