/* SPDX-License-Identifier: MIT */
/*
 * Parsers of /proc/PID files. Each has a _buf variant taking the file's text, which is what
 * the unit tests drive. All return 0 or -errno; text that does not parse is -EINVAL.
 * Pids read here are those of the reader's PID namespace unless named ns_*.
 */
#ifndef CKPT_PROC_H
#define CKPT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* smaps VmFlags we keep (bits of vma_entry.madv). */
enum {
	VMA_MADV_GROWSDOWN = 1 << 0,  /* gd */
	VMA_MADV_LOCKED = 1 << 1,     /* lo */
	VMA_MADV_DONTFORK = 1 << 2,   /* dc */
	VMA_MADV_DONTDUMP = 1 << 3,   /* dd */
	VMA_MADV_HUGEPAGE = 1 << 4,   /* hg */
	VMA_MADV_NOHUGEPAGE = 1 << 5, /* nh */
	VMA_MADV_MERGEABLE = 1 << 6,  /* mg */
	VMA_MADV_WIPEONFORK = 1 << 7, /* wf */
	VMA_MADV_IO = 1 << 8,	      /* io: VM_IO, cannot be dumped */
	VMA_MADV_PFNMAP = 1 << 9,     /* pf */
	VMA_MADV_SHARED = 1 << 10,    /* sh */
};

struct proc_vma {
	uint64_t start, end;
	uint64_t pgoff; /* bytes */
	uint32_t prot;	/* PROT_READ|PROT_WRITE|PROT_EXEC */
	bool shared;	/* 's' in the perms column */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	char *path;    /* file path, "[heap]", "[stack]", "[vdso]", ..., or NULL for anon */
	bool deleted;  /* path ended in " (deleted)", which is stripped */
	uint32_t madv; /* VMA_MADV_* from smaps VmFlags; 0 when parsed from maps */
};

/* /proc/PID/smaps (maps plus VmFlags). */
int proc_parse_smaps(pid_t pid, struct proc_vma **ret, size_t *ret_n);
int proc_parse_smaps_buf(const char *buf, struct proc_vma **ret, size_t *ret_n);
void proc_vmas_free(struct proc_vma *vmas, size_t n);

struct proc_status {
	char *name;
	char state;
	uint32_t umask;
	pid_t tgid, pid, ppid;
	pid_t ns_tgid, ns_pid, ns_pgid, ns_sid; /* innermost namespace (last NStgid/NSpid/NSpgid/NSsid) */
	uint32_t uid[4], gid[4];		/* real, effective, saved, fs */
	uint32_t *groups;
	size_t ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool no_new_privs;
	int seccomp;
	uint64_t sig_pnd, shd_pnd, sig_blk, sig_ign, sig_cgt;
	uint32_t threads;
	bool kthread; /* "Kthread: 1", or PF_KTHREAD from stat */
};

int proc_parse_status(pid_t pid, struct proc_status *ret);
int proc_parse_status_buf(const char *buf, struct proc_status *ret);
void proc_status_free(struct proc_status *st);

struct proc_stat {
	char state;
	pid_t ppid, pgrp, session;
	int tty_nr;
	uint32_t flags; /* PF_* */
	uint32_t num_threads;
	uint64_t start_time;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_signal;
};

/* /proc/PID/stat; the comm field may hold spaces and ')' and is skipped. */
int proc_parse_stat(pid_t pid, struct proc_stat *ret);
int proc_parse_stat_buf(const char *buf, struct proc_stat *ret);

/* /proc/PID/limits into rl[RLIM_NLIMITS]; "unlimited" is RLIM_INFINITY. */
int proc_parse_limits(pid_t pid, struct rlimit *rl);
int proc_parse_limits_buf(const char *buf, struct rlimit *rl);

struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags; /* octal "flags:" field: open flags incl. O_CLOEXEC */
	int mnt_id;
	uint64_t ino;
};

int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *ret);
int proc_parse_fdinfo_buf(const char *buf, struct proc_fdinfo *ret);

struct proc_timer {
	int id;
	int signo;
	uint64_t sigval;
	int notify; /* SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID (as signal|thread id) */
	pid_t notify_tid;
	int clockid;
};

/* /proc/PID/timers (POSIX timers). */
int proc_parse_timers(pid_t pid, struct proc_timer **ret, size_t *ret_n);
int proc_parse_timers_buf(const char *buf, struct proc_timer **ret, size_t *ret_n);

/* /proc/PID/auxv as 64-bit words (pairs, ending with AT_NULL). */
int proc_read_auxv(pid_t pid, uint64_t **ret, size_t *ret_n);

/* Thread ids of /proc/PID/task, sorted, the thread group leader first. */
int proc_list_tasks(pid_t pid, pid_t **ret, size_t *ret_n);
/* /proc/PID/task/TID/children. */
int proc_list_children(pid_t pid, pid_t tid, pid_t **ret, size_t *ret_n);
/* Open fds of /proc/PID/fd, sorted. */
int proc_list_fds(pid_t pid, int **ret, size_t *ret_n);

/* "space separated pids" into an array; used for children. */
int proc_parse_pid_list(const char *buf, pid_t **ret, size_t *ret_n);

#endif
