/* SPDX-License-Identifier: MIT */
/*
 * Anonymous shared memory: a MAP_SHARED|MAP_ANONYMOUS region mapped by a parent and the
 * child it forks (tests/cr/shmtest.h), and a second one mapped from /dev/zero with
 * MAP_SHARED, read-only in the parent after an mprotect of its second half.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include "shmtest.h"

#define SEED  0xa17e0001ull
#define SEED2 0xa17e0002ull

static void *region, *zero_map;
static pid_t child;

static void setup(void)
{
	int fd;

	region = mmap(NULL, SHM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		cr_die("mmap shared anonymous");
	shm_fill(region, SEED);
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_die("open /dev/zero");
	zero_map = mmap(NULL, SHM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (zero_map == MAP_FAILED)
		cr_die("mmap /dev/zero shared");
	close(fd);
	shm_fill(zero_map, SEED2);
	child = shm_fork(region, SEED, SHM_PAGES);
	if (mprotect((char *)zero_map + SHM_LEN / 2, SHM_LEN / 2, PROT_READ) < 0)
		cr_die("mprotect");
}

static void verify(void)
{
	int bad = shm_check(zero_map, SEED2, SHM_PAGES);

	bad |= shm_handshake(region, SEED, SHM_PAGES, child);
	if (bad)
		cr_fail("shared anonymous memory differs after the restore");
}

int main(void)
{
	cr_run(setup, verify);
}
