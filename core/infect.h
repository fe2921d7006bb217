/* SPDX-License-Identifier: MIT */
/*
 * Syscalls run by a seized thread on our behalf, for state that only the task itself can
 * report (rt_sigaction, sigaltstack, itimers, ...). Signals stay blocked while we borrow the
 * thread, and it is left in the same interrupt stop, with the same registers, as before.
 */
#ifndef CKPT_INFECT_H
#define CKPT_INFECT_H

#include "arch.h"
#include "pstree.h"

struct infect {
	pid_t tid;
	uint64_t gate;
	arch_gpregs_t saved;
	uint64_t saved_mask;
	bool active;
};

/* Find a syscall instruction in the task's [vdso] (gate) and map a scratch page (scratch). */
int infect_task_prepare(struct task *task, uint64_t vdso_start, uint64_t vdso_end);
/* Unmap the scratch page. */
int infect_task_finish(struct task *task);

int infect_begin(struct infect *inf, pid_t tid, uint64_t gate);
/* Run syscall nr in the thread; *ret is its return value (negative errno on failure). */
int infect_syscall(struct infect *inf, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5, long *ret);
/* Put registers and signal mask back and return the thread to an interrupt stop. */
int infect_end(struct infect *inf);

/* Copy between us and a task's memory; -EFAULT when not all of it could be moved. */
int task_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int task_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

#endif
