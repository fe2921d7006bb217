/* SPDX-License-Identifier: MIT */
/*
 * What another process sees of the locks of a tests/cr program: the probes file_locks.c and
 * lock_mapped.c run in a forked checker after the restore. Static inline: each program is
 * one translation unit.
 */
#ifndef LOCKTEST_H
#define LOCKTEST_H

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include "crtest.h"

/* Take a lock of type on [start, start + len) of fd with F_SETLK or F_OFD_SETLK (cmd). */
static inline void lk_set(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	if (fcntl(fd, cmd, &fl) < 0)
		cr_die("lock fd %d at %lld", fd, (long long)start);
}

/*
 * Ask F_GETLK or F_OFD_GETLK (cmd) with a probe lock of type probe at [at, at + 1) of path:
 * 0 when the answer is type (F_UNLCK: none), and for a lock its pid and range.
 */
static inline int lk_expect(const char *path, int cmd, short probe, off_t at, short type, pid_t pid,
			    off_t start, off_t len)
{
	struct flock fl = {.l_type = probe, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
	int fd = open(path, O_RDWR | O_CLOEXEC), r;

	if (fd < 0 || fcntl(fd, cmd, &fl) < 0) {
		cr_say("note: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	r = fl.l_type != type;
	if (type != F_UNLCK)
		r |= fl.l_pid != pid || fl.l_start != start || fl.l_len != len;
	if (r)
		cr_say("note: %s at %lld: type %d pid %d [%lld +%lld], want type %d pid %d [%lld +%lld]",
		       path, (long long)at, fl.l_type, fl.l_pid, (long long)fl.l_start, (long long)fl.l_len,
		       type, pid, (long long)start, (long long)len);
	return r;
}

/* 0 when someone holds a flock() on path that keeps a shared one from us. */
static inline int lk_expect_flocked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return 1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		cr_say("note: %s is not flock()ed (%s)", path, strerror(errno));
		r = 1;
	}
	close(fd);
	return r;
}

/*
 * Fork a checker, which holds none of our locks, to run checker(our pid) (which exits 0 when
 * it saw every lock as it was), and wait for it; a failure ends the test.
 */
static inline void lk_run_checker(void (*checker)(pid_t parent))
{
	pid_t parent = getpid(), c = fork();
	int status;

	if (c < 0)
		cr_fail("fork: %s", strerror(errno));
	if (c == 0)
		checker(parent);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("another process does not see the locks as they were (status %#x)", status);
}

#endif
