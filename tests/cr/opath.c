/* SPDX-License-Identifier: MIT */
/*
 * Path-only and directory fds: an O_PATH fd of a file (no offset, no reads: only a place),
 * an O_PATH | O_DIRECTORY fd and a plain directory fd read part-way with getdents64.
 * usage: opath WORKDIR
 * After SIGTERM: the O_PATH fds still carry O_PATH and name the same inodes; a file opened
 * relative to each directory fd (openat) reads what was written; the directory fd goes on
 * listing where it stopped (its offset kept), so that the names it gives afterwards are the
 * ones not seen before, and all of them together are the directory's entries.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "crtest.h"

#define NFILES 64

static char dir[512];
static int fpath, dpath, dread;
static struct stat st_f, st_d;
static int seen[NFILES];

/* Names "fNN" from one getdents64 call of at most len bytes; returns how many. */
static int list_some(size_t len)
{
	char buf[4096];
	long n = syscall(SYS_getdents64, dread, buf, len);
	int got = 0;

	if (n < 0)
		cr_fail("getdents64: %s", strerror(errno));
	for (long off = 0; off < n;) {
		struct dirent64 *d = (struct dirent64 *)(buf + off);
		unsigned int k;

		if (sscanf(d->d_name, "f%u", &k) == 1 && k < NFILES) {
			if (seen[k]++)
				cr_fail("'%s' listed twice", d->d_name);
			got++;
		}
		off += d->d_reclen;
	}
	return got;
}

static void setup(void)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/d", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		cr_die("mkdir");
	for (int i = 0; i < NFILES; i++) {
		char name[700];
		int fd;

		snprintf(name, sizeof(name), "%s/f%02d", path, i);
		fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || cr_write_all(fd, "hello\n", 6) < 0)
			cr_die("create");
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/d/f07", dir);
	fpath = open(path, O_PATH | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/d", dir);
	dpath = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	dread = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fpath < 0 || dpath < 0 || dread < 0 || fstat(fpath, &st_f) < 0 || fstat(dpath, &st_d) < 0)
		cr_die("open");
	if (list_some(256) <= 0) /* part-way: a few entries only */
		cr_fail("no entry in the first getdents64");
}

static void expect_hello(int dirfd, const char *name, const char *what)
{
	char buf[16] = "";
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof(buf)) != 6 || memcmp(buf, "hello\n", 6))
		cr_fail("%s: openat '%s' does not read what was written", what, name);
	close(fd);
}

static void verify(void)
{
	struct stat st;
	int total = 0;

	if (!(fcntl(fpath, F_GETFL) & O_PATH) || !(fcntl(dpath, F_GETFL) & O_PATH))
		cr_fail("an O_PATH fd lost O_PATH");
	if (fstat(fpath, &st) < 0 || st.st_ino != st_f.st_ino || st.st_dev != st_f.st_dev)
		cr_fail("the O_PATH fd names another file");
	if (fstat(dpath, &st) < 0 || st.st_ino != st_d.st_ino)
		cr_fail("the O_PATH directory fd names another directory");
	expect_hello(dpath, "f03", "O_PATH directory");
	expect_hello(dread, "f63", "directory");
	while (list_some(4096) > 0)
		;
	for (int i = 0; i < NFILES; i++)
		total += seen[i];
	if (total != NFILES)
		cr_fail("the directory listing gave %d of %d names", total, NFILES);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	cr_init();
	cr_run(setup, verify);
}
