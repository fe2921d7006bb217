/* SPDX-License-Identifier: MIT */
/*
 * What the shm_* programs share: a region of SHM_PAGES pages that a parent and its child
 * both map, whatever the kind of object behind it.
 *
 *   pages 0, 3, 6, ... hold a pattern (the stream of seed + page number); the others stay
 *   untouched (holes in the object) except the last one, the handshake page.
 *
 * After SIGTERM the parent checks the pattern and the holes, writes a fresh token to the
 * handshake page and forwards SIGTERM to the child; the child checks the same, must see the
 * token, answers in the same page and exits 0; the parent then must see the answer. A
 * token written by one process and seen by the other proves the memory is still shared.
 * Nothing else is changed: a verification done before a restore does not spoil it.
 */
#ifndef SHMTEST_H
#define SHMTEST_H

#include <sys/wait.h>
#include "crtest.h"

#define SHM_PAGES 16
#define SHM_PAGE  4096
#define SHM_LEN	  (SHM_PAGES * SHM_PAGE)

struct shm_hs {
	volatile uint64_t token, answer;
};

static const char *shm_me = "parent";

static inline struct shm_hs *shm_hs(void *region)
{
	return (struct shm_hs *)((char *)region + (SHM_PAGES - 1) * SHM_PAGE);
}

static inline void shm_fill(void *region, uint64_t seed)
{
	for (int i = 0; i < SHM_PAGES - 1; i += 3)
		cr_fill_random((char *)region + i * SHM_PAGE, SHM_PAGE, seed + (uint64_t)i);
}

/* 0, or 1 after a note naming the first page that differs. */
static inline int shm_check(const void *region, uint64_t seed, int pages)
{
	static uint8_t want[SHM_PAGE], zero[SHM_PAGE];

	for (int i = 0; i < pages && i < SHM_PAGES - 1; i++) {
		const uint8_t *p = (const uint8_t *)region + i * SHM_PAGE;

		if (i % 3 == 0)
			cr_fill_random(want, SHM_PAGE, seed + (uint64_t)i);
		if (memcmp(p, i % 3 == 0 ? want : zero, SHM_PAGE)) {
			cr_say("note: %s: page %d differs from what was written before READY", shm_me, i);
			return 1;
		}
	}
	return 0;
}

/* The child: wait for SIGTERM, check, answer the parent's token. */
static inline void __attribute__((noreturn)) shm_child(void *region, uint64_t seed, int pages)
{
	struct shm_hs *hs = shm_hs(region);
	uint64_t token;

	shm_me = "child";
	cr_wait_sigterm();
	if (shm_check(region, seed, pages))
		_exit(1);
	token = hs->token;
	if (token >> 32 != 0x5eedu) {
		cr_say("note: child: no token from the parent in the shared page (%#llx)",
		       (unsigned long long)token);
		_exit(1);
	}
	hs->answer = ~token;
	_exit(0);
}

/* Fork the child that shares region; call before READY. */
static inline pid_t shm_fork(void *region, uint64_t seed, int pages)
{
	pid_t pid = fork();

	if (pid < 0)
		cr_die("fork");
	if (pid == 0)
		shm_child(region, seed, pages);
	return pid;
}

/* The parent's side after SIGTERM; 0 when both saw the same memory. */
static inline int shm_handshake(void *region, uint64_t seed, int pages, pid_t child)
{
	struct shm_hs *hs = shm_hs(region);
	uint64_t token = 0x5eedull << 32 | (uint64_t)(cr_now_ns() & 0xffffffffu);
	int bad = shm_check(region, seed, pages), st;
	pid_t r;

	hs->answer = 0;
	hs->token = token;
	__sync_synchronize();
	if (kill(child, SIGTERM) < 0) {
		cr_say("note: parent: kill child: %s", strerror(errno));
		return 1;
	}
	do
		r = waitpid(child, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r != child || !WIFEXITED(st) || WEXITSTATUS(st)) {
		cr_say("note: parent: the child failed (status %#x)", r == child ? st : -1);
		return 1;
	}
	if (hs->answer != ~token) {
		cr_say("note: parent: the child's answer is not in the shared page (%#llx)",
		       (unsigned long long)hs->answer);
		return 1;
	}
	return bad;
}

#endif
