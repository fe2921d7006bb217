/* SPDX-License-Identifier: MIT */
/* Unix socketpairs with both ends inside the tree: recreated with the bytes queued in them. */
#ifndef CKPT_UNIXSK_H
#define CKPT_UNIXSK_H

#include "files.h"
#include "pstree.h"

/*
 * fds[i] are the fds of t->tasks[i]. A pair of connected unnamed unix sockets whose two ends
 * are both held in the tree is written to unixsk.img with the bytes queued in each end; any
 * other socket fd becomes an external fd (FD_EXTERNAL, key "socket:[ino]"). Queued file
 * descriptors and queued datagrams are refused, naming the fd.
 */
int unixsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds);

#endif
