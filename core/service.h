/* SPDX-License-Identifier: MIT */
/* ckpt_dump() and ckpt_restore() through ckptd, when their options name a service. */
#ifndef CKPT_SERVICE_H
#define CKPT_SERVICE_H

#include "ckpt.h"

int service_dump(const struct ckpt_dump_opts *opts, struct ckpt_dump_stats *ret_stats);
/* Detached only: *ret_pid the restored root's host pid. */
int service_restore(const struct ckpt_restore_opts *opts, pid_t *ret_pid);

#endif
