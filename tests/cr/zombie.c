/* SPDX-License-Identifier: MIT */
/*
 * Zombies: two children that have ended but not been reaped when the tree is checkpointed,
 * one by exit(42), one killed by SIGUSR2. After SIGTERM the parent reaps both with waitpid
 * and must get the same pids and the same wait statuses.
 */
#include <sys/wait.h>
#include "crtest.h"

/* Wait until child has ended, without reaping it. */
static void wait_zombie(pid_t child)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			cr_die("waitid %d", child);
}

static void reap(pid_t child, int want_exit, int want_sig)
{
	int st;
	pid_t r;

	do
		r = waitpid(child, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != child)
		cr_fail("waitpid(%d) returned %d (%s): the zombie is gone", child, r,
			r < 0 ? strerror(errno) : "not ended");
	if (want_sig ? !WIFSIGNALED(st) || WTERMSIG(st) != want_sig
		     : !WIFEXITED(st) || WEXITSTATUS(st) != want_exit)
		cr_fail("zombie %d: status %#x, want %s %d", child, st, want_sig ? "signal" : "exit",
			want_sig ? want_sig : want_exit);
}

int main(void)
{
	pid_t a, b;

	cr_init();
	a = fork();
	if (a < 0)
		cr_die("fork");
	if (a == 0)
		_exit(42);
	b = fork();
	if (b < 0)
		cr_die("fork");
	if (b == 0) {
		signal(SIGUSR2, SIG_DFL);
		raise(SIGUSR2);
		_exit(1);
	}
	wait_zombie(a);
	wait_zombie(b);
	cr_ready();
	cr_wait_sigterm();
	reap(a, 42, 0);
	reap(b, 0, SIGUSR2);
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		cr_fail("an unexpected child appeared");
	cr_pass();
}
