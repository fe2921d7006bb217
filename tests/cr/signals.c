/* SPDX-License-Identifier: MIT */
/*
 * Signal dispositions, the alternate signal stack and the blocked mask:
 *   SIGUSR1      SA_SIGINFO|SA_RESTART, sa_mask {SIGUSR2, SIGRTMIN+3}
 *   SIGUSR2      SA_SIGINFO|SA_ONSTACK|SA_NODEFER, sa_mask {SIGHUP}
 *   SIGRTMIN+2   SA_SIGINFO|SA_ONSTACK
 *   SIGHUP       plain handler, SA_RESETHAND, sa_mask {SIGWINCH}
 *   SIGINT       ignored
 *   blocked      SIGWINCH, SIGRTMIN+5
 *   sigaltstack  64 KiB
 * After SIGTERM every disposition read back with sigaction() must equal its value before
 * READY (handler, flags, restorer, mask), the altstack likewise, and raising each signal must
 * run its handler as configured: siginfo, the mask inside the handler, on the altstack or not.
 */
#include <sys/mman.h>
#include "crtest.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction before[_NSIG];
static stack_t alt_before;
static char *alt_base;

struct hit {
	volatile int count, signo, code, pid, on_alt, alt_flags;
	sigset_t mask; /* the thread's mask inside the handler */
};
static struct hit hits[_NSIG];

static int on_altstack(const void *p)
{
	return (const char *)p >= alt_base && (const char *)p < alt_base + ALTSTACK_SIZE;
}

static void record_hit(int sig, const siginfo_t *si, const void *stack_addr)
{
	struct hit *h = &hits[sig];
	stack_t ss;

	h->count++;
	h->signo = si ? si->si_signo : sig;
	h->code = si ? si->si_code : 0;
	h->pid = si ? si->si_pid : 0;
	h->on_alt = on_altstack(stack_addr);
	h->alt_flags = sigaltstack(NULL, &ss) == 0 ? ss.ss_flags : -1;
	sigprocmask(SIG_BLOCK, NULL, &h->mask);
}

static void h_info(int sig, siginfo_t *si, void *uc)
{
	int local;

	(void)uc;
	record_hit(sig, si, &local);
}

static void h_plain(int sig)
{
	int local;

	record_hit(sig, NULL, &local);
}

static void set_handler(int sig, void (*fn)(int), void (*fn_info)(int, siginfo_t *, void *), int flags,
			int m1, int m2)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (fn_info)
		sa.sa_sigaction = fn_info;
	else
		sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (m1)
		sigaddset(&sa.sa_mask, m1);
	if (m2)
		sigaddset(&sa.sa_mask, m2);
	if (sigaction(sig, &sa, NULL) < 0)
		cr_die("sigaction %d", sig);
}

/* glibc keeps 32 and 33 for itself and refuses sigaction on them. */
static int glibc_internal(int sig)
{
	return sig >= 32 && sig < SIGRTMIN;
}

static void setup(void)
{
	stack_t ss;
	sigset_t set;
	int s;

	alt_base = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt_base == MAP_FAILED)
		cr_die("mmap altstack");
	ss.ss_sp = alt_base;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0)
		cr_die("sigaltstack");

	set_handler(SIGUSR1, NULL, h_info, SA_SIGINFO | SA_RESTART, SIGUSR2, SIGRTMIN + 3);
	set_handler(SIGUSR2, NULL, h_info, SA_SIGINFO | SA_ONSTACK | SA_NODEFER, SIGHUP, 0);
	set_handler(SIGRTMIN + 2, NULL, h_info, SA_SIGINFO | SA_ONSTACK, 0, 0);
	set_handler(SIGHUP, h_plain, NULL, SA_RESETHAND, SIGWINCH, 0);
	set_handler(SIGINT, SIG_IGN, NULL, 0, 0, 0);

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGRTMIN + 5);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		cr_die("sigprocmask");

	for (s = 1; s < _NSIG; s++)
		if (!glibc_internal(s) && sigaction(s, NULL, &before[s]) < 0)
			cr_die("read back sigaction %d", s);
	if (sigaltstack(NULL, &alt_before) < 0)
		cr_die("read back sigaltstack");
}

static int first_mask_diff(const sigset_t *a, const sigset_t *b)
{
	int s;

	for (s = 1; s < _NSIG; s++)
		if (!glibc_internal(s) && sigismember(a, s) != sigismember(b, s))
			return s;
	return 0;
}

static void check_dispositions(void)
{
	struct sigaction now;
	stack_t ss;
	int s, d;

	for (s = 1; s < _NSIG; s++) {
		if (glibc_internal(s))
			continue;
		if (sigaction(s, NULL, &now) < 0)
			cr_fail("sigaction(%d) readback: %s", s, strerror(errno));
		if (now.sa_handler != before[s].sa_handler)
			cr_fail("signal %d: handler %p, was %p", s, (void *)now.sa_handler,
				(void *)before[s].sa_handler);
		if (now.sa_flags != before[s].sa_flags)
			cr_fail("signal %d: sa_flags %#x, was %#x", s, now.sa_flags, before[s].sa_flags);
		if (now.sa_restorer != before[s].sa_restorer)
			cr_fail("signal %d: sa_restorer %p, was %p", s, (void *)now.sa_restorer,
				(void *)before[s].sa_restorer);
		d = first_mask_diff(&now.sa_mask, &before[s].sa_mask);
		if (d)
			cr_fail("signal %d: sa_mask differs at signal %d", s, d);
	}
	if (sigaltstack(NULL, &ss) < 0)
		cr_fail("sigaltstack readback: %s", strerror(errno));
	if (ss.ss_sp != alt_before.ss_sp || ss.ss_size != alt_before.ss_size ||
	    ss.ss_flags != alt_before.ss_flags)
		cr_fail("sigaltstack is sp %p size %zu flags %#x, was %p %zu %#x", ss.ss_sp, ss.ss_size,
			ss.ss_flags, alt_before.ss_sp, alt_before.ss_size, alt_before.ss_flags);
}

static void check_blocked(void)
{
	sigset_t now;
	int s, want;

	sigprocmask(SIG_BLOCK, NULL, &now);
	for (s = 1; s < _NSIG; s++) {
		/* SIGTERM: blocked by cr_init, but a restarted sigsuspend may leave it open. */
		if (glibc_internal(s) || s == SIGTERM)
			continue;
		want = s == SIGWINCH || s == SIGRTMIN + 5;
		if (sigismember(&now, s) != want)
			cr_fail("signal %d is %sblocked", s, want ? "not " : "");
	}
}

/* Raise sig; its handler must have run once, with the given mask members and altstack. */
static void expect_hit(int sig, int code_checked, int on_alt, const int *blocked, const int *open)
{
	struct hit *h = &hits[sig];
	int i;

	if (raise(sig))
		cr_fail("raise(%d): %s", sig, strerror(errno));
	if (h->count != 1)
		cr_fail("signal %d: handler ran %d times", sig, h->count);
	if (h->signo != sig)
		cr_fail("signal %d: si_signo %d", sig, h->signo);
	if (code_checked && (h->code != SI_TKILL || h->pid != getpid()))
		cr_fail("signal %d: si_code %d si_pid %d, want %d %d", sig, h->code, h->pid, SI_TKILL,
			getpid());
	if (h->on_alt != on_alt)
		cr_fail("signal %d: handler ran %s the altstack", sig, h->on_alt ? "on" : "off");
	if (on_alt && !(h->alt_flags & SS_ONSTACK))
		cr_fail("signal %d: sigaltstack flags %#x inside the handler", sig, h->alt_flags);
	for (i = 0; blocked[i]; i++)
		if (sigismember(&h->mask, blocked[i]) != 1)
			cr_fail("signal %d: signal %d not blocked in the handler", sig, blocked[i]);
	for (i = 0; open[i]; i++)
		if (sigismember(&h->mask, open[i]) != 0)
			cr_fail("signal %d: signal %d blocked in the handler", sig, open[i]);
}

static void verify(void)
{
	struct sigaction now;

	check_dispositions();
	check_blocked();

	expect_hit(SIGUSR1, 1, 0, (int[]){SIGUSR1, SIGUSR2, SIGRTMIN + 3, SIGWINCH, 0}, (int[]){SIGHUP, 0});
	expect_hit(SIGUSR2, 1, 1, (int[]){SIGHUP, SIGWINCH, 0}, (int[]){SIGUSR2, SIGUSR1, 0});
	expect_hit(SIGRTMIN + 2, 1, 1, (int[]){SIGRTMIN + 2, 0}, (int[]){SIGHUP, 0});
	expect_hit(SIGHUP, 0, 0, (int[]){SIGWINCH, 0}, (int[]){SIGUSR1, 0});
	if (sigaction(SIGHUP, NULL, &now) < 0 || now.sa_handler != SIG_DFL)
		cr_fail("SIGHUP: SA_RESETHAND did not reset the handler");
	if (raise(SIGINT))
		cr_fail("raise(SIGINT): %s", strerror(errno));
	/* Still here: SIGINT is ignored. Raising it twice must not matter either. */
	raise(SIGINT);
}

int main(void)
{
	cr_run(setup, verify);
}
