/* SPDX-License-Identifier: MIT */
/*
 * The client side of ckptd's RPC: the same operations as libckpt (same options structs),
 * carried out by the daemon. Every function returns 0 or a negative errno, the daemon's or
 * the transport's; *ret_message, when given, is set to the daemon's explanation (malloc'ed,
 * NULL when there is none).
 */
#ifndef CKPTD_CLIENT_H
#define CKPTD_CLIENT_H

#include <stdint.h>
#include "ckpt.h"
#include "rpc.pb-c.h"

struct ckptd_client;

/*
 * address: the daemon's unix socket, or "tcp://HOST:PORT" ("tcp://[IPV6]:PORT") for its TCP
 * listener on another node: each request then carries a munge credential, which munged (the
 * default socket, or ckptd_client_set_munge_socket()'s) encodes for the caller's uid.
 * Credential errors: EKEYEXPIRED, EKEYREJECTED (replayed), EACCES, EHOSTDOWN (munged down).
 */
int ckptd_client_connect(const char *address, struct ckptd_client **ret);
int ckptd_client_set_munge_socket(struct ckptd_client *c, const char *path);
void ckptd_client_close(struct ckptd_client *c);
/* Wait at most ms for an answer (0: forever, the default; a dump can take minutes). */
int ckptd_client_set_timeout(struct ckptd_client *c, unsigned int ms);

/* Send one request, receive its answer; free it with ckptd_client_response_free(). */
int ckptd_client_call(struct ckptd_client *c, const RpcRequest *req, RpcResponse **ret);
/* A request of a type with no arguments (version, check, status, list, pre-dump). */
int ckptd_client_simple(struct ckptd_client *c, RpcReqType type, RpcResponse **ret);
void ckptd_client_response_free(RpcResponse *resp);

int ckptd_client_version(struct ckptd_client *c, char **ret_version, uint32_t *ret_protocol);
/* A relative images_dir is made absolute against the caller's working directory. */
int ckptd_client_dump(struct ckptd_client *c, const struct ckpt_dump_opts *opts,
		      struct ckpt_dump_stats *ret_stats, char **ret_message);
/* Detached only (opts->detach must be set); *ret_pid the restored root's host pid. */
int ckptd_client_restore(struct ckptd_client *c, const struct ckpt_restore_opts *opts, pid_t *ret_pid,
			 char **ret_message);
int ckptd_client_cancel(struct ckptd_client *c, uint64_t job_id, char **ret_message);

#endif
