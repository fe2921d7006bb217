/* SPDX-License-Identifier: MIT */
/*
 * File locks of every kind, dumped and restored with --file-locks:
 *
 *   flock.dat  flock(LOCK_EX) by the parent, through an fd it shares with a dup;
 *   posix.dat  POSIX locks (F_SETLK): the parent holds WRITE [0, 100) and READ [2000, EOF),
 *              its child WRITE [1000, 1100);
 *   ofd.dat    an OFD lock (F_OFD_SETLK), WRITE [10, 30), held by the parent.
 *
 * After SIGTERM the parent forks a checker, a process that holds none of them, which must
 * see each lock as held by its owner (flock LOCK_NB fails with EWOULDBLOCK, F_GETLK reports
 * the POSIX holders' pids, F_OFD_GETLK the OFD lock with pid -1) and the gaps as free.
 *
 * Usage: file_locks WORKDIR
 */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include "locktest.h"

static const char *workdir;
static int fd_flock, fd_flock2, fd_posix, fd_ofd;
static pid_t child;

static int open_file(const char *name)
{
	char path[4096], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		cr_die("open %s", path);
	memset(buf, 'l', sizeof(buf));
	if (cr_write_all(fd, buf, sizeof(buf)) < 0)
		cr_die("write %s", path);
	return fd;
}

static void setup(void)
{
	fd_flock = open_file("flock.dat");
	fd_posix = open_file("posix.dat");
	fd_ofd = open_file("ofd.dat");
	fd_flock2 = dup(fd_flock);
	if (fd_flock2 < 0 || flock(fd_flock, LOCK_EX) < 0)
		cr_die("flock");
	lk_set(fd_posix, F_SETLK, F_WRLCK, 0, 100);
	lk_set(fd_posix, F_SETLK, F_RDLCK, 2000, 0);
	lk_set(fd_ofd, F_OFD_SETLK, F_WRLCK, 10, 20);
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		lk_set(fd_posix, F_SETLK, F_WRLCK, 1000, 100);
		for (;;)
			pause();
	}
	/* The child's lock is in place before READY. */
	for (int i = 0; i < 1000; i++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1050, .l_len = 1};

		if (fcntl(fd_posix, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			return;
		cr_sleep_ms(10);
	}
	cr_fail("setup: the child took no lock");
}

/* A file of the work directory, for the checker's probes. */
static const char *in_workdir(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	return path;
}

static void __attribute__((noreturn)) checker(pid_t parent)
{
	int bad = lk_expect_flocked(in_workdir("flock.dat"));

	bad |= lk_expect(in_workdir("posix.dat"), F_GETLK, F_RDLCK, 50, F_WRLCK, parent, 0, 100);
	bad |= lk_expect(in_workdir("posix.dat"), F_GETLK, F_WRLCK, 150, F_UNLCK, 0, 0, 0);
	bad |= lk_expect(in_workdir("posix.dat"), F_GETLK, F_WRLCK, 3000, F_RDLCK, parent, 2000, 0);
	bad |= lk_expect(in_workdir("posix.dat"), F_OFD_GETLK, F_RDLCK, 3000, F_UNLCK, 0, 0, 0);
	bad |= lk_expect(in_workdir("ofd.dat"), F_OFD_GETLK, F_RDLCK, 15, F_WRLCK, -1, 10, 20);
	bad |= lk_expect(in_workdir("ofd.dat"), F_GETLK, F_RDLCK, 40, F_UNLCK, 0, 0, 0);
	bad |= lk_expect(in_workdir("posix.dat"), F_GETLK, F_RDLCK, 1050, F_WRLCK, child, 1000, 100);
	_exit(bad);
}

static void verify(void)
{
	lk_run_checker(checker);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* The dup still shares the flock()ed description: unlocking through it frees the file. */
	if (flock(fd_flock2, LOCK_UN) < 0)
		cr_fail("LOCK_UN: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 2)
		cr_fail("setup: usage: file_locks WORKDIR");
	workdir = argv[1];
	return cr_run(setup, verify);
}
