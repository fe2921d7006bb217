/* SPDX-License-Identifier: MIT */
/* File locks (flock, POSIX, OFD) held through the tree's fds: dumped with --file-locks. */
#ifndef CKPT_LOCKS_H
#define CKPT_LOCKS_H

#include "files.h"
#include "pstree.h"

/* One line of /proc/locks, or of a "lock:" line of /proc/PID/fdinfo/FD after "lock:". */
struct lock_line {
	char kind[8];	 /* "POSIX", "FLOCK", "OFDLCK", "LEASE", "DELEG", ... */
	bool write;	 /* WRITE, else READ */
	int64_t pid;	 /* -1 for OFD locks */
	char devino[48]; /* "fe:00:1234", as the kernel prints it */
	uint64_t start;
	uint64_t end; /* UINT64_MAX: "EOF" */
};

/* 0 and *ret for a held lock, 1 for a waiter ("->"), -EINVAL for a line not understood. */
int locks_parse_line(const char *line, struct lock_line *ret);

/*
 * After files_share_ids(): the flock, POSIX and OFD locks held through each fd of the tree go
 * to its FdEntry (fd_entry.locks). A lock held on the same file by a process outside the
 * tree is refused, naming the file and the holder: the restore would conflict with it.
 */
int locks_dump(const struct pstree *t, struct fd_list *fds);
/* Free what locks_dump() added to e. */
void locks_free(FdEntry *e);

#endif
