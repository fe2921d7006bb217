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

/*
 * Capacity and queued bytes of the pipe or FIFO fd (ours), read without consuming them (tee);
 * no data unless readable (a write-only end cannot be teed). -errno on failure.
 */
int pipes_peek_fd(int fd, bool readable, uint32_t *ret_size, uint8_t **ret_data, size_t *ret_len);

/* A copy of fd of task pid in our own table (pidfd_getfd(2)), O_CLOEXEC; logs on failure. */
int pipes_grab_fd(pid_t pid, int fd);

/*
 * Give every file, directory and device fd of the tree a file_id; fds that share one open
 * file description (dup, fork; told by kcmp KCMP_FILE) get the same, so that the restore
 * makes one description again and they keep sharing its offset and flags.
 */
int files_share_ids(const struct pstree *t, struct fd_list *fds);

#endif
