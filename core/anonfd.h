/* SPDX-License-Identifier: MIT */
/*
 * Anonymous-inode fds dumped with their state and made again in the task at restore:
 * eventfd, timerfd, signalfd, epoll and inotify instances (anonfd.img), and FIFOs, which are
 * pipes with a path (fifo.c, fifo.img).
 */
#ifndef CKPT_ANONFD_H
#define CKPT_ANONFD_H

#include <sys/stat.h>
#include "files.h"
#include "pstree.h"

/* The fd kind of an fd link we restore ("anon_inode:[eventfd]" -> FD_EVENTFD), or 0. */
int anonfd_link_kind(const char *link);

/*
 * When fd of pid (its link and stat) is a FIFO or an anonymous-inode kind we restore: sets
 * e's kind and path and returns 1; 0 when it is none of them; -errno (logged) on a refusal.
 */
int anonfd_describe(pid_t pid, int fd, const char *link, const struct stat *st, FdEntry *e);

/*
 * After files_share_ids(): the state of each description (by file_id) to anonfd.img, read
 * from /proc/PID/fdinfo without changing it. Refuses, naming pid and fd, an epoll instance
 * watching a file that the task no longer holds at the watched fd number, and an inotify
 * watch whose inode has no path.
 */
int anonfd_dump(int dirfd, const struct pstree *t, const struct fd_list *fds);

#endif
