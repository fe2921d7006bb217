/* SPDX-License-Identifier: MIT */
/* Freezing a tree with ptrace and letting it go again. */
#ifndef CKPT_SEIZE_H
#define CKPT_SEIZE_H

#include "pstree.h"

/* Refuse pids that cannot be dumped: missing, kernel threads, init, ckpt itself. */
int seize_check_root(pid_t pid);
/*
 * PTRACE_SEIZE + PTRACE_INTERRUPT every thread of pid and of all its descendants, re-scanning
 * threads and children until a whole pass finds nothing new. With freeze_cgroup, that cgroup
 * is frozen while the tree is seized, so that nothing in it can fork or exit meanwhile. On
 * failure everything seized so far is released and t is emptied.
 */
int seize_tree(pid_t pid, const char *freeze_cgroup, struct pstree *t);

enum release_mode {
	RELEASE_RUN,  /* detach: the tree runs on as if nothing happened */
	RELEASE_STOP, /* detach with SIGSTOP pending: the tree stays stopped */
	RELEASE_KILL, /* SIGKILL every task */
};

void seize_release(struct pstree *t, enum release_mode mode);

/* Wait for tid's next ptrace stop; returns the wait status or -errno. */
int seize_wait_stop(pid_t tid);

#endif
