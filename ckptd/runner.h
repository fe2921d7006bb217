/* SPDX-License-Identifier: MIT */
/*
 * Run one dump or restore in a process of its own: the engine's ptrace, forks and signals
 * stay out of the daemon, a crash of the engine fails one job only, and a dump that ckptd
 * dies during still finishes and releases its tree. The job process sends its log lines
 * and then its result over a socket pair; the worker thread waits for it.
 */
#ifndef CKPTD_RUNNER_H
#define CKPTD_RUNNER_H

#include "workers.h"

/* Fill job->error, job->message, job->stats and (restore) job->pid. */
void runner_run(struct job *job);

#endif
