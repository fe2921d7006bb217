/* SPDX-License-Identifier: MIT */
/*
 * The first step on every packet: decode it and check its form, with no I/O and no state
 * (no peer, no configuration), so that a fuzzer reaches exactly what the daemon runs
 * (tests/fuzz/fuzz_rpc.c). Who may do what is judged afterwards, by the handlers.
 */
#ifndef CKPTD_RPC_DECODE_H
#define CKPTD_RPC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rpc.pb-c.h"

/* Why a packet is refused before any handler sees it. */
struct rpc_reject {
	int type;  /* answer with this type: the request's, or 0 when it could not be read */
	bool keep; /* a bad value: the client may go on; a malformed packet: it is closed */
	char *why; /* malloc'ed; NULL when out of memory */
};

/*
 * 0 and *ret (free it with rpc_request__free_unpacked()) for a well-formed request: a known
 * type, its sub-message when the type needs one, sane values, absolute paths without a '..'
 * component. Otherwise -errno (EINVAL, EMSGSIZE, EBADMSG, ENOMEM) and *ret_reject.
 */
int rpc_decode_request(const uint8_t *buf, size_t len, RpcRequest **ret, struct rpc_reject *ret_reject);

#endif
