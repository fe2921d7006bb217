/* SPDX-License-Identifier: MIT */
#ifndef CKPTD_SWEEP_H
#define CKPTD_SWEEP_H

#include "sjobs.h"

/*
 * Remove the checkpoints of the jobs slurmctld no longer knows, but those a user kept
 * (ckpt job checkpoint --cancel). Nothing when keep_on_completion is set or Slurm is not
 * asked.
 */
void sweep_once(const struct sjobs_conf *conf);

#endif
