/* SPDX-License-Identifier: MIT */
/*
 * POSIX locks on files the task also maps or holds as shared objects (--file-locks). Closing
 * any fd of a file drops every POSIX lock its process holds on it (fcntl(2)), so a restore
 * that opens and closes such a file after the locks are taken loses them:
 *
 *   mapped.dat  mapped MAP_SHARED read-write (it is mapped by path at restore), with a
 *               POSIX WRITE lock [0, 100) through one fd, an OFD WRITE lock [200, 300)
 *               through a second, and flock(LOCK_EX) through a third;
 *   gone.dat    unlinked while open (a shared object at restore), mapped MAP_SHARED, with
 *               a POSIX READ lock [10, 20).
 *
 * After SIGTERM a forked checker, which holds no lock, must see each lock held by its owner,
 * and both mappings must still show the data written through them.
 *
 * Usage: lock_mapped WORKDIR
 */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "locktest.h"

#define SIZE 8192

static const char *workdir;
static int fd_posix, fd_ofd, fd_flock, fd_gone;
static unsigned char *map_mapped, *map_gone;

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", workdir, name);
}

static int open_sized(const char *name)
{
	char path[4096];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, SIZE) < 0)
		cr_die("creating %s", path);
	return fd;
}

static unsigned char *map_file(int fd, unsigned char fill)
{
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		cr_die("mmap");
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(fill + i % 251);
	return p;
}

static void setup(void)
{
	char path[4096];

	fd_posix = open_sized("mapped.dat");
	path_of(path, sizeof(path), "mapped.dat");
	fd_ofd = open(path, O_RDWR);
	fd_flock = open(path, O_RDONLY);
	if (fd_ofd < 0 || fd_flock < 0 || flock(fd_flock, LOCK_EX) < 0)
		cr_die("opening %s again", path);
	map_mapped = map_file(fd_posix, 'm');
	lk_set(fd_posix, F_SETLK, F_WRLCK, 0, 100);
	lk_set(fd_ofd, F_OFD_SETLK, F_WRLCK, 200, 100);

	fd_gone = open_sized("gone.dat");
	map_gone = map_file(fd_gone, 'g');
	lk_set(fd_gone, F_SETLK, F_RDLCK, 10, 10);
	path_of(path, sizeof(path), "gone.dat");
	if (unlink(path) < 0)
		cr_die("unlink %s", path);
}

static void __attribute__((noreturn)) checker(pid_t parent)
{
	char mapped[4096], gone[64];
	int bad;

	path_of(mapped, sizeof(mapped), "mapped.dat");
	/* Inherited from the parent: pids of /proc need not be those of our namespace. */
	snprintf(gone, sizeof(gone), "/proc/self/fd/%d", fd_gone);
	bad = lk_expect(mapped, F_GETLK, F_WRLCK, 50, F_WRLCK, parent, 0, 100);
	bad |= lk_expect(mapped, F_OFD_GETLK, F_WRLCK, 250, F_WRLCK, -1, 200, 100);
	bad |= lk_expect(mapped, F_GETLK, F_WRLCK, 150, F_UNLCK, 0, 0, 0);
	bad |= lk_expect_flocked(mapped);
	bad |= lk_expect(gone, F_GETLK, F_WRLCK, 15, F_RDLCK, parent, 10, 10);
	_exit(bad);
}

static void check_map(const unsigned char *p, unsigned char fill, const char *name)
{
	for (size_t i = 0; i < SIZE; i++)
		if (p[i] != (unsigned char)(fill + i % 251))
			cr_fail("%s: byte %zu of its mapping differs", name, i);
}

static void verify(void)
{
	check_map(map_mapped, 'm', "mapped.dat");
	check_map(map_gone, 'g', "gone.dat");
	lk_run_checker(checker);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		cr_fail("setup: usage: lock_mapped WORKDIR");
	workdir = argv[1];
	return cr_run(setup, verify);
}
