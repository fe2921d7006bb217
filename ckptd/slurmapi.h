/* SPDX-License-Identifier: MIT */
/* Calls into slurmctld that do not fit the watcher: kept apart because <slurm/slurm.h>
 * names clash with ckptd's own (struct job_info). */
#ifndef CKPTD_SLURMAPI_H
#define CKPTD_SLURMAPI_H

#include <stdbool.h>
#include <stdint.h>

/* Requeue the job (or cancel it), retrying while its end is under way: 0, or -EIO with *ret_why. */
int slurmapi_leave(uint32_t job_id, bool cancel, char **ret_why);

#endif
