/* SPDX-License-Identifier: MIT */
/*
 * The simplest program: a counter in .bss that a nanosleep loop keeps incrementing while it
 * waits (no sigsuspend here: SIGTERM is unblocked and polled every 10 ms), a string in .data,
 * a heap buffer and the argument vector. After SIGTERM: the counter went on from where it
 * was, everything else is unchanged, and the vdso clock still works and did not go back.
 * Linked dynamically; hello_static.c builds the same source statically.
 */
#include <time.h>
#include "crtest.h"

#define HEAP_LEN (3 * 4096 + 123)

static char greeting[] = "hello, checkpoint";
static volatile unsigned long counter;

int main(int argc, char **argv)
{
	struct timespec delay = {0, 10 * 1000 * 1000};
	unsigned long at_ready;
	unsigned char *heap;
	uint64_t t_ready, sum;
	char *argv0 = strdup(argv[0]);
	sigset_t term;
	size_t i;

	cr_init();
	heap = malloc(HEAP_LEN);
	if (!heap || !argv0)
		cr_die("malloc");
	for (i = 0; i < HEAP_LEN; i++)
		heap[i] = (unsigned char)(i ^ (i >> 8));
	sum = cr_checksum(heap, HEAP_LEN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &term, NULL);

	counter = 1;
	at_ready = counter;
	t_ready = cr_now_ns();
	cr_ready();
	while (!cr_stop) {
		counter++;
		nanosleep(&delay, NULL);
	}

	if (counter <= at_ready)
		cr_fail("counter %lu did not move on from %lu", counter, at_ready);
	if (strcmp(greeting, "hello, checkpoint"))
		cr_fail(".data string changed: '%s'", greeting);
	if (cr_checksum(heap, HEAP_LEN) != sum)
		cr_fail("heap buffer changed");
	if (argc < 1 || strcmp(argv[0], argv0))
		cr_fail("argv[0] changed: '%s', was '%s'", argc ? argv[0] : "", argv0);
	if (cr_now_ns() < t_ready)
		cr_fail("CLOCK_MONOTONIC went back");
	cr_pass();
}
