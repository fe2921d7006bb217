/* SPDX-License-Identifier: MIT */
/*
 * System V shared memory: an IPC_PRIVATE segment of SHM_LEN - 1000 bytes (not a whole
 * number of pages), attached by a parent and, through fork, its child
 * (tests/cr/shmtest.h), then marked for removal (IPC_RMID) as programs usually do. After
 * SIGTERM: the same shmid, size and mode by IPC_STAT, then the contents and the handshake.
 */
#include <sys/ipc.h>
#include <sys/shm.h>
#include "shmtest.h"

#define SEED 0x5757ull
#define SIZE (SHM_LEN - 1000)

static int id;
static void *region;
static pid_t child;

static void setup(void)
{
	id = shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0640);
	if (id < 0)
		cr_die("shmget");
	region = shmat(id, NULL, 0);
	if (region == (void *)-1)
		cr_die("shmat");
	shm_fill(region, SEED);
	child = shm_fork(region, SEED, SHM_PAGES - 1);
	if (shmctl(id, IPC_RMID, NULL) < 0)
		cr_die("IPC_RMID");
}

static void verify(void)
{
	struct shmid_ds ds;
	int bad = 0;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		bad = 1, cr_say("note: shmid %d: IPC_STAT: %s", id, strerror(errno));
	else if (ds.shm_segsz != SIZE || (ds.shm_perm.mode & 0777) != 0640 || ds.shm_nattch != 2)
		bad = 1, cr_say("note: shmid %d: size %zu mode %o nattch %lu", id, (size_t)ds.shm_segsz,
				ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch);
	bad |= shm_handshake(region, SEED, SHM_PAGES - 1, child);
	if (bad)
		cr_fail("System V shared memory differs after the restore");
}

int main(void)
{
	cr_run(setup, verify);
}
