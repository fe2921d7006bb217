/* SPDX-License-Identifier: MIT */
/*
 * Unix sockets bound to paths in WORKDIR:
 *
 *   listen.sock  a stream listener (mode 0640) with two connections still on its queue
 *                (clients p1, p2, in that order), and two it accepted: a <-> sa with bytes
 *                queued both ways, b <-> sb where b did shutdown(SHUT_WR);
 *   dgram.sock   a datagram socket with three datagrams queued, sent to it by an unbound
 *                socket that is closed since.
 *
 * The listener and the dgram socket are held by a child, the rest by the parent: they are
 * made by the parent and inherited. After SIGTERM (forwarded to the child, which checks its
 * part) each socket must hold what it held, names and queues included.
 *
 * Usage: unix_bound WORKDIR
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include "unixtest.h"

static char lpath[4096], dpath[4096];
static int lfd, dfd, p[2], a, sa, b, sb;
static pid_t child;

static void setup(void)
{
	int x;

	lfd = ut_bound(SOCK_STREAM, lpath);
	if (chmod(lpath, 0640) < 0 || listen(lfd, 8) < 0)
		cr_die("listen");
	a = ut_socket(SOCK_STREAM);
	ut_connect(a, lpath);
	sa = accept(lfd, NULL, NULL);
	b = ut_socket(SOCK_STREAM);
	ut_connect(b, lpath);
	sb = accept(lfd, NULL, NULL);
	if (sa < 0 || sb < 0 || shutdown(b, SHUT_WR) < 0)
		cr_die("accept");
	for (int i = 0; i < 2; i++) {
		p[i] = ut_socket(SOCK_STREAM);
		ut_connect(p[i], lpath);
	}
	ut_send(a, "to the server", NULL);
	ut_send(sa, "to the client", NULL);
	dfd = ut_bound(SOCK_DGRAM, dpath);
	x = ut_socket(SOCK_DGRAM);
	ut_send(x, "one", dpath);
	ut_send(x, "two two", dpath);
	ut_send(x, "three", dpath);
	close(x);
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		/* the child keeps the listener and the dgram socket */
		close(a), close(sa), close(b), close(sb);
		cr_wait_sigterm();
		int bad = ut_pending(lfd, p, 2, "listen.sock") | ut_name_is(lfd, false, "listener", lpath);

		bad |= ut_expect(dfd, "dgram.sock", "one") | ut_expect(dfd, "dgram.sock", "two two");
		bad |= ut_expect(dfd, "dgram.sock", "three") | ut_empty(dfd, "dgram.sock");
		bad |= ut_name_is(dfd, false, "dgram.sock", dpath);
		_exit(bad);
	}
	close(lfd);
	close(dfd);
}

static void verify(void)
{
	int bad = 0, status;
	struct stat st;

	kill(child, SIGTERM);
	bad |= ut_expect(sa, "accepted a", "to the server") | ut_expect(a, "client a", "to the client");
	bad |= ut_empty(sa, "accepted a") | ut_empty(a, "client a");
	bad |= ut_name_is(sa, false, "accepted a", lpath) | ut_name_is(a, true, "client a", lpath);
	bad |= ut_name_is(a, false, "client a", "");
	if (recv(sb, &status, sizeof(status), MSG_DONTWAIT) != 0) {
		cr_say("note: accepted b: no end of file after the peer's SHUT_WR");
		bad = 1;
	}
	if (send(b, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 || errno != EPIPE) {
		cr_say("note: client b: can send after SHUT_WR");
		bad = 1;
	}
	ut_send(sb, "still open", NULL);
	bad |= ut_expect(b, "client b", "still open");
	if (stat(lpath, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640) {
		cr_say("note: listen.sock: not a socket of mode 0640");
		bad = 1;
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("the child's sockets changed (status %#x)", status);
	if (bad)
		cr_fail("the sockets changed");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		cr_fail("setup: usage: unix_bound WORKDIR");
	snprintf(lpath, sizeof(lpath), "%s/listen.sock", argv[1]);
	snprintf(dpath, sizeof(dpath), "%s/dgram.sock", argv[1]);
	return cr_run(setup, verify);
}
