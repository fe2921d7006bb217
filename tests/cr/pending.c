/* SPDX-License-Identifier: MIT */
/*
 * Pending signals with their siginfo, in both queues:
 *   process queue  SIGUSR1 sent twice with sigqueue (values 0x5eed1234, then 0xdead: a
 *                  standard signal is queued once, so only the first stays), SIGRTMIN+1
 *                  sent three times (values 101, 102, 103: real-time signals all queue)
 *   thread queue   SIGUSR2 sent with pthread_sigqueue (value 0x7777)
 * All three are blocked until after SIGTERM; then they are unblocked and each handler must
 * run the right number of times with the right si_code, si_pid, si_uid and si_value.
 */
#include <pthread.h>
#include "crtest.h"

#define V_USR1	       0x5eed1234
#define V_USR1_DROPPED 0xdead
#define V_USR2	       0x7777

struct event {
	int signo, code, value;
	pid_t pid;
	uid_t uid;
};

static struct event events[16];
static volatile int nevents;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nevents < (int)(sizeof(events) / sizeof(events[0]))) {
		struct event *e = &events[nevents];

		e->signo = si->si_signo;
		e->code = si->si_code;
		e->value = si->si_value.sival_int;
		e->pid = si->si_pid;
		e->uid = si->si_uid;
	}
	nevents++;
}

static void the_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGRTMIN + 1);
}

static void check_pending(const char *when)
{
	sigset_t p;

	if (sigpending(&p) < 0)
		cr_fail("sigpending: %s", strerror(errno));
	if (sigismember(&p, SIGUSR1) != 1 || sigismember(&p, SIGUSR2) != 1 ||
	    sigismember(&p, SIGRTMIN + 1) != 1)
		cr_fail("%s: not all pending: USR1 %d USR2 %d RTMIN+1 %d", when, sigismember(&p, SIGUSR1),
			sigismember(&p, SIGUSR2), sigismember(&p, SIGRTMIN + 1));
}

static void setup(void)
{
	struct sigaction sa;
	sigset_t set;
	int sig[3] = {SIGUSR1, SIGUSR2, SIGRTMIN + 1}, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		if (sigaction(sig[i], &sa, NULL) < 0)
			cr_die("sigaction %d", sig[i]);
	the_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		cr_die("sigprocmask");

	if (sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = V_USR1}) < 0 ||
	    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = V_USR1_DROPPED}) < 0)
		cr_die("sigqueue SIGUSR1");
	for (i = 0; i < 3; i++)
		if (sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 101 + i}) < 0)
			cr_die("sigqueue SIGRTMIN+1");
	if (pthread_sigqueue(pthread_self(), SIGUSR2, (union sigval){.sival_int = V_USR2}))
		cr_fail("setup: pthread_sigqueue failed");
	check_pending("setup");
}

static void expect(const struct event *e, int sig, int value)
{
	if (e->signo != sig || e->value != value)
		cr_fail("got signal %d value %#x, want signal %d value %#x", e->signo, e->value, sig, value);
	if (e->code != SI_QUEUE || e->pid != getpid() || e->uid != getuid())
		cr_fail("signal %d: si_code %d si_pid %d si_uid %d, want %d %d %d", sig, e->code, e->pid,
			e->uid, SI_QUEUE, getpid(), getuid());
}

static void verify(void)
{
	const struct event *usr1 = NULL, *usr2 = NULL;
	int rt = 0, i;
	sigset_t set;

	if (nevents)
		cr_fail("%d signal(s) delivered while blocked", nevents);
	check_pending("after SIGTERM");
	the_set(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (nevents != 5)
		cr_fail("%d signals delivered, want 5 (USR1, USR2, 3 x RTMIN+1)", nevents);
	for (i = 0; i < nevents; i++) {
		const struct event *e = &events[i];

		if (e->signo == SIGUSR1) {
			if (usr1)
				cr_fail("SIGUSR1 delivered twice");
			usr1 = e;
		} else if (e->signo == SIGUSR2) {
			if (usr2)
				cr_fail("SIGUSR2 delivered twice");
			usr2 = e;
		} else {
			/* Real-time signals keep their queue order. */
			expect(e, SIGRTMIN + 1, 101 + rt);
			rt++;
		}
	}
	if (!usr1 || !usr2 || rt != 3)
		cr_fail("missing signals: USR1 %s, USR2 %s, RTMIN+1 x%d", usr1 ? "yes" : "no",
			usr2 ? "yes" : "no", rt);
	expect(usr1, SIGUSR1, V_USR1);
	expect(usr2, SIGUSR2, V_USR2);
}

int main(void)
{
	cr_run(setup, verify);
}
