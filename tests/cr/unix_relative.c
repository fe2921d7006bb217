/* SPDX-License-Identifier: MIT */
/*
 * Unix sockets bound to relative paths (unix(7): the name is what bind(2) was given, resolved
 * from the cwd), from WORKDIR, the task's cwd:
 *
 *   rel.sock        a stream listener, with one client connected and accepted (c <-> s) and
 *                   "hello" queued at s;
 *   rel-dgram.sock  a datagram socket with two datagrams queued, sent by an unbound socket
 *                   closed since.
 *
 * After SIGTERM the names must still be the relative ones, the files in WORKDIR sockets, the
 * queues as they were, and a new client must connect to "rel.sock" and be accepted.
 *
 * Usage: unix_relative WORKDIR
 */
#include <sys/stat.h>
#include "unixtest.h"

static int lfd, dfd, c, s;

static void setup(void)
{
	int x;

	lfd = ut_bound(SOCK_STREAM, "rel.sock");
	if (listen(lfd, 4) < 0)
		cr_die("listen");
	c = ut_socket(SOCK_STREAM);
	ut_connect(c, "rel.sock");
	s = accept(lfd, NULL, NULL);
	if (s < 0)
		cr_die("accept");
	ut_send(c, "hello", NULL);
	dfd = ut_bound(SOCK_DGRAM, "rel-dgram.sock");
	x = ut_socket(SOCK_DGRAM);
	ut_send(x, "first", "rel-dgram.sock");
	ut_send(x, "second", "rel-dgram.sock");
	close(x);
}

static int is_socket_file(const char *name)
{
	struct stat st;

	if (stat(name, &st) == 0 && S_ISSOCK(st.st_mode))
		return 0;
	cr_say("note: %s: not a socket file in the cwd", name);
	return 1;
}

static void verify(void)
{
	int bad = 0, n, a;

	bad |= ut_name_is(lfd, false, "listener", "rel.sock") | ut_name_is(c, true, "client", "rel.sock");
	bad |= ut_name_is(s, false, "accepted", "rel.sock");
	bad |= ut_expect(s, "accepted", "hello") | ut_empty(s, "accepted");
	bad |= ut_name_is(dfd, false, "dgram", "rel-dgram.sock");
	bad |= ut_expect(dfd, "dgram", "first") | ut_expect(dfd, "dgram", "second") | ut_empty(dfd, "dgram");
	bad |= is_socket_file("rel.sock") | is_socket_file("rel-dgram.sock");
	n = ut_socket(SOCK_STREAM);
	ut_connect(n, "rel.sock");
	a = accept(lfd, NULL, NULL);
	if (a < 0) {
		cr_say("note: no new connection to accept");
		bad = 1;
	} else {
		ut_send(n, "new", NULL);
		bad |= ut_expect(a, "new connection", "new");
	}
	ut_send(dfd, "to myself", "rel-dgram.sock");
	bad |= ut_expect(dfd, "dgram", "to myself");
	if (bad)
		cr_fail("the sockets bound to relative paths changed");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		cr_fail("setup: usage: unix_relative WORKDIR");
	if (chdir(argv[1]) < 0)
		cr_die("chdir %s", argv[1]);
	return cr_run(setup, verify);
}
