/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <stdio.h>
#include "log.h"
#include "slurmapi.h"

int slurmapi_leave(uint32_t job_id, bool cancel, char **ret_why)
{
	int r = cancel ? slurm_kill_job(job_id, SIGKILL, 0) : slurm_requeue(job_id, 0);

	if (r == SLURM_SUCCESS)
		return 0;
	if (asprintf(ret_why, "%s: %s", cancel ? "slurm_kill_job" : "slurm_requeue",
		     slurm_strerror(slurm_get_errno())) < 0)
		*ret_why = NULL;
	return -EIO;
}
