/* SPDX-License-Identifier: MIT */
/* The process tree being dumped or restored: tasks, their threads, host and namespace pids. */
#ifndef CKPT_PSTREE_H
#define CKPT_PSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "arch.h"

struct thread {
	pid_t tid;    /* in our PID namespace */
	pid_t ns_tid; /* in the tree's own */
	bool seized;
	bool was_stopped;  /* in group stop before the dump */
	bool trap_pending; /* interrupted while its cgroup is frozen: the trap comes after the thaw */
};

struct task {
	pid_t pid; /* in our PID namespace */
	pid_t ns_pid, ns_ppid, ns_pgid, ns_sid;
	struct task *parent;
	struct thread *threads; /* threads[0] is the thread group leader */
	size_t nr_threads;
	uint64_t gate;	    /* address of a syscall instruction in the task */
	uint64_t scratch;   /* one page mapped in the task for injected syscalls */
	bool zombie;	    /* exited, waiting for its parent: nothing to seize or dump */
	uint32_t exit_code; /* a zombie's wait status */
};

struct pstree {
	struct task **tasks; /* tasks[0] is the root; parents before children */
	size_t nr_tasks;
	bool defer_traps; /* seizing inside a frozen cgroup */
};

struct task *pstree_add(struct pstree *t, pid_t pid, struct task *parent);
struct task *pstree_find(const struct pstree *t, pid_t pid);
int task_add_thread(struct task *task, pid_t tid);
struct thread *task_find_thread(const struct task *task, pid_t tid);
/* Forget thread k of task (it exited); the leader stays threads[0] unless k is 0. */
void task_drop_thread(struct task *task, size_t k);
/* Take a task that exited out of the tree: -EBUSY if the tree holds children of it, -EINVAL for the root. */
int pstree_drop(struct pstree *t, struct task *task);
void pstree_free(struct pstree *t);

#endif
