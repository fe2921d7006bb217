/* SPDX-License-Identifier: MIT */
/* x86_64 syscall injection: run one syscall in a ptrace-stopped thread through a gate. */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "arch-private.h"

static const uint8_t x86_syscall_insn[] = {0x0f, 0x05}; /* syscall */

const uint8_t *arch_syscall_insn(size_t *ret_len)
{
	*ret_len = sizeof(x86_syscall_insn);
	return x86_syscall_insn;
}

enum x86_stop {
	STOP_SYSCALL, /* syscall-enter or -exit stop (SIGTRAP | 0x80, PTRACE_O_TRACESYSGOOD) */
	STOP_PASS,    /* fork/vfork/clone/vfork-done event of the syscall itself: run on */
};

/* Wait for the next stop of tid; classify it, or fail on anything our syscall cannot cause. */
static int x86_wait_syscall_stop(pid_t tid, long nr)
{
	int status, ev;
	pid_t p;

	do
		p = waitpid(tid, &status, __WALL);
	while (p < 0 && errno == EINTR);
	if (p < 0)
		return pr_perror("thread %d: waitpid during syscall %ld", tid, nr);
	if (WIFEXITED(status))
		return pr_err_errno(-ESRCH, "thread %d: exited with %d during injected syscall %ld", tid,
				    WEXITSTATUS(status), nr);
	if (WIFSIGNALED(status))
		return pr_err_errno(-ESRCH, "thread %d: killed by signal %d during injected syscall %ld", tid,
				    WTERMSIG(status), nr);
	if (!WIFSTOPPED(status))
		return pr_err_errno(-EINTR, "thread %d: unexpected wait status %#x during syscall %ld", tid,
				    status, nr);
	if (WSTOPSIG(status) == (SIGTRAP | 0x80))
		return STOP_SYSCALL;
	ev = status >> 16;
	if (WSTOPSIG(status) == SIGTRAP && (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK ||
					    ev == PTRACE_EVENT_VFORK || ev == PTRACE_EVENT_VFORK_DONE))
		return STOP_PASS;
	/* A task that was in group stop (SIGSTOP) traps once more on its way out of it. */
	if (ev == PTRACE_EVENT_STOP && WSTOPSIG(status) != SIGTRAP)
		return STOP_PASS;
	if (ev == PTRACE_EVENT_EXIT)
		return pr_err_errno(-ESRCH, "thread %d: exiting during injected syscall %ld", tid, nr);
	if (ev)
		return pr_err_errno(-EINTR, "thread %d: ptrace event %d during injected syscall %ld", tid, ev,
				    nr);
	/*
	 * SIGSTOP queued by the release of an earlier dump of a stopped tree: dropped here (the
	 * next PTRACE_SYSCALL passes 0); the release puts a stopped tree back in its stop.
	 */
	if (WSTOPSIG(status) == SIGSTOP)
		return STOP_PASS;
	/* The thread is left in this signal-delivery stop; resuming it with 0 drops the signal. */
	return pr_err_errno(-EINTR, "thread %d: got signal %d (%s) during injected syscall %ld", tid,
			    WSTOPSIG(status), strsignal(WSTOPSIG(status)), nr);
}

/* PTRACE_SYSCALL until the next syscall stop, passing over events of clone3/fork/vfork. */
static int x86_run_to_syscall_stop(pid_t tid, long nr)
{
	int r;

	do {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return pr_perror("thread %d: PTRACE_SYSCALL for syscall %ld", tid, nr);
		r = x86_wait_syscall_stop(tid, nr);
	} while (r == STOP_PASS);
	return r < 0 ? r : 0;
}

/*
 * Enter the syscall the way user space does: ip at the syscall instruction, ax = nr. orig_ax
 * is -1 so that leaving the current stop (an interrupt stop inside an interrupted syscall, or
 * the exit stop of our previous syscall) applies no restart fix-up to these registers; the
 * syscall instruction itself sets orig_ax = nr on entry.
 */
int arch_syscall(pid_t tid, const arch_gpregs_t *base, uint64_t gate, long nr, const uint64_t args[6],
		 long *ret)
{
	struct user_regs_struct regs = *x86_curegs(base);
	arch_gpregs_t out;
	int r;

	regs.rip = gate;
	regs.rax = (uint64_t)nr;
	regs.orig_rax = (uint64_t)-1;
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	r = x86_uregs_set(tid, &regs);
	if (r < 0)
		return r;
	r = x86_run_to_syscall_stop(tid, nr); /* syscall-enter stop */
	if (r < 0)
		return r;
	r = x86_run_to_syscall_stop(tid, nr); /* syscall-exit stop */
	if (r < 0)
		return r;
	r = arch_gpregs_get(tid, &out);
	if (r < 0)
		return r;
	*ret = (long)x86_uregs(&out)->rax;
	return 0;
}
