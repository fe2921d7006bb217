/* SPDX-License-Identifier: MIT */
/*
 * Shared memory objects and files deleted while open: anonymous shared memory, memfds,
 * System V segments, deleted regular files. Each is found by its identity (kind, dev, ino)
 * however many mappings and fds of the tree point at it, given an id, and dumped once:
 * its record to shmem.img, its pages (holes left out) to shmdata.img.
 */
#ifndef CKPT_SHMEM_H
#define CKPT_SHMEM_H

#include "fdinfo.pb-c.h"
#include "files.h"
#include "mm.pb-c.h"
#include "proc.h"
#include "pstree.h"
#include "shmem.pb-c.h"

struct shmem_obj;

struct shmem_set {
	struct shmem_obj *v;
	size_t n, cap;
	struct img *data; /* shmdata.img, created with the first object that has data */
	int dirfd;
	uint64_t bytes; /* data written */
};

/*
 * The mappings of pv[] (mm->vmas[] are their records, in the same order) that map an
 * object: note it (dumping it the first time) and set vma_entry.shmem_id.
 */
int shmem_note_vmas(struct shmem_set *s, pid_t pid, const struct proc_vma *pv, size_t n, MmEntry *mm);
/* The fds of the tree open on deleted files or memfds: the same, setting fd_entry.shmem_id. */
int shmem_note_fds(struct shmem_set *s, const struct pstree *tree, const struct fd_list *fds);
/* Write shmem.img (always, maybe empty) and close shmdata.img. */
int shmem_write(struct shmem_set *s);
void shmem_set_free(struct shmem_set *s);

/* Is this deleted mapping or fd path one shmem_note_* takes? */
bool shmem_is_sysv_path(const char *path);

#endif
