/* SPDX-License-Identifier: MIT */
/*
 * Fds no restore could bring back, refused at dump time before the tree is touched, each
 * with a message that names the pid, the fd and the kind of object: anonymous-inode files
 * (fanotify, io_uring, perf_event, bpf, pidfd, userfaultfd, ...; eventfd, epoll, signalfd,
 * timerfd and inotify are dumped: anonfd.c), sockets other than unix ones (unix sockets:
 * unixsk.c; TCP ones with --tcp-established: inetsk.c), and files holding leases, or locks without
 * --file-locks (locks.c).
 */
#ifndef CKPT_FDCHECK_H
#define CKPT_FDCHECK_H

#include "ckpt.h"
#include "pstree.h"

/*
 * With file_locks, flock, POSIX and OFD locks pass (locks.c dumps them); leases never do.
 * With tcp_established, TCP sockets established, listening (nothing waiting on the queue)
 * or unconnected pass (inetsk.c dumps them); other states are refused by name.
 */
int fdcheck_task(const struct task *task, const struct ckpt_dump_opts *opts);

/* The first lock of an fdinfo text ("lock:" lines, proc(5)), e.g. "POSIX lock"; NULL if none. */
const char *fdcheck_lock_kind_buf(const char *fdinfo);

/* What an anon_inode fd link ("anon_inode:[eventfd]") holds, e.g. "eventfd"; NULL if not one. */
const char *fdcheck_anon_kind(const char *link);

#endif
