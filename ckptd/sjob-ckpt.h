/* SPDX-License-Identifier: MIT */
/*
 * One checkpoint of a registered Slurm job: a dump job of the pool (workers.c) that first
 * takes a fresh directory in the shared layout, dumps the job's tree into it through the
 * runner (a process of its own), commits it with its metadata, applies retention, and then,
 * when the job must leave the node, requeues (or cancels) it through slurmctld. A failed dump
 * is aborted: nothing half-written is ever committed, and the tree runs on.
 */
#ifndef CKPTD_SJOB_CKPT_H
#define CKPTD_SJOB_CKPT_H

#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "policies.h"
#include "rpc.pb-c.h"

struct conn;
struct job;

struct sjob_ckpt {
	uint32_t job_id;
	enum pol_reason reason; /* POL_NONE: asked for (RPC_JOB_CHECKPOINT) */
	bool requeue, cancel;	/* then leave the node */
	uint32_t seq;		/* committed as */
	char *path;
	bool requeued, cancelled;
};

/*
 * Queue a checkpoint of job_id for p (already authorized); c, when set, is answered when it
 * ends. -ENOENT (not registered here), -EBUSY (one under way), -EAGAIN (queue full).
 */
int sjob_ckpt_submit(uint32_t job_id, enum pol_reason reason, bool requeue, bool cancel, const struct peer *p,
		     struct conn *c, char **ret_why);
/* The pool's worker: run it (job->sc is set). */
void sjob_ckpt_run(struct job *job);
void sjob_ckpt_free(struct sjob_ckpt *sc);
/* Fill the answer to RPC_JOB_CHECKPOINT from a finished job. */
void sjob_ckpt_answer(const struct job *job, RpcResponse *resp, RpcJobCheckpointResp *jc, RpcDumpResp *d);

#endif
