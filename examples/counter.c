/* SPDX-License-Identifier: MIT */
/*
 * The demo job: prints a running count, one line a second, with its pid and the sum of a
 * buffer it keeps rewriting, so that a restored run shows it carried on where it stopped.
 * Usage: counter [LIMIT]   (0 or no argument: forever)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static uint32_t buf[1 << 20]; /* 4 MiB that must survive the checkpoint */
	unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	uint64_t sum = 0;

	for (unsigned long i = 1; !limit || i <= limit; i++) {
		struct timespec ts = { 1, 0 };

		buf[i % (1 << 20)] = (uint32_t)i;
		sum += buf[i % (1 << 20)];
		printf("count %lu (pid %d, sum %llu)\n", i, (int)getpid(), (unsigned long long)sum);
		fflush(stdout);
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	return 0;
}
