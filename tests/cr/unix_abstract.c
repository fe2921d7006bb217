/* SPDX-License-Identifier: MIT */
/*
 * Unix sockets with abstract names (unix(7)), made unique with the pid:
 *
 *   @ckpt-PID-l  a stream listener: one accepted connection (bytes queued at the accepted
 *                end), one still pending;
 *   @ckpt-PID-d  a datagram socket with two datagrams queued, connected to @ckpt-PID-c,
 *                which is connected back to it and has one datagram from it queued;
 *   autobound    a datagram socket bound with an empty address: the kernel chose its name;
 *   a seqpacket socketpair with two records queued at one end, the other end shut down for
 *   writing.
 */
#include "unixtest.h"

static char lname[64], dname[64], cname[64], autoname[64];
static int lfd, acc, cli, pend, dfd, cfd, afd, sp[2];

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sa);
	int x;

	snprintf(lname, sizeof(lname), "@ckpt-%d-l", getpid());
	snprintf(dname, sizeof(dname), "@ckpt-%d-d", getpid());
	snprintf(cname, sizeof(cname), "@ckpt-%d-c", getpid());
	lfd = ut_bound(SOCK_STREAM, lname);
	if (listen(lfd, 4) < 0)
		cr_die("listen");
	cli = ut_socket(SOCK_STREAM);
	ut_connect(cli, lname);
	acc = accept(lfd, NULL, NULL);
	if (acc < 0)
		cr_die("accept");
	pend = ut_socket(SOCK_STREAM);
	ut_connect(pend, lname);
	ut_send(cli, "hello listener", NULL);
	dfd = ut_bound(SOCK_DGRAM, dname);
	x = ut_socket(SOCK_DGRAM);
	ut_send(x, "first", dname);
	ut_send(x, "second", dname);
	close(x);
	cfd = ut_bound(SOCK_DGRAM, cname);
	ut_connect(cfd, dname);
	ut_connect(dfd, cname);
	ut_send(dfd, "to c", NULL);
	afd = ut_socket(SOCK_DGRAM);
	if (bind(afd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
	    getsockname(afd, (struct sockaddr *)&sa, &len) < 0)
		cr_die("autobind");
	autoname[0] = '@';
	memcpy(autoname + 1, sa.sun_path + 1, len - offsetof(struct sockaddr_un, sun_path) - 1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0)
		cr_die("socketpair");
	ut_send(sp[0], "rec", NULL);
	ut_send(sp[0], "record two", NULL);
	if (shutdown(sp[0], SHUT_WR) < 0)
		cr_die("shutdown");
}

static void verify(void)
{
	int bad = ut_expect(acc, "accepted", "hello listener") | ut_empty(acc, "accepted");

	bad |= ut_name_is(acc, false, "accepted", lname) | ut_name_is(cli, true, "client", lname);
	bad |= ut_pending(lfd, &pend, 1, "listener") | ut_name_is(lfd, false, "listener", lname);
	bad |= ut_expect(dfd, "dgram d", "first") | ut_expect(dfd, "dgram d", "second") |
	       ut_empty(dfd, "dgram d");
	bad |= ut_expect(cfd, "dgram c", "to c") | ut_empty(cfd, "dgram c");
	bad |= ut_name_is(dfd, true, "dgram d", cname) | ut_name_is(cfd, true, "dgram c", dname);
	ut_send(cfd, "c again", NULL);
	bad |= ut_expect(dfd, "dgram d", "c again");
	bad |= ut_name_is(afd, false, "autobound", autoname);
	bad |= ut_expect(sp[1], "seqpacket", "rec") | ut_expect(sp[1], "seqpacket", "record two");
	if (recv(sp[1], &lfd, sizeof(lfd), MSG_DONTWAIT) != 0) {
		cr_say("note: seqpacket: no end of file after the peer's SHUT_WR");
		bad = 1;
	}
	if (bad)
		cr_fail("the sockets changed");
}

int main(void)
{
	return cr_run(setup, verify);
}
