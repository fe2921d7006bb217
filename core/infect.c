/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "infect.h"
#include "log.h"
#include "seize.h"
#include "syscalls.h"

int task_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
	ssize_t n = sys_process_vm_readv(pid, &l, 1, &r, 1);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EFAULT;
}

int task_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {(void *)buf, len}, r = {(void *)(uintptr_t)addr, len};
	ssize_t n = sys_process_vm_writev(pid, &l, 1, &r, 1);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EFAULT;
}

int infect_begin(struct infect *inf, pid_t tid, uint64_t gate)
{
	uint64_t all = ~0ull;
	int r;

	*inf = (struct infect){.tid = tid, .gate = gate};
	r = arch_gpregs_get(tid, &inf->saved);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &inf->saved_mask) < 0)
		return pr_perror("thread %d: PTRACE_GETSIGMASK", tid);
	/* A signal delivered while we borrow the thread would run the task's handler. */
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &all) < 0)
		return pr_perror("thread %d: PTRACE_SETSIGMASK", tid);
	inf->active = true;
	return 0;
}

int infect_syscall(struct infect *inf, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5, long *ret)
{
	const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};

	return arch_syscall(inf->tid, &inf->saved, inf->gate, nr, args, ret);
}

/*
 * The thread now sits in a syscall-exit stop of our last syscall. If it had been stopped
 * inside an interrupted syscall, the kernel would restart that syscall only on its way out of
 * a signal check (arch_do_signal_or_restart), which a syscall-exit stop skips. So the saved
 * registers are first set to re-execute the syscall (arch_gpregs_restart_fixup), then the
 * thread goes through one more PTRACE_INTERRUPT trap so that it is back in the kind of stop
 * seize left it in (and an architecture that cannot do the fix-up gets the kernel's).
 */
int infect_end(struct infect *inf)
{
	int r, status;

	if (!inf->active)
		return 0;
	inf->active = false;
	arch_gpregs_restart_fixup(&inf->saved);
	r = arch_gpregs_set(inf->tid, &inf->saved);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETSIGMASK, inf->tid, sizeof(uint64_t), &inf->saved_mask) < 0)
		return pr_perror("thread %d: restoring its signal mask", inf->tid);
	if (ptrace(PTRACE_INTERRUPT, inf->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, inf->tid, 0, 0) < 0)
		return pr_perror("thread %d: returning it to its stop", inf->tid);
	for (;;) {
		status = seize_wait_stop(inf->tid);
		if (status < 0)
			return pr_err_errno(status, "thread %d: lost while returning to its stop", inf->tid);
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* A signal that was queued meanwhile: hand it on, the trap follows. */
		if (ptrace(PTRACE_CONT, inf->tid, 0, (long)WSTOPSIG(status)) < 0)
			return pr_perror("thread %d: continuing", inf->tid);
	}
}

static int find_gate(struct task *task, uint64_t start, uint64_t end)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = end - start, ilen;
	const uint8_t *insn = arch_syscall_insn(&ilen);
	int r;

	if (!start || end <= start || len > (1 << 20))
		return pr_err("pid %d: has no [vdso] to run syscalls through", task->pid), -ENOTSUP;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	r = task_mem_read(task->pid, start, buf, len);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its [vdso]", task->pid);
	for (size_t i = 0; i + ilen <= len; i++)
		if (!memcmp(buf + i, insn, ilen)) {
			task->gate = start + i;
			return 0;
		}
	return pr_err("pid %d: no syscall instruction in its [vdso]", task->pid), -ENOTSUP;
}

int infect_task_prepare(struct task *task, uint64_t vdso_start, uint64_t vdso_end)
{
	struct infect inf;
	long ret;
	int r;

	r = find_gate(task, vdso_start, vdso_end);
	if (r < 0)
		return r;
	r = infect_begin(&inf, task->pid, task->gate);
	if (r < 0)
		return r;
	r = infect_syscall(&inf, __NR_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   (uint64_t)-1, 0, &ret);
	if (r == 0 && ret < 0 && ret > -4096)
		r = pr_err_errno((int)ret, "pid %d: mapping a scratch page", task->pid);
	if (r == 0)
		task->scratch = (uint64_t)ret;
	return infect_end(&inf) ?: r;
}

int infect_task_finish(struct task *task)
{
	struct infect inf;
	long ret;
	int r;

	if (!task->scratch)
		return 0;
	r = infect_begin(&inf, task->pid, task->gate);
	if (r < 0)
		return r;
	r = infect_syscall(&inf, __NR_munmap, task->scratch, 4096, 0, 0, 0, 0, &ret);
	if (r == 0 && ret < 0)
		r = pr_err_errno((int)ret, "pid %d: unmapping the scratch page", task->pid);
	task->scratch = 0;
	return infect_end(&inf) ?: r;
}
