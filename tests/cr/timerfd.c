/* SPDX-License-Identifier: MIT */
/*
 * timerfds:
 *   periodic  CLOCK_MONOTONIC, every 50 ms, O_NONBLOCK; never read before READY, so
 *             expirations pile up as ticks;
 *   oneshot   CLOCK_BOOTTIME, fires once 50 ms after setup: 1 tick pending at READY;
 *   later     CLOCK_REALTIME, TFD_TIMER_ABSTIME, one-shot 1 hour after setup: not expired;
 *   idle      CLOCK_MONOTONIC, never armed.
 * After SIGTERM: periodic has at least 1 expiration pending (those before the dump are kept)
 * and keeps firing: 3 more reads each see >= 1 expiration within a few periods, and the
 * interval reads back as 50 ms; oneshot gives exactly 1, then nothing; later still has
 * between 0 and 1 hour left, with no interval; idle is disarmed.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/timerfd.h>
#include "crtest.h"

#define PERIOD_NS 50000000L

static uint64_t ticks(int fd, const char *what, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v;

	if (poll(&p, 1, timeout_ms) != 1)
		cr_fail("%s: no expiration within %d ms", what, timeout_ms);
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		cr_fail("%s: read: %s", what, strerror(errno));
	return v;
}

int main(void)
{
	struct itimerspec per = {{0, PERIOD_NS}, {0, PERIOD_NS}}, one = {{0, 0}, {0, PERIOD_NS}}, cur;
	struct itimerspec abs = {{0, 0}, {0, 0}};
	int tp, to, tl, ti;
	uint64_t v;

	cr_init();
	tp = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	to = timerfd_create(CLOCK_BOOTTIME, 0);
	tl = timerfd_create(CLOCK_REALTIME, 0);
	ti = timerfd_create(CLOCK_MONOTONIC, 0);
	clock_gettime(CLOCK_REALTIME, &abs.it_value);
	abs.it_value.tv_sec += 3600;
	if (tp < 0 || to < 0 || tl < 0 || ti < 0 || timerfd_settime(tp, 0, &per, NULL) < 0 ||
	    timerfd_settime(to, 0, &one, NULL) < 0 || timerfd_settime(tl, TFD_TIMER_ABSTIME, &abs, NULL) < 0)
		cr_die("timerfd");
	cr_sleep_ms(120); /* the one-shot has fired, the periodic twice */
	cr_ready();
	cr_wait_sigterm();
	if (!(fcntl(tp, F_GETFL) & O_NONBLOCK) || fcntl(to, F_GETFL) & O_NONBLOCK)
		cr_fail("flags changed");
	v = ticks(tp, "periodic pending", 1000);
	if (v < 1)
		cr_fail("periodic: %llu expirations pending", (unsigned long long)v);
	for (int i = 0; i < 3; i++) {
		v = ticks(tp, "periodic after the restore", 1000);
		if (v < 1 || v > 20)
			cr_fail("periodic: %llu expirations in one wait", (unsigned long long)v);
	}
	if (timerfd_gettime(tp, &cur) < 0 || cur.it_interval.tv_sec || cur.it_interval.tv_nsec != PERIOD_NS)
		cr_fail("periodic: interval changed");
	v = ticks(to, "oneshot", 0);
	if (v != 1)
		cr_fail("oneshot: %llu expirations, want 1", (unsigned long long)v);
	if (timerfd_gettime(to, &cur) < 0 || cur.it_value.tv_sec || cur.it_value.tv_nsec)
		cr_fail("oneshot: armed again");
	if (timerfd_gettime(tl, &cur) < 0 || cur.it_value.tv_sec >= 3600 ||
	    (!cur.it_value.tv_sec && !cur.it_value.tv_nsec) || cur.it_interval.tv_sec ||
	    cur.it_interval.tv_nsec)
		cr_fail("later: %lld s left, want within the hour", (long long)cur.it_value.tv_sec);
	if (timerfd_gettime(ti, &cur) < 0 || cur.it_value.tv_sec || cur.it_value.tv_nsec)
		cr_fail("idle: armed");
	cr_pass();
}
