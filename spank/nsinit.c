/* SPDX-License-Identifier: MIT */
/*
 * PID 1 of a job's PID namespace. The kernel delivers to a namespace's init only the signals
 * it has a handler for, so this small process stands in front of the job (pid 2): it forwards
 * the signals a job expects (SIGTERM from scancel, SIGUSR1 from --signal, ...), reaps the
 * orphans that re-parent to it, and when pid 2 ends, ends what is left of the namespace and
 * exits with pid 2's status, as Slurm ends a step whose batch script ended.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt-spank.h"

static volatile sig_atomic_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void catch_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGUSR1,
				   SIGUSR2, SIGCONT, SIGALRM, SIGXCPU};
	struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

void exit_like(int st)
{
	if (WIFSIGNALED(st)) {
		sigset_t all;

		signal(WTERMSIG(st), SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(WTERMSIG(st));
		_exit(128 + WTERMSIG(st)); /* PID 1 of a namespace cannot kill itself */
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

void nsinit_main(pid_t job)
{
	int st, job_st = 0;
	pid_t p;

	prctl(PR_SET_NAME, "ckpt-init", 0, 0, 0);
	forward_to = job;
	catch_signals();
	for (;;) {
		p = waitpid(-1, &st, __WALL);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break; /* ECHILD: nothing left */
		if (p == job) {
			job_st = st;
			forward_to = 0;
			kill(-1, SIGKILL); /* every other process of the namespace */
		}
	}
	exit_like(job_st);
}
