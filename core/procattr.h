/* SPDX-License-Identifier: MIT */
/*
 * Scheduling attributes of each thread (policy, nice, real-time priority, reset-on-fork)
 * and the task's oom_score_adj: read from outside at dump time, checked before a restore
 * creates anything, put back before the credentials drop the restorer's privilege.
 */
#ifndef CKPT_PROCATTR_H
#define CKPT_PROCATTR_H

#include "arena.h"
#include "core.pb-c.h"
#include "pstree.h"
#include "rst.h"

/* Refuse what cannot be dumped (SCHED_DEADLINE), before the tree is touched. */
int procattr_check(const struct task *task);
/* Fill the sched of every thread of core (threads already dumped) and oom_score_adj. */
int procattr_dump(struct arena *a, const struct task *task, TaskCoreEntry *core);

/* Restore validation: values in range, and what needs privilege restorable by us. */
int procattr_validate(const struct rst_tree *t);
/* Injected sched_setattr for one thread of a seized restored task. */
int procattr_restore_thread(struct rst_inject *in, const ThreadEntry *te);
/* Written through /proc by the restorer. */
int procattr_restore_oom(const struct rst_task *task);

#endif
