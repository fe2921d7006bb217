/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel can do, probed once by trying each thing (never by comparing kernel
 * versions) and cached for the life of the process. `ckpt check` prints it through
 * ckpt_check().
 */
#ifndef CKPT_KERNDAT_H
#define CKPT_KERNDAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kerndat {
	/* ptrace, all tried on a forked child */
	bool ptrace_seize;	 /* PTRACE_SEIZE, PTRACE_INTERRUPT and its PTRACE_EVENT_STOP */
	bool ptrace_regset;	 /* PTRACE_GETREGSET NT_PRSTATUS */
	size_t prstatus_size;	 /* bytes the kernel returned for NT_PRSTATUS */
	bool ptrace_sigmask;	 /* PTRACE_GETSIGMASK */
	bool ptrace_peeksiginfo; /* PTRACE_PEEKSIGINFO */
	bool ptrace_rseq;	 /* PTRACE_GET_RSEQ_CONFIGURATION */
	bool rseq_registered;	 /* the child (so glibc here) had an rseq area */

	/* processes */
	bool clone3_set_tid; /* clone3 set_tid = {5} inside a new PID namespace */
	bool pidfd_open;
	bool pidfd_getfd;
	bool kcmp; /* kcmp(KCMP_VM and KCMP_FILE) */
	bool process_vm_readv;
	bool prctl_mm_map;     /* PR_SET_MM / PR_SET_MM_MAP_SIZE answers */
	uint32_t mm_map_size;  /* sizeof(struct prctl_mm_map) of the kernel */
	bool cap_ckpt_restore; /* CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN effective */
	bool cap_is_sys_admin; /* ... and it is CAP_SYS_ADMIN that grants it */

	/* memory */
	bool map_files;	       /* /proc/self/map_files/<range> can be read and opened */
	bool pagemap_scan;     /* PAGEMAP_SCAN ioctl on /proc/self/pagemap */
	bool uffd;	       /* a userfaultfd could be created */
	bool uffd_dev;	       /* ... only through /dev/userfaultfd */
	bool uffd_wp_async;    /* UFFD_FEATURE_WP_ASYNC offered */
	bool uffd_wp_tracking; /* async WP + PAGEMAP_SCAN reported exactly the written page */
	bool soft_dirty;       /* clear_refs 4, write, pagemap bit 55 set */
	bool vvar_vclock;      /* "[vvar_vclock]" in /proc/self/maps */
	bool memfd;	       /* memfd_create */

	/* freezing */
	bool cgroup_v1_freezer; /* a v1 hierarchy with the freezer controller is mounted */
	bool cgroup_v2_freeze;	/* a cgroup2 mount has cgroup.freeze files */
	bool tcp_repair;	/* TCP_REPAIR allowed (CAP_NET_ADMIN): --tcp-established */
};

/*
 * The probed features. The first call runs the probes (a few forked children, each reaped
 * before it returns); later calls return the cached struct. Safe to call from several threads.
 * Returns NULL with errno set (and an error logged) when a probe could not even be run (pipe,
 * fork or wait failed); nothing is cached then and a later call tries again. A feature that
 * is merely absent is not a failure. The caller must not reap children it did not start
 * (waitpid(-1) from another thread, SIGCHLD set to SIG_IGN) while this runs.
 *
 * ckpt_check() (include/ckpt.h) prints the same results as a table of named features.
 */
const struct kerndat *kerndat_get(void);

#endif
