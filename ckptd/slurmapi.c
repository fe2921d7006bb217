/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "slurmapi.h"

int slurmapi_leave(uint32_t job_id, bool cancel, char **ret_why)
{
	int r = SLURM_ERROR;

	/*
	 * The job's tree was just ended: while slurmctld completes the job, a requeue may be
	 * refused for a moment (its state in transition). Try for ten seconds.
	 */
	for (int i = 0; i < 50; i++) {
		r = cancel ? slurm_kill_job(job_id, SIGKILL, 0) : slurm_requeue(job_id, 0);
		if (r == SLURM_SUCCESS)
			return 0;
		if (cancel && slurm_get_errno() == ESLURM_ALREADY_DONE)
			return 0;
		usleep(200 * 1000);
	}
	if (asprintf(ret_why, "%s: %s", cancel ? "slurm_kill_job" : "slurm_requeue",
		     slurm_strerror(slurm_get_errno())) < 0)
		*ret_why = NULL;
	return -EIO;
}

static int set_admin_comment(uint32_t job_id, const char *comment)
{
	job_desc_msg_t d;

	slurm_init_job_desc_msg(&d);
	d.job_id = job_id;
	d.admin_comment = (char *)comment;
	return slurm_update_job(&d) == SLURM_SUCCESS ? 0 : -EIO;
}

int slurmapi_restore_failed(uint32_t job_id, const char *comment, bool hold, char **ret_why)
{
	const char *what = "slurm_requeue (hold)";
	int r = hold ? -EIO : 0;

	/*
	 * Held first: a finished job takes no update, a requeued one does. The failed start is
	 * still being completed for a moment: try for twenty seconds.
	 */
	for (int i = 0; hold && i < 100; i++) {
		if (slurm_requeue(job_id, JOB_REQUEUE_HOLD) == SLURM_SUCCESS) {
			r = 0;
			break;
		}
		usleep(200 * 1000);
	}
	if (r == 0) {
		what = "slurm_update_job (AdminComment)";
		r = set_admin_comment(job_id, comment);
	}
	if (r == 0)
		return 0;
	if (asprintf(ret_why, "%s: %s", what, slurm_strerror(slurm_get_errno())) < 0)
		*ret_why = NULL;
	return -EIO;
}

/*
 * slurmctld's record of the job (free it with slurm_free_job_info_msg): 0, -ENOENT when it
 * does not know the job, -EIO when it cannot be asked.
 */
static int load_job(uint32_t job_id, job_info_msg_t **ret)
{
	if (slurm_load_job(ret, job_id, SHOW_ALL) == SLURM_SUCCESS)
		return 0;
	return slurm_get_errno() == ESLURM_INVALID_JOB_ID ? -ENOENT : -EIO;
}

int slurmapi_batch_host(uint32_t job_id, char **ret_host)
{
	job_info_msg_t *msg = NULL;
	int r = load_job(job_id, &msg);

	if (r < 0)
		return r;
	r = -ENOENT;
	if (msg->record_count == 1 && msg->job_array[0].job_state == JOB_RUNNING &&
	    msg->job_array[0].batch_host) {
		*ret_host = strdup(msg->job_array[0].batch_host);
		r = *ret_host ? 0 : -ENOMEM;
	}
	slurm_free_job_info_msg(msg);
	return r;
}

int slurmapi_job_run(uint32_t job_id, uint32_t *ret_uid, uint32_t *ret_restarts)
{
	job_info_msg_t *msg = NULL;
	int r = load_job(job_id, &msg);

	if (r < 0)
		return r;
	r = -ENOENT;
	if (msg->record_count == 1 && (msg->job_array[0].job_state & JOB_STATE_BASE) == JOB_RUNNING) {
		*ret_uid = msg->job_array[0].user_id;
		*ret_restarts = msg->job_array[0].restart_cnt;
		r = 0;
	}
	slurm_free_job_info_msg(msg);
	return r;
}

int slurmapi_job_known(uint32_t job_id)
{
	job_info_msg_t *msg = NULL;
	int r = load_job(job_id, &msg);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	slurm_free_job_info_msg(msg);
	return 1;
}
