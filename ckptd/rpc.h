/* SPDX-License-Identifier: MIT */
/* Requests: decode, check, authorize, answer (or queue a job that answers when it ends). */
#ifndef CKPTD_RPC_H
#define CKPTD_RPC_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "workers.h"

struct conn;

enum {
	RPC_CLOSE = -1,	 /* answered (if possible); close the connection */
	RPC_KEEP = 0,	 /* answered; wait for the next request */
	RPC_PENDING = 1, /* a job answers later */
};

/* The configuration requests are judged by; the event loop's thread only. */
void rpc_set_config(const struct ckptd_config *cfg);
/* One packet of len bytes (len is the real length: larger than CKPTD_MAX_REQUEST when cut). */
int rpc_handle(struct conn *c, const uint8_t *buf, size_t len);
/* The pool's callback: answer a finished or cancelled job's client. */
void rpc_job_done(struct job *job);

#endif
