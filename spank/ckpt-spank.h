/* SPDX-License-Identifier: MIT */
/*
 * spank_ckpt.so: what its parts share. plugin.c holds the SPANK entry points, shim.c the
 * process Slurm knows as the batch task (it never returns into Slurm), nsinit.c PID 1 of the
 * job's PID namespace.
 */
#ifndef CKPT_SPANK_H
#define CKPT_SPANK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* On a restore that cannot work on this node (incompatible CPU, bad image, ...). */
enum on_restore_failure {
	RESTORE_FAIL_JOB,     /* the job fails; the checkpoint is kept */
	RESTORE_FAIL_SCRATCH, /* the job starts from the top of its script; the checkpoint is kept */
	RESTORE_FAIL_HOLD,    /* the job is requeued held (by ckptd); the checkpoint is kept */
};

struct plug_conf {
	char *images; /* root of the shared checkpoint layout */
	char *socket; /* the node's ckptd socket, %n already replaced */
	enum on_restore_failure on_fail;
};

/* One opted-in batch step, as the plugin knows it in task_init_privileged. */
struct plug_job {
	uint32_t job_id;
	uid_t uid;
	gid_t gid;
	uint32_t restart_count;
	uint32_t interval_s;
	const char *script; /* this run's batch script (argv[0]) */
	char *stdout_path;  /* what fd 1 and 2 point at, if regular files */
	char *stderr_path;
};

/* Start the job fresh in a new PID namespace; returns 0 in the job's task (pid 2), never elsewhere. */
int shim_start(const struct plug_conf *c, const struct plug_job *j);
/*
 * Whether Slurm starts the job for the first time (nothing to restore), as the node's ckptd
 * learns from slurmctld; it also removes checkpoints an earlier job left under this job ID.
 * Sets j->restart_count. False when ckptd cannot tell: a checkpoint under the ID is then
 * taken as this job's.
 */
bool shim_first_run(const struct plug_conf *c, struct plug_job *j);
/*
 * Restore the job's latest checkpoint, then be its shim: never returns on success. Returns
 * a negative errno when no restore was possible (the caller decides: fail or start fresh).
 */
int shim_restore(const struct plug_conf *c, const struct plug_job *j);
/*
 * Tell ckptd that shim_restore() failed with r: it sets the job's AdminComment to the reason
 * (the engine's last error) and, with hold, requeues the job held.
 */
void shim_restore_failed(const struct plug_conf *c, const struct plug_job *j, int r, bool hold);

/* nsinit.c: PID 1 of the job's namespace: reap, forward signals, exit as pid 2 did. */
void __attribute__((noreturn)) nsinit_main(pid_t job);
/* Exit as a child that ended with wait status st did (re-raising its signal). */
void __attribute__((noreturn)) exit_like(int st);

#endif
