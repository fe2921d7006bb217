/* SPDX-License-Identifier: MIT */
/*
 * Files deleted while in use, in the directory given as argv[1]:
 *   held.dat    4 KiB of pattern, a 1 MiB hole, 4 KiB of pattern; opened O_RDWR, dup'ed
 *               to fd 50 (one open file), at offset 777, then unlinked
 *   mapped.dat  4 pages, mapped MAP_SHARED and MAP_PRIVATE (page 1 changed in the private
 *               copy), unlinked, fd closed
 * After SIGTERM: held.dat is still unlinked, same size and offset, same content, its hole
 * still a hole (when the file system kept one at setup); a write through fd 50 moves the
 * offset of the other fd; both mappings hold what they held, and a write through the
 * shared one is not seen by the private one's changed page.
 *
 * usage: deleted_file DIR
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "crtest.h"

#define PG	  4096
#define HOLE	  (1 << 20)
#define HELD_SIZE (PG + HOLE + PG)
#define DUP_FD	  50
#define MAP_PAGES 4
#define SEED	  0xde1e7edull
#define PRIV_TEXT "changed in the private copy"

static int fd, sparse;
static uint8_t *shared, *priv;
static uint8_t want[HELD_SIZE];

static void setup_held(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/held.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		cr_die("%s", path);
	cr_fill_random(want, PG, SEED);
	cr_fill_random(want + PG + HOLE, PG, SEED + 1);
	if (pwrite(fd, want, PG, 0) != PG || pwrite(fd, want + PG + HOLE, PG, PG + HOLE) != PG)
		cr_die("write %s", path);
	sparse = lseek(fd, PG, SEEK_DATA) == PG + HOLE;
	if (dup2(fd, DUP_FD) < 0 || lseek(fd, 777, SEEK_SET) != 777 || unlink(path) < 0)
		cr_die("dup/seek/unlink %s", path);
}

static void setup_mapped(const char *dir)
{
	char path[PATH_MAX];
	uint8_t buf[MAP_PAGES * PG];
	int mfd;

	snprintf(path, sizeof(path), "%s/mapped.dat", dir);
	mfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_fill_random(buf, sizeof(buf), SEED + 2);
	if (mfd < 0 || pwrite(mfd, buf, sizeof(buf), 0) != sizeof(buf))
		cr_die("%s", path);
	shared = mmap(NULL, sizeof(buf), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	priv = mmap(NULL, sizeof(buf), PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	if (shared == MAP_FAILED || priv == MAP_FAILED)
		cr_die("mmap %s", path);
	strcpy((char *)priv + PG, PRIV_TEXT);
	if (unlink(path) < 0)
		cr_die("unlink %s", path);
	close(mfd);
}

static void setup(void)
{
	static char dir[PATH_MAX];

	if (!getcwd(dir, sizeof(dir)))
		cr_die("getcwd");
	setup_held(dir);
	setup_mapped(dir);
}

static int check_held(void)
{
	static uint8_t got[HELD_SIZE];
	struct stat st;

	if (fstat(fd, &st) < 0 || st.st_nlink != 0 || st.st_size != HELD_SIZE || (st.st_mode & 0777) != 0640)
		return cr_say("note: held.dat: nlink %lu size %lld mode %o", (unsigned long)st.st_nlink,
			      (long long)st.st_size, st.st_mode & 0777),
		       1;
	if (lseek(fd, 0, SEEK_CUR) != 777 || lseek(DUP_FD, 0, SEEK_CUR) != 777)
		return cr_say("note: held.dat: offset %lld, want 777", (long long)lseek(fd, 0, SEEK_CUR)), 1;
	if (pread(fd, got, HELD_SIZE, 0) != HELD_SIZE || memcmp(got, want, HELD_SIZE))
		return cr_say("note: held.dat: content differs"), 1;
	if (write(DUP_FD, "x", 1) != 1 || lseek(fd, 0, SEEK_CUR) != 778)
		return cr_say("note: held.dat: fds %d and %d no longer share their offset", fd, DUP_FD), 1;
	/* SEEK_DATA moves the offset too: last. */
	if (sparse && lseek(fd, PG, SEEK_DATA) != PG + HOLE)
		return cr_say("note: held.dat: the hole was filled (data at %lld)",
			      (long long)lseek(fd, PG, SEEK_DATA)),
		       1;
	return 0;
}

static int check_mapped(void)
{
	uint8_t buf[MAP_PAGES * PG];

	cr_fill_random(buf, sizeof(buf), SEED + 2);
	if (memcmp(shared, buf, sizeof(buf)))
		return cr_say("note: mapped.dat: the shared mapping differs"), 1;
	if (memcmp(priv, buf, PG) || strcmp((char *)priv + PG, PRIV_TEXT) ||
	    memcmp(priv + 2 * PG, buf + 2 * PG, 2 * PG))
		return cr_say("note: mapped.dat: the private mapping differs"), 1;
	strcpy((char *)shared + PG, "written through the shared mapping");
	if (strcmp((char *)priv + PG, PRIV_TEXT))
		return cr_say("note: mapped.dat: the private copy sees a shared write"), 1;
	return 0;
}

static void verify(void)
{
	int bad = check_held();

	bad |= check_mapped();
	if (bad)
		cr_fail("files deleted while in use differ after the restore");
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) < 0)
		cr_fail("setup: usage: deleted_file DIR");
	cr_run(setup, verify);
}
