/* SPDX-License-Identifier: MIT */
/*
 * Seccomp filters (mode 2): read with PTRACE_SECCOMP_GET_FILTER at dump time and installed
 * again at restore. Strict mode (1), and threads of one task with different filter chains,
 * are refused before the tree is touched.
 */
#ifndef CKPT_SECCOMP_H
#define CKPT_SECCOMP_H

#include "arena.h"
#include "core.pb-c.h"
#include "proc.h"
#include "pstree.h"
#include "rst.h"

/*
 * Before anything is injected: refuse what cannot be dumped, and suspend the filters of a
 * seized task (PTRACE_O_SUSPEND_SECCOMP), so that they do not apply to injected syscalls.
 */
int seccomp_check(const struct task *task);
/* The main thread's filter chain into core->seccomp (st: the task's status). */
int seccomp_dump(struct arena *a, const struct task *task, const struct proc_status *st, TaskCoreEntry *core);

int seccomp_validate(const struct rst_tree *t);
/*
 * Install the filters in a seized restored task whose threads all exist, oldest first,
 * synchronised to every thread (SECCOMP_FILTER_FLAG_TSYNC). Its filters are suspended for
 * the injected syscalls that follow, until it is detached.
 */
int seccomp_restore(struct rst_inject *in, const struct rst_task *task);

#endif
