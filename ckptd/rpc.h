/* SPDX-License-Identifier: MIT */
/* Requests: decode, check, authorize, answer (or queue a job that answers when it ends). */
#ifndef CKPTD_RPC_H
#define CKPTD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "rpc.pb-c.h"
#include "workers.h"

struct conn;

enum {
	RPC_CLOSE = -1,	 /* answered (if possible); close the connection */
	RPC_KEEP = 0,	 /* answered; wait for the next request */
	RPC_PENDING = 1, /* a job answers later */
};

/* The configuration requests are judged by; the event loop's thread only. */
void rpc_set_config(const struct ckptd_config *cfg);
const struct ckptd_config *rpc_config(void);
/* One packet of len bytes (len is the real length: larger than CKPTD_MAX_REQUEST when cut). */
int rpc_handle(struct conn *c, const uint8_t *buf, size_t len);
/* The pool's callback: answer a finished or cancelled job's client. */
void rpc_job_done(struct job *job);

/* For the request handlers of other files (rpc-sjob.c). */
struct peer;
bool rpc_privileged(const struct peer *p);
const char *rpc_type_name(int type);
int rpc_send(struct conn *c, RpcResponse *resp);
/* Answer an error; keep tells whether the client may go on. Returns RPC_KEEP or RPC_CLOSE. */
int rpc_reply_error(struct conn *c, int type, int err, const char *msg, bool keep);
/* A refusal (-r: EPERM or another errno), logged with who asked; frees why. */
int rpc_refuse(struct conn *c, int type, int r, char *why);

/* rpc-sjob.c: the RPC_JOB_* requests of Slurm jobs. */
int rpc_sjob_dispatch(struct conn *c, const RpcRequest *req);

#endif
