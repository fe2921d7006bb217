/* SPDX-License-Identifier: MIT */
/*
 * Regular files saved with the image (ckpt_dump_opts.save_paths) and put back at restore:
 * savedfiles.img. For a Slurm job's output file, which Slurm truncates when it starts the
 * job again, and for node-local files that do not exist on another node.
 */
#ifndef CKPT_SAVEDFILES_H
#define CKPT_SAVEDFILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "files.h"
#include "pstree.h"

/* Does path fall under one of the NULL-terminated save_paths? */
bool savedfiles_match(const char *const *save_paths, const char *path);

/* Save the regular files the frozen tree holds open under save_paths (each path once). */
int savedfiles_dump(int dirfd, const char *const *save_paths, const struct pstree *tree,
		    const struct fd_list *fds);

/* What savedfiles.img holds: one entry per file, its records checked. */
struct saved_file {
	char *path;
	uint64_t size;
	uint32_t mode;
	uid_t uid;
	gid_t gid;
};

/*
 * Read and check savedfiles.img (none: *ret_n = 0): every file's records are contiguous,
 * start at 0, end at its size, and its path is absolute.
 */
int savedfiles_load(int dirfd, struct saved_file **ret, size_t *ret_n);
void savedfiles_free(struct saved_file *v, size_t n);

/*
 * Put every saved file back: created if missing, its content written and cut to its size.
 * Each file is written by a child process that holds the file owner's uid and gid (and no
 * supplementary groups), so an image can never write where its owner could not.
 */
int savedfiles_restore(int dirfd, const struct saved_file *v, size_t n);

#endif
