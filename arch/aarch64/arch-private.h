/* SPDX-License-Identifier: MIT */
/* aarch64 internals shared by the files of arch/aarch64/; nothing outside arch/aarch64 includes it. */
#ifndef CKPT_ARCH_AARCH64_PRIVATE_H
#define CKPT_ARCH_AARCH64_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <asm/ptrace.h>
#include "arch.h"
#include "log.h"

/*
 * arch_gpregs_t on aarch64: struct user_pt_regs (x0..x30, sp, pc, pstate) in w[0..33], then
 * the syscall number the kernel holds for the thread (NT_ARM_SYSTEM_CALL, -1 outside a
 * syscall) in w[A64_SYSCALLNO]. With it, get/set are a faithful round trip, and the kernel's
 * restart logic (arch/arm64/kernel/signal.c do_signal) sees the same state afterwards.
 */
#define A64_NR_PT_REGS (sizeof(struct user_pt_regs) / sizeof(uint64_t))
#define A64_SYSCALLNO  A64_NR_PT_REGS
_Static_assert(sizeof(struct user_pt_regs) + sizeof(uint64_t) <= sizeof(arch_gpregs_t),
	       "arch_gpregs_t too small for struct user_pt_regs");

#define A64_NR_GPRS	31
#define A64_FPSIMD_SIZE sizeof(struct user_fpsimd_state)

/* PSTATE.M: EL0 with SP_EL0, AArch64 (bit 4 clear); Arm ARM D1.2 / asm/ptrace.h PSR_MODE_*. */
#define A64_PSR_MODE_MASK 0x1fULL
#define A64_PSR_MODE_EL0T 0x0ULL

/* Syscall restart codes of the kernel, never seen by user space. */
#define ERESTARTSYS	      512
#define ERESTARTNOINTR	      513
#define ERESTARTNOHAND	      514
#define ERESTART_RESTARTBLOCK 516

static inline struct user_pt_regs *a64_uregs(arch_gpregs_t *g)
{
	return (struct user_pt_regs *)g->w;
}

static inline const struct user_pt_regs *a64_curegs(const arch_gpregs_t *g)
{
	return (const struct user_pt_regs *)g->w;
}

static inline bool a64_is_restart_code(uint64_t x0)
{
	int64_t v = (int64_t)x0;

	return v == -ERESTARTSYS || v == -ERESTARTNOINTR || v == -ERESTARTNOHAND ||
	       v == -ERESTART_RESTARTBLOCK;
}

/* NT_PRSTATUS and NT_ARM_SYSTEM_CALL, as given. */
int a64_regs_set(pid_t tid, const struct user_pt_regs *r, int syscallno);
int a64_syscallno_get(pid_t tid, int *ret);
int a64_syscallno_set(pid_t tid, int nr);
/*
 * A tracer's write to x7 does not survive a syscall-enter/exit stop (the kernel reports the
 * direction in x7 and puts the saved value back afterwards: arch/arm64/kernel/ptrace.c
 * report_syscall). Before final registers go in, move the thread from such a stop into an
 * interrupt stop. No-op in any other stop.
 */
int a64_leave_syscall_stop(pid_t tid);
/* waitpid(tid, __WALL) that retries EINTR and turns exit/death into -ESRCH (logged). */
int a64_wait(pid_t tid, int *ret_status, const char *what);

/* Write a one-line reason into why (may be NULL), log it at debug level, return err. */
static inline int _printf_(4, 5) a64_why(char *why, size_t why_len, int err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (why && why_len)
		snprintf(why, why_len, "%s", buf);
	pr_debug("aarch64: %s", buf);
	return err;
}

#endif
