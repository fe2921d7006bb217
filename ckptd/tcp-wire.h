/* SPDX-License-Identifier: MIT */
/*
 * ckptd across nodes, what the daemon (tcp.c, mauth.c) and its clients (client.c) share:
 * "HOST:PORT" addresses, the frames of the TCP stream (a 4-byte big-endian length, then that
 * many bytes; proto/rpc.proto's rpc_envelope one way, rpc_response the other) and munge's
 * errors as errno values. No logging here: the client library does not log.
 */
#ifndef CKPTD_TCP_WIRE_H
#define CKPTD_TCP_WIRE_H

#include <munge.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ckptd.h"

/* A service address that names a TCP listener rather than a unix socket. */
#define CKPTD_TCP_PREFIX "tcp://"
#define CKPTD_FRAME_HDR	 4u
/*
 * A client's frame: a request of at most CKPTD_MAX_REQUEST and a credential over it, which
 * munge base64-encodes (4/3 of the request and its own header). The daemon's answers are at
 * most CKPTD_MAX_RESPONSE.
 */
#define CKPTD_MAX_FRAME (3u * CKPTD_MAX_REQUEST)

/* "HOST:PORT" or "[IPV6]:PORT" into its parts (malloc'ed); -EINVAL when it is neither. */
int tcp_wire_split(const char *hostport, char **ret_host, char **ret_port);
/*
 * The addresses of hostport, for bind() (passive: "*" or an empty host is every address) or
 * connect(); -EINVAL for a malformed one, -EADDRNOTAVAIL for a host that does not resolve.
 */
int tcp_wire_resolve(const char *hostport, bool passive, struct addrinfo **ret);

void tcp_wire_put_len(uint8_t hdr[CKPTD_FRAME_HDR], uint32_t len);
uint32_t tcp_wire_get_len(const uint8_t hdr[CKPTD_FRAME_HDR]);

/*
 * A munge error as an errno: EKEYEXPIRED (expired, or encoded in the future), EKEYREJECTED
 * (replayed), EHOSTDOWN (munged does not answer), ENOMEM, EMSGSIZE, and EACCES for every other
 * refusal (forged, unauthorized, bad format).
 */
int tcp_wire_munge_errno(munge_err_t e);

#endif
