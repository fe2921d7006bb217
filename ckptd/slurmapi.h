/* SPDX-License-Identifier: MIT */
/* Calls into slurmctld that do not fit the watcher: kept apart because <slurm/slurm.h>
 * names clash with ckptd's own (struct job_info). */
#ifndef CKPTD_SLURMAPI_H
#define CKPTD_SLURMAPI_H

#include <stdbool.h>
#include <stdint.h>

/* Requeue the job (or cancel it), retrying while its end is under way: 0, or -EIO with *ret_why. */
int slurmapi_leave(uint32_t job_id, bool cancel, char **ret_why);

/*
 * A job whose checkpoint could not be restored where Slurm started it: with hold, requeued
 * held (JOB_REQUEUE_HOLD: pending until `scontrol release`), retrying while its failed start
 * is under way; then comment becomes its AdminComment (what `scontrol show job` shows),
 * which Slurm takes only while the job has not finished. 0, or -EIO with *ret_why.
 */
int slurmapi_restore_failed(uint32_t job_id, const char *comment, bool hold, char **ret_why);

/* The node a running job's batch step runs on (malloc'ed): 0, -ENOENT (not running), -EIO. */
int slurmapi_batch_host(uint32_t job_id, char **ret_host);

/* A running job's owner and slurmctld's count of its requeues: 0, -ENOENT (not running), -EIO. */
int slurmapi_job_run(uint32_t job_id, uint32_t *ret_uid, uint32_t *ret_restarts);

/* Whether slurmctld knows the job (1: in any state, 0: not, or no longer), or -EIO. */
int slurmapi_job_known(uint32_t job_id);

#endif
