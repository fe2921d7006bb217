/* SPDX-License-Identifier: MIT */
/* FIFOs (named pipes) held open by the tree: reopened by path, with the data queued in them. */
#ifndef CKPT_FIFO_H
#define CKPT_FIFO_H

#include "files.h"
#include "pstree.h"

/*
 * fds[i] are the fds of t->tasks[i]. One record per FIFO (dev, ino) to fifo.img, with its
 * capacity and queued bytes, whichever ends the tree holds.
 */
int fifo_dump(int dirfd, const struct pstree *t, const struct fd_list *fds);

#endif
