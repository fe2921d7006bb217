/* SPDX-License-Identifier: MIT */
/* What PID 1 of a job's PID namespace sets up, used by the restorer's init and the plugin's. */
#ifndef CKPT_PIDNS_H
#define CKPT_PIDNS_H

/*
 * Enter a new mount namespace (a slave of ours: later mounts still propagate in) and mount a
 * /proc of the caller's PID namespace over /proc there, so that tools in the job see their own
 * pids at /proc/PID. The caller must be PID 1 of that namespace, before it forks.
 */
int pidns_mount_proc(void);

#endif
