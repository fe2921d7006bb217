/* SPDX-License-Identifier: MIT */
/* Open files of a task: dumped to fdinfo-<pid>.img, reopened at restore. */
#ifndef CKPT_FILES_H
#define CKPT_FILES_H

#include "fdinfo.pb-c.h"
#include "pstree.h"

struct fd_list {
	FdEntry **v;
	size_t n;
};

/* Describe every open fd of task; refuses, naming the fd, what cannot be restored. */
int files_collect(const struct task *task, struct fd_list *ret);
/* Describe fd of task alone (the dumper's own fds too: fds in flight, unixsk-scm.c). */
int files_describe_fd(const struct task *task, int fd, FdEntry *e);
int files_write(int dirfd, const struct task *task, const struct fd_list *l);
void files_free(struct fd_list *l);

#endif
