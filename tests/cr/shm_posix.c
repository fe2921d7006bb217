/* SPDX-License-Identifier: MIT */
/*
 * POSIX shared memory: shm_open("/ckpt-test-shm-PID"), mapped MAP_SHARED by a parent and
 * its child (tests/cr/shmtest.h), fd closed. The object stays in /dev/shm: it is a shared
 * file mapping, reopened by path. The parent removes it once verified, so only modes where
 * the program is verified once run it (tests/test_cr.py).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include "shmtest.h"

#define SEED 0x9051ull

static char name[64];
static void *region;
static pid_t child;

static void setup(void)
{
	int fd;

	snprintf(name, sizeof(name), "/ckpt-test-shm-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, SHM_LEN) < 0)
		cr_die("shm_open %s", name);
	region = mmap(NULL, SHM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		cr_die("mmap %s", name);
	close(fd);
	shm_fill(region, SEED);
	child = shm_fork(region, SEED, SHM_PAGES);
}

static void verify(void)
{
	int bad = shm_handshake(region, SEED, SHM_PAGES, child);

	if (shm_unlink(name) < 0)
		bad = 1, cr_say("note: shm_unlink %s: %s", name, strerror(errno));
	if (bad)
		cr_fail("POSIX shared memory differs after the restore");
}

int main(void)
{
	cr_run(setup, verify);
}
