/* SPDX-License-Identifier: MIT */
/*
 * memfds:
 *   "ckpt-shared"  SHM_LEN bytes, mapped MAP_SHARED by a parent and its child
 *                  (tests/cr/shmtest.h), sealed F_SEAL_SHRINK|F_SEAL_GROW; the parent keeps
 *                  its fd open at offset 1234
 *   "ckpt-frozen"  two pages mapped writable shared, then sealed F_SEAL_FUTURE_WRITE|
 *                  F_SEAL_SEAL: the old mapping still writes, a new writable one is refused
 *   "ckpt-ro"      one page sealed F_SEAL_WRITE|F_SEAL_SEAL, mapped read-only shared; fd closed
 * After SIGTERM: names, seals, sizes, offset, contents, then the handshake.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "shmtest.h"

#define SEED	0x3e3f0001ull
#define FROZEN	"written before the seal"
#define FROZEN2 "and after the restore"
#define RO	"read-only and sealed"

static void *region;
static char *frozen, *ro;
static int fd_shared, fd_frozen;
static pid_t child;

static int make(const char *name, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		cr_die("memfd %s", name);
	return fd;
}

static void setup(void)
{
	int fd_ro;

	fd_shared = make("ckpt-shared", SHM_LEN);
	region = mmap(NULL, SHM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd_shared, 0);
	if (region == MAP_FAILED)
		cr_die("mmap ckpt-shared");
	shm_fill(region, SEED);
	if (fcntl(fd_shared, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0 ||
	    lseek(fd_shared, 1234, SEEK_SET) != 1234)
		cr_die("seal ckpt-shared");

	fd_frozen = make("ckpt-frozen", 2 * SHM_PAGE);
	frozen = mmap(NULL, 2 * SHM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd_frozen, 0);
	if (frozen == MAP_FAILED)
		cr_die("mmap ckpt-frozen");
	strcpy(frozen, FROZEN);
	if (fcntl(fd_frozen, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		cr_die("seal ckpt-frozen");

	fd_ro = make("ckpt-ro", SHM_PAGE);
	if (pwrite(fd_ro, RO, sizeof(RO), 0) != sizeof(RO) ||
	    fcntl(fd_ro, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		cr_die("seal ckpt-ro");
	ro = mmap(NULL, SHM_PAGE, PROT_READ, MAP_SHARED, fd_ro, 0);
	if (ro == MAP_FAILED)
		cr_die("mmap ckpt-ro");
	close(fd_ro);
	child = shm_fork(region, SEED, SHM_PAGES);
}

static int check_fd(int fd, const char *name, int seals, off_t size, off_t pos)
{
	char path[64], link[128], want[128];
	ssize_t n;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	if (strcmp(link, want))
		return cr_say("note: fd %d is '%s', want '%s'", fd, link, want), 1;
	if (fcntl(fd, F_GET_SEALS) != seals)
		return cr_say("note: %s: seals %#x, want %#x", name, fcntl(fd, F_GET_SEALS), seals), 1;
	if (fstat(fd, &st) < 0 || st.st_size != size)
		return cr_say("note: %s: size %lld, want %lld", name, (long long)st.st_size, (long long)size),
		       1;
	if (lseek(fd, 0, SEEK_CUR) != pos)
		return cr_say("note: %s: offset %lld, want %lld", name, (long long)lseek(fd, 0, SEEK_CUR),
			      (long long)pos),
		       1;
	return 0;
}

static void verify(void)
{
	int bad = check_fd(fd_shared, "ckpt-shared", F_SEAL_SHRINK | F_SEAL_GROW, SHM_LEN, 1234);

	bad |= check_fd(fd_frozen, "ckpt-frozen", F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, 2 * SHM_PAGE, 0);
	if (ftruncate(fd_shared, SHM_LEN / 2) == 0 || errno != EPERM)
		bad = 1, cr_say("note: ckpt-shared could shrink");
	if (strcmp(frozen, FROZEN) || strcmp(ro, RO))
		bad = 1, cr_say("note: the sealed memfds lost their content");
	strcpy(frozen + SHM_PAGE, FROZEN2); /* the mapping made before the seal still writes */
	if (mmap(NULL, SHM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd_frozen, 0) != MAP_FAILED)
		bad = 1, cr_say("note: ckpt-frozen: a new writable mapping was allowed");
	if (pread(fd_frozen, (char[sizeof(FROZEN2)]){0}, sizeof(FROZEN2), SHM_PAGE) != sizeof(FROZEN2))
		bad = 1, cr_say("note: ckpt-frozen: pread");
	bad |= shm_handshake(region, SEED, SHM_PAGES, child);
	if (bad)
		cr_fail("memfds differ after the restore");
}

int main(void)
{
	cr_run(setup, verify);
}
