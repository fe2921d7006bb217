/* SPDX-License-Identifier: MIT */
/* Helpers of the unix socket programs (unix_bound.c, unix_abstract.c): one translation unit each. */
#ifndef UNIXTEST_H
#define UNIXTEST_H

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "crtest.h"

/* name: a path, or "@name" for an abstract one; returns the address length. */
static inline socklen_t ut_addr(const char *name, struct sockaddr_un *sa)
{
	size_t len = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len >= sizeof(sa->sun_path))
		cr_fail("setup: name too long");
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

static inline int ut_socket(int type)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0)
		cr_die("socket");
	return fd;
}

static inline int ut_bound(int type, const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = ut_addr(name, &sa);
	int fd = ut_socket(type);

	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		cr_die("bind %s", name);
	return fd;
}

static inline void ut_connect(int fd, const char *name)
{
	struct sockaddr_un sa;
	socklen_t len = ut_addr(name, &sa);

	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		cr_die("connect %s", name);
}

static inline void ut_send(int fd, const char *msg, const char *to)
{
	struct sockaddr_un sa;
	socklen_t len = to ? ut_addr(to, &sa) : 0;

	if (sendto(fd, msg, strlen(msg), MSG_DONTWAIT, to ? (struct sockaddr *)&sa : NULL, len) !=
	    (ssize_t)strlen(msg))
		cr_die("send '%s'", msg);
}

/* The next message (or up to 256 bytes of a stream) at fd within 5 s equals want. */
static inline int ut_expect(int fd, const char *what, const char *want)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (poll(&p, 1, 5000) <= 0) {
		cr_say("note: %s: nothing to read, want '%s'", what, want);
		return 1;
	}
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n)) {
		cr_say("note: %s: got %zd bytes '%.*s' (%s), want '%s'", what, n, (int)(n > 0 ? n : 0), buf,
		       n < 0 ? strerror(errno) : "", want);
		return 1;
	}
	return 0;
}

/* Nothing more is queued at fd. */
static inline int ut_empty(int fd, const char *what)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	if (n < 0 && errno == EAGAIN)
		return 0;
	cr_say("note: %s: something more is queued (%zd, %s)", what, n, n < 0 ? strerror(errno) : "");
	return 1;
}

/* getsockname (or getpeername) of fd is name ("" for none). */
static inline int ut_name_is(int fd, bool peer, const char *what, const char *name)
{
	struct sockaddr_un sa, want;
	socklen_t len = sizeof(sa),
		  wlen = name[0] ? ut_addr(name, &want) : offsetof(struct sockaddr_un, sun_path);
	int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
		     : getsockname(fd, (struct sockaddr *)&sa, &len);

	if (r < 0 || len != wlen ||
	    memcmp(sa.sun_path, want.sun_path, wlen - offsetof(struct sockaddr_un, sun_path))) {
		cr_say("note: %s: %s is not '%s' (%s)", what, peer ? "peer name" : "name", name,
		       r < 0 ? strerror(errno) : "differs");
		return 1;
	}
	return 0;
}

/* The connections pending on listener lfd are those of clients c[0..n), in that order. */
static inline int ut_pending(int lfd, const int *c, int n, const char *what)
{
	int bad = 0;

	if (fcntl(lfd, F_SETFL, O_NONBLOCK) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		char msg[32];
		int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

		if (a < 0) {
			cr_say("note: %s: pending connection %d: accept: %s", what, i, strerror(errno));
			return 1;
		}
		snprintf(msg, sizeof(msg), "client %d", i);
		ut_send(c[i], msg, NULL);
		bad |= ut_expect(a, what, msg);
		close(a);
	}
	if (accept4(lfd, NULL, NULL, SOCK_NONBLOCK) >= 0 || errno != EAGAIN) {
		cr_say("note: %s: one more connection was pending", what);
		bad = 1;
	}
	return bad;
}

#endif
