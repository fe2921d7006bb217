/* SPDX-License-Identifier: MIT */
/*
 * A regular file mapped MAP_SHARED by a parent and its child (tests/cr/shmtest.h): DIR/
 * shared.dat, SHM_LEN bytes, fd closed before the fork. The file stays on disk and is
 * mapped again by path; after the handshake the parent reads the file back with read(2).
 *
 * usage: shm_file DIR
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include "shmtest.h"

#define SEED 0xf11eull

static char path[PATH_MAX];
static void *region;
static pid_t child;
static const char *dir;

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "%s/shared.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, SHM_LEN) < 0)
		cr_die("%s", path);
	region = mmap(NULL, SHM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		cr_die("mmap %s", path);
	close(fd);
	shm_fill(region, SEED);
	child = shm_fork(region, SEED, SHM_PAGES);
}

static void verify(void)
{
	static uint8_t buf[SHM_LEN];
	int bad = shm_handshake(region, SEED, SHM_PAGES, child), fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, buf, SHM_LEN, 0) != SHM_LEN || memcmp(buf, region, SHM_LEN))
		bad = 1, cr_say("note: %s does not hold what the mapping shows", path);
	if (bad)
		cr_fail("the shared file mapping differs after the restore");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		cr_fail("setup: usage: shm_file DIR");
	dir = argv[1];
	cr_run(setup, verify);
}
