/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <stdio.h>
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
