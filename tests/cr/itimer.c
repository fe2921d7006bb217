/* SPDX-License-Identifier: MIT */
/*
 * Interval timers:
 *   ITIMER_REAL     100 ms period, counting SIGALRMs: the count keeps increasing after the
 *                   restore (at least 5 ticks in 1 s) and the period reads back as 100 ms
 *   ITIMER_VIRTUAL  1000 s value, 7 s period: the process uses almost no CPU, so it never
 *                   fires; the period must read back exactly and the value stay in
 *                   (990 s, 1000 s + a tick]
 *   ITIMER_PROF     500 s value, 3.5 s period: likewise
 */
#include <sys/time.h>
#include "crtest.h"

static volatile sig_atomic_t ticks;
static volatile sig_atomic_t stray; /* SIGVTALRM or SIGPROF: must never happen */

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void on_stray(int sig)
{
	stray = sig;
}

static void set_timer(int which, long val_s, long val_us, long int_s, long int_us)
{
	struct itimerval it = {
		.it_interval = {int_s, int_us},
		.it_value = {val_s, val_us},
	};

	if (setitimer(which, &it, NULL) < 0)
		cr_die("setitimer %d", which);
}

/* The interval must be exact, the value in (min_us, max_us]. */
static void check_timer(int which, const char *name, long int_s, long int_us, long long min_us,
			long long max_us)
{
	struct itimerval it;
	long long v;

	if (getitimer(which, &it) < 0)
		cr_fail("getitimer %s: %s", name, strerror(errno));
	if (it.it_interval.tv_sec != int_s || it.it_interval.tv_usec != int_us)
		cr_fail("%s: interval %ld.%06ld s, want %ld.%06ld s", name, (long)it.it_interval.tv_sec,
			(long)it.it_interval.tv_usec, int_s, int_us);
	v = (long long)it.it_value.tv_sec * 1000000 + it.it_value.tv_usec;
	if (v <= min_us || v > max_us)
		cr_fail("%s: value %lld us, want in (%lld, %lld]", name, v, min_us, max_us);
}

int main(void)
{
	struct sigaction sa;
	int before;

	cr_init();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		cr_die("sigaction SIGALRM");
	sa.sa_handler = on_stray;
	if (sigaction(SIGVTALRM, &sa, NULL) < 0 || sigaction(SIGPROF, &sa, NULL) < 0)
		cr_die("sigaction");

	set_timer(ITIMER_VIRTUAL, 1000, 0, 7, 0);
	set_timer(ITIMER_PROF, 500, 0, 3, 500000);
	set_timer(ITIMER_REAL, 0, 100000, 0, 100000);
	while (ticks < 3)
		cr_sleep_ms(10);
	cr_ready();
	cr_wait_sigterm();

	before = ticks;
	cr_sleep_ms(1000);
	if (ticks < before + 5)
		cr_fail("ITIMER_REAL: %d SIGALRMs in 1 s after SIGTERM, want >= 5", ticks - before);
	check_timer(ITIMER_REAL, "ITIMER_REAL", 0, 100000, 0, 100000);
	/* The kernel adds one tick to the value of a CPU-time timer when it is set. */
	check_timer(ITIMER_VIRTUAL, "ITIMER_VIRTUAL", 7, 0, 990000000, 1000000000 + 20000);
	check_timer(ITIMER_PROF, "ITIMER_PROF", 3, 500000, 490000000, 500000000 + 20000);
	if (stray)
		cr_fail("signal %d fired: a CPU-time timer ran down", stray);
	cr_pass();
}
