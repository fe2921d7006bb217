/* SPDX-License-Identifier: MIT */
/* Per-task state that is not memory or files: threads, signals, timers, creds, limits. */
#ifndef CKPT_DUMP_TASK_H
#define CKPT_DUMP_TASK_H

#include "arena.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "proc.h"
#include "pstree.h"

/* Fill core (allocations in a) for a seized task whose gate and scratch page are ready. */
int dump_task_core(struct arena *a, struct task *task, const struct proc_status *st, TaskCoreEntry *core);
/* mm fields that need the task itself (brk) and /proc (stat, auxv, exe). */
int dump_task_mm(struct arena *a, struct task *task, MmEntry *mm);
void dump_task_free_threads(TaskCoreEntry *core);

#endif
