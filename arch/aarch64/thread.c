/* SPDX-License-Identifier: MIT */
/* aarch64 thread state: x0..x30/sp/pc/pstate, FPSIMD (NT_PRFPREG) and TPIDR_EL0 (NT_ARM_TLS). */
#include <elf.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <asm/hwcap.h>
#include "arch-private.h"

/*
 * State this port does not carry yet. Refusing at dump is better than an image that restores
 * into a crash: pointer-authentication keys are per process and a restored task gets the
 * restorer's (every signed return address on its stack would fail to authenticate), and live
 * SVE registers are wider than the FPSIMD view NT_PRFPREG gives.
 */
static int a64_unsupported_state(pid_t tid)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	struct user_sve_header sve = {};
	struct iovec iov = {&sve, sizeof(sve)};

	if (hwcap & (HWCAP_PACA | HWCAP_PACG))
		return pr_err("thread %d: pointer-authentication keys are not saved yet (aarch64)", tid),
		       -EOPNOTSUPP;
	if (!(hwcap & HWCAP_SVE))
		return 0;
	if (ptrace(PTRACE_GETREGSET, tid, NT_ARM_SVE, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_ARM_SVE", tid);
	if ((sve.flags & SVE_PT_REGS_MASK) == SVE_PT_REGS_SVE)
		return pr_err("thread %d: live SVE register state is not saved yet (aarch64)", tid),
		       -EOPNOTSUPP;
	return 0;
}

static int a64_fpsimd_dump(pid_t tid, ThreadCoreAarch64 *a)
{
	_cleanup_free_ uint8_t *buf = malloc(A64_FPSIMD_SIZE);
	struct iovec iov = {buf, A64_FPSIMD_SIZE};

	if (!buf)
		return -ENOMEM;
	if (ptrace(PTRACE_GETREGSET, tid, NT_PRFPREG, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_PRFPREG", tid);
	if (iov.iov_len != A64_FPSIMD_SIZE)
		return pr_err_errno(-EIO, "thread %d: NT_PRFPREG is %zu bytes", tid, iov.iov_len);
	a->fpsimd.data = TAKE_PTR(buf);
	a->fpsimd.len = A64_FPSIMD_SIZE;
	a->has_fpsimd = true;
	return 0;
}

static int a64_tls_dump(pid_t tid, ThreadCoreAarch64 *a)
{
	uint64_t tls = 0;
	struct iovec iov = {&tls, sizeof(tls)};

	if (ptrace(PTRACE_GETREGSET, tid, NT_ARM_TLS, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_ARM_TLS", tid);
	a->tls = tls;
	a->has_tls = true;
	return 0;
}

static int a64_thread_dump_into(pid_t tid, ThreadCoreAarch64 *a)
{
	arch_gpregs_t g;
	const struct user_pt_regs *u = a64_curegs(&g);
	int r;

	r = a64_unsupported_state(tid);
	if (r < 0)
		return r;
	r = arch_gpregs_get(tid, &g);
	if (r < 0)
		return r;
	/*
	 * In a syscall stop of an interrupted syscall x0 holds -ERESTART* and the first argument
	 * (orig_x0) is not visible through ptrace. Seized threads sit in interrupt stops, where the
	 * kernel has already rewound; anything else cannot be restarted correctly.
	 */
	if ((int64_t)g.w[A64_SYSCALLNO] != -1 && a64_is_restart_code(u->regs[0]))
		return pr_err("thread %d: stopped in an interrupted syscall whose arguments ptrace does "
			      "not show",
			      tid),
		       -EOPNOTSUPP;
	a->regs = malloc(A64_NR_GPRS * sizeof(*a->regs));
	if (!a->regs)
		return -ENOMEM;
	memcpy(a->regs, u->regs, A64_NR_GPRS * sizeof(*a->regs));
	a->n_regs = A64_NR_GPRS;
	a->sp = u->sp;
	a->pc = u->pc;
	a->pstate = u->pstate;
	r = a64_fpsimd_dump(tid, a);
	if (r < 0)
		return r;
	return a64_tls_dump(tid, a);
}

int arch_thread_dump(pid_t tid, ThreadEntry *te)
{
	ThreadCoreAarch64 *a = malloc(sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	thread_core_aarch64__init(a);
	te->aarch64 = a;
	r = a64_thread_dump_into(tid, a);
	if (r < 0)
		arch_thread_free(te);
	return r;
}

void arch_thread_free(ThreadEntry *te)
{
	ThreadCoreAarch64 *a = te->aarch64;

	if (!a)
		return;
	free(a->regs);
	free(a->fpsimd.data);
	free(a);
	te->aarch64 = NULL;
}

int arch_thread_validate(const ThreadEntry *te, char *why, size_t why_len)
{
	const ThreadCoreAarch64 *a = te->aarch64;

	if (why && why_len)
		why[0] = '\0';
	if (!a)
		return a64_why(why, why_len, -EINVAL, "thread %u has no aarch64 register state", te->tid);
	if (a->n_regs != A64_NR_GPRS)
		return a64_why(why, why_len, -EINVAL, "%zu general registers, expected %d", a->n_regs,
			       A64_NR_GPRS);
	if ((a->pstate & A64_PSR_MODE_MASK) != A64_PSR_MODE_EL0T)
		return a64_why(why, why_len, -EINVAL,
			       "pstate %#llx is not AArch64 EL0 (32-bit tasks are not "
			       "supported)",
			       (unsigned long long)a->pstate);
	if (a->has_fpsimd && a->fpsimd.len != A64_FPSIMD_SIZE)
		return a64_why(why, why_len, -EINVAL, "FPSIMD state of %zu bytes, expected %zu",
			       a->fpsimd.len, A64_FPSIMD_SIZE);
	return 0;
}

static int a64_regset_set(pid_t tid, int type, const char *name, void *buf, size_t len)
{
	struct iovec iov = {buf, len};

	if (ptrace(PTRACE_SETREGSET, tid, type, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET %s", tid, name);
	return 0;
}

/*
 * Dumped in an interrupt stop, the registers already point back at an interrupted syscall
 * (pc on the svc, x0 = its first argument): the kernel rewinds before the stop. The syscall
 * number goes in as -1 so that nothing is rewound a second time on the way out; an
 * -ERESTART_RESTARTBLOCK syscall thus re-runs with its original arguments (the kernel's
 * restart_block did not survive the checkpoint).
 */
int arch_thread_restore(pid_t tid, const ThreadEntry *te)
{
	const ThreadCoreAarch64 *a = te->aarch64;
	struct user_pt_regs regs = {};
	uint64_t tls;
	char why[256];
	int r;

	r = arch_thread_validate(te, why, sizeof(why));
	if (r < 0)
		return pr_err_errno(r, "thread %d: cannot restore its registers: %s", tid, why);
	r = a64_leave_syscall_stop(tid);
	if (r < 0)
		return r;
	memcpy(regs.regs, a->regs, sizeof(regs.regs));
	regs.sp = a->sp;
	regs.pc = a->pc;
	regs.pstate = a->pstate;
	r = a64_regs_set(tid, &regs, -1);
	if (r < 0)
		return r;
	if (a->has_fpsimd) {
		r = a64_regset_set(tid, NT_PRFPREG, "NT_PRFPREG", a->fpsimd.data, a->fpsimd.len);
		if (r < 0)
			return r;
	}
	if (!a->has_tls)
		return 0;
	tls = a->tls;
	return a64_regset_set(tid, NT_ARM_TLS, "NT_ARM_TLS", &tls, sizeof(tls));
}

/*
 * Not done here: ptrace does not show the first argument of an interrupted syscall on arm64,
 * so the kernel's own restart (core/infect.c's extra interrupt trap) is left to do it.
 */
void arch_gpregs_restart_fixup(arch_gpregs_t *regs)
{
	(void)regs;
}
