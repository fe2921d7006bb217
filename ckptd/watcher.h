/* SPDX-License-Identifier: MIT */
/* The node watcher (watcher.c): when images_root is set, a thread that queues the checkpoints
 * of registered Slurm jobs that policies/ find due. */
#ifndef CKPTD_WATCHER_H
#define CKPTD_WATCHER_H

#include "config.h"

int watcher_start(const struct ckptd_config *c);
void watcher_stop(void);

#endif
