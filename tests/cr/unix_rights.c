/* SPDX-License-Identifier: MIT */
/*
 * File descriptors in flight (SCM_RIGHTS) in a unix socketpair of type TYPE (stream, dgram or
 * seqpacket), queued unread at READY at end b, in this order:
 *
 *   "head"  no files;
 *   "one"   f, a file of WORKDIR at offset 5, and p0, the read end of a pipe with "pipe one"
 *           in it: the task still holds both (the same open files), and p's write end;
 *   "mid"   no files;
 *   "two"   g, another file at offset 2, and q0, the read end of a pipe with "pipe two" in it:
 *           the task closed both after sending, they are only in flight; it holds q's write end;
 *           and x, one end of a stream socketpair x <-> y, both ends still held;
 *   "tail"  no files.
 *
 * After SIGTERM, b reads the messages with sizes that end on their boundaries (a stream gives
 * the files with the first byte of their message, and stops after it): each must come with
 * its files, in order, and the files must be the same ones: the offsets (shared with the fds
 * the task still holds), the file contents, the pipe data, and each pipe still connected to
 * the write end the task holds.
 *
 * "fork": a child holds the socketpair and reads the messages, the parent holds the rest
 * and checks its fds are the same files (the offset, pipe one, socket y): the files shared
 * with the parent are made by the parent, the ones only in flight by the child.
 *
 * Usage: unix_rights WORKDIR stream|dgram|seqpacket [fork]
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "crtest.h"

static int a, b, f, p[2], q[2], xy[2];
static char fpath[4096], gpath[4096];
static bool stream, forked;
static pid_t child;
static int bad;

static void note(const char *what)
{
	cr_say("note: %s", what);
	bad = 1;
}

/* msg with the n files of fds */
static void send_files(const char *msg, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)msg, strlen(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, (size_t)n * sizeof(int));
	}
	if (sendmsg(a, &mh, MSG_DONTWAIT) != (ssize_t)strlen(msg))
		cr_die("sendmsg '%s'", msg);
}

static int make_file(const char *path, const char *data, off_t off)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || cr_write_all(fd, data, strlen(data)) < 0 || lseek(fd, off, SEEK_SET) != off)
		cr_die("%s", path);
	return fd;
}

static void setup(void)
{
	int g;

	f = make_file(fpath, "0123456789abcdef", 5);
	g = make_file(gpath, "ABCDEFGH", 2);
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(q, O_CLOEXEC) < 0)
		cr_die("pipe2");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, xy) < 0)
		cr_die("socketpair");
	if (cr_write_all(p[1], "pipe one", 8) < 0 || cr_write_all(q[1], "pipe two", 8) < 0)
		cr_die("write to the pipes");
	send_files("head", NULL, 0);
	send_files("one", (int[]){f, p[0]}, 2);
	send_files("mid", NULL, 0);
	send_files("two", (int[]){g, q[0], xy[0]}, 3);
	send_files("tail", NULL, 0);
	close(g);
	close(q[0]);
}

/* Read the next message (up to len bytes): its bytes must be want, with n_want files. */
static void expect(size_t len, const char *want, int *fds, int n_want)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char data[64] = "";
	struct iovec iov = {data, MIN(len, sizeof(data) - 1)};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(b, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int got = c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;

	if (n != (ssize_t)strlen(want) || memcmp(data, want, strlen(want))) {
		cr_say("note: got '%.*s' (%zd: %s), want '%s'", (int)MAX(n, 0), data, n,
		       n < 0 ? strerror(errno) : "", want);
		bad = 1;
	}
	if (got != n_want || (c && (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS))) {
		cr_say("note: '%s' came with %d files, want %d", want, got, n_want);
		bad = 1;
	}
	if (c && fds && got == n_want)
		memcpy(fds, CMSG_DATA(c), (size_t)got * sizeof(int));
}

static void check_read(int fd, const char *what, const char *want)
{
	char buf[64] = "";
	ssize_t n = read(fd, buf, strlen(want));

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, strlen(want))) {
		cr_say("note: %s: read '%.*s', want '%s'", what, (int)MAX(n, 0), buf, want);
		bad = 1;
	}
}

static bool same_inode(int x, const char *path)
{
	struct stat s1, s2;

	return fstat(x, &s1) == 0 && stat(path, &s2) == 0 && s1.st_ino == s2.st_ino && s1.st_dev == s2.st_dev;
}

/* The pipe read end r is connected to the write end w the task holds. */
static void check_pipe(int r, int w, const char *what, const char *data)
{
	if (data[0])
		check_read(r, what, data);
	if (cr_write_all(w, "more", 4) < 0)
		note("writing to a pipe's write end");
	check_read(r, what, "more");
}

/* The messages at b and what their files hold; pipes written to at their ends w (-1: not here). */
static void read_messages(int pw, int qw)
{
	int one[2] = {-1, -1}, two[3] = {-1, -1, -1};

	expect(4, "head", NULL, 0);
	expect(stream ? 3 : 64, "one", one, 2);
	expect(3, "mid", NULL, 0);
	expect(stream ? 3 : 64, "two", two, 3);
	expect(64, "tail", NULL, 0);
	if (recv(b, one, 1, MSG_DONTWAIT | MSG_PEEK) >= 0 || errno != EAGAIN)
		note("something more is queued");
	if (bad)
		cr_fail("the messages changed");
	if (!same_inode(one[0], fpath) || lseek(one[0], 0, SEEK_CUR) != 5)
		note("file one: not the file at offset 5");
	check_read(one[0], "file one", "567");
	check_read(one[1], "pipe one", "pipe one");
	if (pw >= 0)
		check_pipe(one[1], pw, "pipe one", "");
	/* "two": only in flight */
	if (!same_inode(two[0], gpath) || lseek(two[0], 0, SEEK_CUR) != 2)
		note("file two: not the file at offset 2");
	check_read(two[0], "file two", "CDE");
	check_read(two[1], "pipe two", "pipe two");
	if (qw >= 0)
		check_pipe(two[1], qw, "pipe two", "");
	/* and the socket, the end x the task still holds, connected to y */
	if (cr_write_all(two[2], "over x", 6) < 0)
		note("writing to socket x in flight");
}

/* The task's own fds on the files that were in flight: the same open files. */
static void check_held(void)
{
	if (lseek(f, 0, SEEK_CUR) != 8)
		note("file one: the task's fd does not share the offset of the one in flight");
	if (cr_write_all(p[1], "held", 4) < 0)
		note("writing to pipe one");
	check_read(p[0], "pipe one, the task's read end", "held");
	check_read(xy[1], "socket y", "over x");
}

static void verify(void)
{
	int status;

	if (child) {
		kill(child, SIGTERM);
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
			cr_fail("the child's messages changed (status %#x)", status);
	} else {
		read_messages(p[1], q[1]);
	}
	check_held();
	if (bad)
		cr_fail("the files in flight changed");
}

/* fork: a child holds the socketpair, the parent the files: each made by a different task. */
static void split(void)
{
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		close(f), close(p[0]), close(p[1]), close(q[1]), close(xy[0]), close(xy[1]);
		cr_wait_sigterm();
		read_messages(-1, -1);
		_exit(bad);
	}
	close(a);
	close(b);
}

static void setup_all(void)
{
	setup();
	if (forked)
		split();
}

int main(int argc, char **argv)
{
	int type;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "fork")))
		cr_fail("setup: usage: unix_rights WORKDIR stream|dgram|seqpacket [fork]");
	forked = argc == 4;
	stream = !strcmp(argv[2], "stream");
	type = stream ? SOCK_STREAM : !strcmp(argv[2], "dgram") ? SOCK_DGRAM : SOCK_SEQPACKET;
	snprintf(fpath, sizeof(fpath), "%s/rights-one.dat", argv[1]);
	snprintf(gpath, sizeof(gpath), "%s/rights-two.dat", argv[1]);
	int sv[2];

	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
		cr_die("socketpair");
	a = sv[0];
	b = sv[1];
	return cr_run(setup_all, verify);
}
