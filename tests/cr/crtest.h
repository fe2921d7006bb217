/* SPDX-License-Identifier: MIT */
/*
 * Protocol shared by the checkpoint/restore test programs in tests/cr/.
 *
 * The driver (tests/test_cr.py) starts a program in its own session with stdin on
 * /dev/null and stdout and stderr on one file. The program:
 *   1. sets up its one kind of state;
 *   2. prints "READY" on a line of its own (written with write(2), no stdio buffering);
 *   3. prints nothing more until SIGTERM: the output file is an external resource whose size
 *      the restore checks, so it must not grow between a dump and a restore;
 *   4. on SIGTERM verifies the state and prints "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 *
 * SIGTERM is blocked except inside sigsuspend(2), so that the flag check and the wait do not
 * race. A checkpoint usually catches the task inside that sigsuspend; whether the syscall is
 * restarted or returns EINTR after the restore, the loop simply waits again.
 *
 * Only static inline functions here: every program is one translation unit.
 */
#ifndef CRTEST_H
#define CRTEST_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t cr_stop;

/* Write all of buf to fd, retrying short writes and EINTR. */
static inline int cr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* printf to stdout without stdio buffers: one write(2) per call, so a fork never duplicates. */
static inline void __attribute__((format(printf, 1, 2))) cr_say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	cr_write_all(STDOUT_FILENO, buf, (size_t)n);
}

static inline void cr_ready(void)
{
	cr_say("READY");
}

static inline void __attribute__((noreturn)) cr_pass(void)
{
	cr_say("PASS");
	_exit(0);
}

/* Print the verdict line and exit 1. */
static inline void __attribute__((noreturn, format(printf, 1, 2))) cr_fail(const char *fmt, ...)
{
	char buf[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_say("FAIL: %s", buf);
	_exit(1);
}

/* For setup errors before READY: the driver sees the line and the exit instead of READY. */
#define cr_die(fmt, ...) cr_fail("setup: " fmt " (%s)", ##__VA_ARGS__, strerror(errno))

static inline void cr_on_sigterm(int sig)
{
	(void)sig;
	cr_stop = 1;
}

/*
 * Install the SIGTERM handler and block SIGTERM in the calling thread. Call this in main
 * before creating threads, so that they inherit the blocked SIGTERM and only the main
 * thread's sigsuspend receives it.
 */
static inline void cr_init(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cr_on_sigterm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		cr_die("sigaction SIGTERM");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		cr_die("block SIGTERM");
	/* No stdio buffering anywhere, in case a program uses printf by mistake. */
	setvbuf(stdout, NULL, _IONBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
}

/*
 * Sleep in sigsuspend until SIGTERM arrived. Signals blocked by the caller other than SIGTERM
 * stay blocked while waiting. Other handled signals (SIGALRM of itimer.c) just loop.
 */
static inline void cr_wait_sigterm(void)
{
	sigset_t cur;

	while (!cr_stop) {
		sigprocmask(SIG_BLOCK, NULL, &cur);
		sigdelset(&cur, SIGTERM);
		sigsuspend(&cur);
	}
}

/* Monotonic time in nanoseconds. */
static inline uint64_t cr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep ms milliseconds in total, whatever signals interrupt it. */
static inline void cr_sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* splitmix64: a small, fast, seedable generator whose stream we can regenerate to verify. */
static inline uint64_t cr_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fill buf with the stream of seed (len a multiple of 8). */
static inline void cr_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t *p = buf, st = seed;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = cr_rand_next(&st);
}

/* FNV-1a 64 over a buffer, 8 bytes at a time (enough to catch any changed byte). */
static inline uint64_t cr_checksum(const void *buf, size_t len)
{
	const uint64_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	for (i = len & ~(size_t)7; i < len; i++) {
		h ^= ((const unsigned char *)buf)[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Parse a decimal unsigned argument; exits with a setup FAIL on garbage. */
static inline unsigned long cr_parse_ulong(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		cr_fail("setup: bad %s '%s'", what, s);
	return v;
}

/* The whole protocol for a program whose state needs no more than setup and verify. */
static inline int __attribute__((noreturn)) cr_run(void (*setup)(void), void (*verify)(void))
{
	cr_init();
	setup();
	cr_ready();
	cr_wait_sigterm();
	verify();
	cr_pass();
}

#endif
