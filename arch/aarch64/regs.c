/* SPDX-License-Identifier: MIT */
/* aarch64 general registers: NT_PRSTATUS (struct user_pt_regs) plus NT_ARM_SYSTEM_CALL. */
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "arch-private.h"

ArchKind arch_kind(void)
{
	return ARCH_KIND__AARCH64;
}

const char *arch_name(void)
{
	return "aarch64";
}

int a64_syscallno_get(pid_t tid, int *ret)
{
	struct iovec iov = {ret, sizeof(*ret)};

	if (ptrace(PTRACE_GETREGSET, tid, NT_ARM_SYSTEM_CALL, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_ARM_SYSTEM_CALL", tid);
	return 0;
}

int arch_gpregs_get(pid_t tid, arch_gpregs_t *ret)
{
	struct iovec iov = {ret->w, sizeof(struct user_pt_regs)};
	int nr, r;

	*ret = (arch_gpregs_t){};
	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_PRSTATUS", tid);
	if (iov.iov_len != sizeof(struct user_pt_regs))
		return pr_err_errno(-EIO, "thread %d: NT_PRSTATUS is %zu bytes, expected %zu", tid,
				    iov.iov_len, sizeof(struct user_pt_regs));
	r = a64_syscallno_get(tid, &nr);
	if (r < 0)
		return r;
	ret->w[A64_SYSCALLNO] = (uint64_t)(int64_t)nr;
	return 0;
}

int a64_syscallno_set(pid_t tid, int nr)
{
	struct iovec iov = {&nr, sizeof(nr)};

	if (ptrace(PTRACE_SETREGSET, tid, NT_ARM_SYSTEM_CALL, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET NT_ARM_SYSTEM_CALL %d", tid, nr);
	return 0;
}

int a64_regs_set(pid_t tid, const struct user_pt_regs *r, int syscallno)
{
	struct iovec iov = {(void *)r, sizeof(*r)};

	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET NT_PRSTATUS (pc %#llx)", tid,
				 (unsigned long long)r->pc);
	return a64_syscallno_set(tid, syscallno);
}

/*
 * As given, syscall number included. In an interrupt stop inside an interrupted syscall the
 * kernel has already rewound pc and x0 and dropped the syscall number (do_signal runs that
 * before get_signal), so registers read there restart the syscall by themselves.
 */
int arch_gpregs_set(pid_t tid, const arch_gpregs_t *regs)
{
	int r = a64_leave_syscall_stop(tid);

	if (r < 0)
		return r;
	return a64_regs_set(tid, a64_curegs(regs), (int)regs->w[A64_SYSCALLNO]);
}

uint64_t arch_gpregs_ip(const arch_gpregs_t *regs)
{
	return a64_curegs(regs)->pc;
}

uint64_t arch_gpregs_sp(const arch_gpregs_t *regs)
{
	return a64_curegs(regs)->sp;
}

uint64_t arch_thread_sp(const ThreadEntry *te)
{
	if (!te->aarch64)
		return 0;
	return te->aarch64->sp;
}
