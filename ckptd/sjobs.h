/* SPDX-License-Identifier: MIT */
/*
 * Slurm jobs of this node that spank_ckpt.so registered (RPC_JOB_REGISTER): a table guarded
 * by one mutex, read by the watcher (watcher.c) and the RPC handlers (rpc-sjob.c), and the
 * shared layout their checkpoints go to (nfs-layout/). Callers get copies, never pointers
 * into the table.
 */
#ifndef CKPTD_SJOBS_H
#define CKPTD_SJOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"
#include "layout.h"
#include "policies.h"
#include "rpc.pb-c.h"

struct sjob {
	uint32_t job_id;
	uid_t uid;
	gid_t gid;
	pid_t pid;	/* host pid of the job's root task (pid 2 of its namespace) */
	pid_t init_pid; /* the namespace's init */
	uint32_t interval_s;
	uint32_t restart_count;
	uint32_t restored_seq;
	char *script_path;
	char *stdout_path;
	char *stderr_path;
	int64_t registered;	     /* unix seconds */
	int64_t last_ckpt;	     /* of the last committed checkpoint, 0 for none */
	bool in_progress;	     /* a checkpoint of it is queued or running */
	bool leaving;		     /* checkpointed to leave the node: requeued or cancelled */
	enum pol_reason done_reason; /* the requeue reason already acted on */
	int64_t steps_seen;	     /* when srun steps of it were last seen running */
};

/* What the checkpoints need of the configuration, taken at start-up and on SIGHUP. */
struct sjobs_conf {
	bool enabled; /* images_root is set */
	bool slurm;
	char *node_name;
	uint32_t watch_interval_ms;
	struct pol_conf pol;
	bool keep_on_completion;
	uint32_t sweep_interval_s;
	char **save_paths; /* NULL-terminated */
};

int sjobs_configure(const struct ckptd_config *c);
/* A copy of the configuration; free with sjobs_conf_free. */
int sjobs_conf_get(struct sjobs_conf *ret);
void sjobs_conf_free(struct sjobs_conf *c);
bool sjobs_enabled(void);
/* The layout of images_root (NULL when off): valid until sjobs_shutdown(). */
struct layout *sjobs_layout(void);

int sjobs_register(const RpcJobRegisterReq *r);
/* The job's tree ended with wait status st: forget it; its checkpoints too if it completed. */
int sjobs_end(uint32_t job_id, int status);
/* Slurm no longer runs it here. */
void sjobs_drop(uint32_t job_id, const char *why);
/* A copy of a job (-ENOENT); sjob_clear frees its strings. */
int sjobs_get(uint32_t job_id, struct sjob *ret);
void sjob_clear(struct sjob *j);
/* Copies of every job; sjobs_free. */
int sjobs_snapshot(struct sjob **ret, size_t *ret_n);
void sjobs_free(struct sjob *v, size_t n);

/* A checkpoint starts (-EBUSY if one is already under way), or ended. */
int sjobs_begin(uint32_t job_id);
void sjobs_finish(uint32_t job_id, bool committed, enum pol_reason reason, bool leaving);
/* Checkpoints under way on this node. */
unsigned int sjobs_in_progress(void);
/* The watcher saw srun steps of the job running at time t. */
void sjobs_steps_seen(uint32_t job_id, int64_t t);
/*
 * One of max_dumps dump slots: a checkpoint asked for by a user waits here when the node
 * dumps enough already (the watcher's own are limited by pol_pick). Without wait -EAGAIN
 * when none is free; -ECANCELED when cancelled(arg) turns true meanwhile. Give the slot
 * back with sjobs_slot_give().
 */
int sjobs_slot_take(bool wait, bool (*cancelled)(void *arg), void *arg);
void sjobs_slot_give(void);

void sjobs_shutdown(void);

#endif
