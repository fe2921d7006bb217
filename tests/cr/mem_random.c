/* SPDX-License-Identifier: MIT */
/*
 * Anonymous private memory: SIZE MiB (argument, default 512) of a seeded pseudo-random
 * stream, plus a small region where only every third page was ever touched (the others must
 * still read as zeroes) and one page that was written and then zeroed again. After SIGTERM
 * the streams are regenerated and compared byte for byte.
 *
 * usage: mem_random [SIZE_MIB]
 */
#include <sys/mman.h>
#include "crtest.h"

#define SEED	     0x5eedc0ffee123457ull
#define SPARSE_PAGES 96

static unsigned char *big, *sparse;
static size_t big_len, sparse_len, page;
static uint64_t big_sum;

static void setup(size_t mib)
{
	size_t i;

	page = (size_t)sysconf(_SC_PAGESIZE);
	big_len = mib << 20;
	big = mmap(NULL, big_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED)
		cr_die("mmap %zu MiB", mib);
	cr_fill_random(big, big_len, SEED);
	big_sum = cr_checksum(big, big_len);

	sparse_len = SPARSE_PAGES * page;
	sparse = mmap(NULL, sparse_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sparse == MAP_FAILED)
		cr_die("mmap sparse");
	for (i = 0; i < SPARSE_PAGES; i += 3)
		cr_fill_random(sparse + i * page, page, SEED + i);
	/* Page 1 is touched and zeroed again: present in memory, all zero. */
	memset(sparse + page, 0xa5, page);
	memset(sparse + page, 0, page);
}

/* First offset where the stream of seed differs from buf, or -1. */
static long first_mismatch(const unsigned char *buf, size_t len, uint64_t seed)
{
	const uint64_t *p = (const uint64_t *)buf;
	uint64_t st = seed;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (p[i] != cr_rand_next(&st))
			return (long)(i * 8);
	return -1;
}

static void verify(void)
{
	long off;
	size_t i, j;

	off = first_mismatch(big, big_len, SEED);
	if (off >= 0)
		cr_fail("random region differs at offset %ld (page %ld), byte 0x%02x", off, off / (long)page,
			big[off]);
	if (cr_checksum(big, big_len) != big_sum)
		cr_fail("random region checksum changed");
	for (i = 0; i < SPARSE_PAGES; i++) {
		unsigned char *pg = sparse + i * page;

		if (i % 3 == 0) {
			off = first_mismatch(pg, page, SEED + i);
			if (off >= 0)
				cr_fail("sparse page %zu differs at byte %ld", i, off);
			continue;
		}
		for (j = 0; j < page; j++)
			if (pg[j])
				cr_fail("sparse page %zu (never written) has 0x%02x at byte %zu", i, pg[j],
					j);
	}
}

int main(int argc, char **argv)
{
	size_t mib = 512;

	cr_init();
	if (argc > 1)
		mib = cr_parse_ulong(argv[1], "size in MiB");
	if (mib == 0 || mib > 65536)
		cr_fail("setup: size %zu MiB out of range", mib);
	setup(mib);
	cr_ready();
	cr_wait_sigterm();
	verify();
	cr_pass();
}
