/* SPDX-License-Identifier: MIT */
/* A Slurm job's failed restore: its AdminComment, and a requeue held on request. */
#ifndef CKPTD_SJOB_FAILED_H
#define CKPTD_SJOB_FAILED_H

#include <stdbool.h>
#include <stdint.h>

/* Logs it and starts the work in a detached thread: 0, or a negative errno if it could not start. */
int sjob_restore_failed(uint32_t job_id, const char *node, const char *why, bool hold);

#endif
