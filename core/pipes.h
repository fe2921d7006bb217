/* SPDX-License-Identifier: MIT */
/* Pipes with both ends inside the tree: recreated with the data queued in them. */
#ifndef CKPT_PIPES_H
#define CKPT_PIPES_H

#include "files.h"
#include "pstree.h"

/*
 * fds[i] are the fds of t->tasks[i]. A pipe whose read and write ends are both held in the
 * tree is written to pipes.img with its queued data; any other pipe fd becomes an external
 * fd (FD_EXTERNAL, key "pipe:[ino]").
 */
int pipes_dump(int dirfd, const struct pstree *t, struct fd_list *fds);

#endif
