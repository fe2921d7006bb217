/* SPDX-License-Identifier: MIT */
/*
 * Fds no restore could bring back, refused at dump time before the tree is touched, each
 * with a message that names the pid, the fd and the kind of object: anonymous-inode files
 * (eventfd, epoll, signalfd, timerfd, inotify, fanotify, io_uring, perf_event, bpf, pidfd,
 * userfaultfd, ...), sockets other than unix ones, unix sockets bound to a name or
 * listening, and files holding locks or leases.
 */
#ifndef CKPT_FDCHECK_H
#define CKPT_FDCHECK_H

#include "pstree.h"

int fdcheck_task(const struct task *task);

/* The first lock of an fdinfo text ("lock:" lines, proc(5)), e.g. "POSIX lock"; NULL if none. */
const char *fdcheck_lock_kind_buf(const char *fdinfo);

/* What an anon_inode fd link ("anon_inode:[eventfd]") holds, e.g. "eventfd"; NULL if not one. */
const char *fdcheck_anon_kind(const char *link);

#endif
