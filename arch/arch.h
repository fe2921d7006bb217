/* SPDX-License-Identifier: MIT */
/*
 * The one interface between the engine and an architecture. arch/<arch>/ implements all of it;
 * core/ never tests for an architecture. A feature that does not apply is a stub there.
 */
#ifndef CKPT_ARCH_H
#define CKPT_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core.pb-c.h"
#include "inventory.pb-c.h"

/* General registers of a stopped thread, large enough for every architecture's user_regs. */
typedef struct {
	uint64_t w[64];
} arch_gpregs_t;

ArchKind arch_kind(void);
const char *arch_name(void);

/* Bytes of the syscall instruction ("0f 05" on x86_64), written into the restore trampoline. */
const uint8_t *arch_syscall_insn(size_t *ret_len);

int arch_gpregs_get(pid_t tid, arch_gpregs_t *ret);
/*
 * Registers read in a stop inside an interrupted syscall, changed to re-execute that syscall
 * from its instruction with its original arguments (as arch_thread_restore() does), and to
 * need no further restart handling from the kernel. -ERESTART_RESTARTBLOCK re-runs the
 * original syscall too, so that a later dump never sees restart_syscall(2), whose
 * restart_block cannot be saved. Where this cannot be done it leaves regs as they are.
 */
void arch_gpregs_restart_fixup(arch_gpregs_t *regs);
int arch_gpregs_set(pid_t tid, const arch_gpregs_t *regs);
uint64_t arch_gpregs_ip(const arch_gpregs_t *regs);
uint64_t arch_gpregs_sp(const arch_gpregs_t *regs);

/*
 * Run one syscall in a ptrace-stopped thread: registers start from base, the instruction
 * pointer is set to gate (an address holding arch_syscall_insn() in the tracee), nr and up to
 * six args are loaded, and the thread runs with PTRACE_SYSCALL to the syscall-exit stop.
 * The thread's registers are left as the syscall left them; the caller puts base back.
 * *ret gets the syscall's return value (negative errno on failure). Returns 0, or -errno when
 * the injection itself failed (the thread died, an unexpected stop ...).
 */
int arch_syscall(pid_t tid, const arch_gpregs_t *base, uint64_t gate, long nr, const uint64_t args[6],
		 long *ret);

/* Dump a thread's registers and extended state (FPU, XSAVE) into te (allocated; arch_thread_free). */
int arch_thread_dump(pid_t tid, ThreadEntry *te);
void arch_thread_free(ThreadEntry *te);
/*
 * Check that te holds a well-formed state for this architecture: sizes, layout, and that
 * every extended feature it uses exists on this CPU. why gets a one-line reason.
 */
int arch_thread_validate(const ThreadEntry *te, char *why, size_t why_len);
/*
 * Put te's registers and extended state into a stopped thread. A thread that was stopped
 * inside an interrupted syscall (-ERESTARTSYS, -ERESTARTNOHAND, -ERESTARTNOINTR,
 * -ERESTART_RESTARTBLOCK) is set up to re-execute it, as the kernel would have.
 */
int arch_thread_restore(pid_t tid, const ThreadEntry *te);

/* CPU features for compatibility checks: recorded at dump, compared at restore. */
int arch_cpu_features(uint32_t **ret, size_t *ret_n);
uint64_t arch_xfeatures(void);
/* 0 if images dumped with inv can run here; -ENOEXEC with a reason in why otherwise. */
int arch_cpu_compatible(const InventoryEntry *inv, char *why, size_t why_len);

/* Stack pointer of the thread in te: where a clone3()d thread may be given a stack. */
uint64_t arch_thread_sp(const ThreadEntry *te);

#endif
