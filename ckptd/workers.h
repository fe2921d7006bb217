/* SPDX-License-Identifier: MIT */
/*
 * The jobs: a table of queued, running and recently finished jobs, and a bounded pool of
 * worker threads that run them (runner.c) one each. A job's answer is sent by the thread
 * that finishes or cancels it, through the callback given to pool_start().
 */
#ifndef CKPTD_WORKERS_H
#define CKPTD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "ckpt.h"

struct conn;
struct sjob_ckpt;

struct job {
	uint64_t id;
	int type;  /* RpcReqType */
	int state; /* RpcJobState */
	struct peer peer;
	bool privileged; /* root or the service account */
	uid_t owner_uid; /* images written for a user belong to this account */
	gid_t owner_gid;
	pid_t pid; /* dump: the root asked for; restore: the restored root */
	char *images_dir;
	char *freeze_cgroup;
	char *pidfile;
	bool leave_running, leave_stopped, shell_job;
	bool file_locks;      /* dump: ckpt_dump_opts.file_locks (Slurm jobs: a database holds them) */
	char **save_paths;    /* dump: NULL-terminated, owned (ckpt_dump_opts.save_paths) */
	struct sjob_ckpt *sc; /* a Slurm job's checkpoint (sjob-ckpt.c) run instead of a plain dump */
	struct conn *conn;    /* waits for the answer; NULL once answered */
	int error;	      /* positive errno of a failed job */
	char *message;	      /* why it failed */
	struct ckpt_dump_stats stats;
	uint64_t t_queued, t_start, t_end; /* CLOCK_MONOTONIC */
	bool busy;			   /* its answer is being sent: keep it */
	int proc_fd;			   /* pidfd of its process while it runs (runner.c) */
	bool cancel;			   /* a running dump was cancelled: its process is killed */
	struct job *prev, *next;	   /* the table, oldest first */
	struct job *qnext;		   /* the queue */
};

struct job_info {
	uint64_t id;
	int type, state;
	uid_t uid;
	pid_t pid;
	char *images_dir;
	int error;
	uint64_t age_ns, duration_ns;
};

struct pool_counts {
	uint32_t running, queued, done, failed, cancelled, workers;
};

typedef void (*job_done_fn)(struct job *job);

struct job *job_new(int type, const struct peer *p);
void job_free(struct job *job);

int pool_start(uint32_t workers, uint32_t queue_max, uint32_t history, job_done_fn done);
/* New limits (SIGHUP): more workers start now, extra ones end after their job. */
void pool_configure(uint32_t workers, uint32_t queue_max, uint32_t history);
/*
 * Queue a job; the pool owns it from then on, on success only. -EBUSY when a queued or
 * running job works on the same pid or images directory, -EAGAIN when the queue is full,
 * -ESHUTDOWN when stopping; *ret_why says which.
 */
int pool_submit(struct job *job, uint64_t *ret_id, char **ret_why);
/*
 * Cancel a queued job, or a running dump; its client is answered ECANCELED. A running dump's
 * process is killed: its tracer gone, the kernel detaches the tree, which runs on (ptrace(2):
 * a tracer's exit detaches its tracees). -ENOENT, -EBUSY (a running restore), -EALREADY.
 */
int pool_cancel(uint64_t id, const struct peer *p, bool privileged, char **ret_why);
/* runner.c: the job's process runs (its pidfd) or ended (-EBADF); a cancel kills it now. */
void pool_job_process(struct job *job, int pidfd);
bool pool_job_cancelled(struct job *job);
/* The jobs a peer may see (all for a privileged one), newest first, at most max. */
int pool_snapshot(const struct peer *p, bool privileged, size_t max, struct job_info **ret, size_t *ret_n,
		  struct pool_counts *ret_counts);
void job_infos_free(struct job_info *v, size_t n);
/* Cancel every queued job, wait for the running ones to finish. */
void pool_stop(void);

#endif
