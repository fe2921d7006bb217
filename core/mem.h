/* SPDX-License-Identifier: MIT */
/* Address spaces: which mappings a task has, and the pages that must be saved. */
#ifndef CKPT_MEM_H
#define CKPT_MEM_H

#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "proc.h"
#include "pstree.h"

struct dump_stats_acc {
	uint64_t pages;
	uint64_t bytes;
	const volatile int *cancel; /* ckpt_dump_opts.cancel */
};

/* -ECANCELED, reported once, when the caller asked the dump to stop. */
int dump_check_cancel(const struct dump_stats_acc *acc);

/*
 * Turn smaps into vma_entry records. Refuses (with a message naming the mapping) what
 * cannot be restored yet: device mappings. Shared memory and deleted files get their
 * shmem_id from shmem_note_vmas() afterwards.
 */
int mem_collect_vmas(pid_t pid, const struct proc_vma *pv, size_t n, MmEntry *mm);
void mem_free_vmas(MmEntry *mm);

/* Write pagemap-<ns_pid>.img and pages-<ns_pid>.img for the private pages of mm's mappings. */
int mem_dump_pages(int dirfd, const struct task *task, const MmEntry *mm, struct dump_stats_acc *acc);

/* The kernel's name for a vma kind, for messages. */
const char *mem_vma_kind_name(VmaKind kind);

#endif
