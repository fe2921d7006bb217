/* SPDX-License-Identifier: MIT */
/* aarch64 syscall injection: svc #0 at a gate, x8 = nr, x0..x5 = args, result in x0. */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "arch-private.h"

static const uint8_t a64_syscall_insn[] = {0x01, 0x00, 0x00, 0xd4}; /* svc #0, little-endian */

const uint8_t *arch_syscall_insn(size_t *ret_len)
{
	*ret_len = sizeof(a64_syscall_insn);
	return a64_syscall_insn;
}

int a64_wait(pid_t tid, int *ret_status, const char *what)
{
	int status;
	pid_t p;

	do
		p = waitpid(tid, &status, __WALL);
	while (p < 0 && errno == EINTR);
	if (p < 0)
		return pr_perror("thread %d: waitpid (%s)", tid, what);
	if (WIFEXITED(status))
		return pr_err_errno(-ESRCH, "thread %d: exited with %d (%s)", tid, WEXITSTATUS(status), what);
	if (WIFSIGNALED(status))
		return pr_err_errno(-ESRCH, "thread %d: killed by signal %d (%s)", tid, WTERMSIG(status),
				    what);
	*ret_status = status;
	return 0;
}

int a64_leave_syscall_stop(pid_t tid)
{
	struct __ptrace_syscall_info info = {};
	int status, r;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) < 0)
		return pr_perror("thread %d: PTRACE_GET_SYSCALL_INFO", tid);
	if (info.op != PTRACE_SYSCALL_INFO_ENTRY && info.op != PTRACE_SYSCALL_INFO_EXIT)
		return 0;
	/* No restart of the syscall we stand in on the way to the trap. */
	r = a64_syscallno_set(tid, -1);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0)
		return pr_perror("thread %d: moving it to an interrupt stop", tid);
	for (;;) {
		r = a64_wait(tid, &status, "moving to an interrupt stop");
		if (r < 0)
			return r;
		if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal that came meanwhile: hand it on, the trap follows. */
		if (ptrace(PTRACE_CONT, tid, 0, (long)WSTOPSIG(status)) < 0)
			return pr_perror("thread %d: continuing", tid);
	}
}

enum a64_stop {
	STOP_SYSCALL,
	STOP_PASS, /* fork/vfork/clone/vfork-done event of the syscall itself */
};

static int a64_classify(pid_t tid, int status, long nr)
{
	int ev = status >> 16;

	if (!WIFSTOPPED(status))
		return pr_err_errno(-EINTR, "thread %d: unexpected wait status %#x during syscall %ld", tid,
				    status, nr);
	if (WSTOPSIG(status) == (SIGTRAP | 0x80))
		return STOP_SYSCALL;
	if (WSTOPSIG(status) == SIGTRAP && (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK ||
					    ev == PTRACE_EVENT_VFORK || ev == PTRACE_EVENT_VFORK_DONE))
		return STOP_PASS;
	if (ev == PTRACE_EVENT_EXIT)
		return pr_err_errno(-ESRCH, "thread %d: exiting during injected syscall %ld", tid, nr);
	if (ev)
		return pr_err_errno(-EINTR, "thread %d: ptrace event %d during injected syscall %ld", tid, ev,
				    nr);
	return pr_err_errno(-EINTR, "thread %d: got signal %d (%s) during injected syscall %ld", tid,
			    WSTOPSIG(status), strsignal(WSTOPSIG(status)), nr);
}

static int a64_run_to_syscall_stop(pid_t tid, long nr)
{
	int status, r;

	do {
		if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
			return pr_perror("thread %d: PTRACE_SYSCALL for syscall %ld", tid, nr);
		r = a64_wait(tid, &status, "injected syscall");
		if (r < 0)
			return r;
		r = a64_classify(tid, status, nr);
	} while (r == STOP_PASS);
	return r < 0 ? r : 0;
}

/*
 * The syscall number register is set to -1 so that leaving the current stop applies no
 * restart to these registers; svc sets it to x8 on entry. Left in the syscall-exit stop.
 */
int arch_syscall(pid_t tid, const arch_gpregs_t *base, uint64_t gate, long nr, const uint64_t args[6],
		 long *ret)
{
	struct user_pt_regs regs = *a64_curegs(base);
	arch_gpregs_t out;
	int r;

	regs.pc = gate;
	regs.regs[8] = (uint64_t)nr;
	for (int i = 0; i < 6; i++)
		regs.regs[i] = args[i];
	r = a64_regs_set(tid, &regs, -1);
	if (r < 0)
		return r;
	r = a64_run_to_syscall_stop(tid, nr); /* syscall-enter stop */
	if (r < 0)
		return r;
	r = a64_run_to_syscall_stop(tid, nr); /* syscall-exit stop */
	if (r < 0)
		return r;
	r = arch_gpregs_get(tid, &out);
	if (r < 0)
		return r;
	*ret = (long)a64_uregs(&out)->regs[0];
	return 0;
}
