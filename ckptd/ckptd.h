/* SPDX-License-Identifier: MIT */
/* ckptd: what the daemon's parts share. Each part has its own header; this one holds the
 * limits of the protocol and the daemon's name. */
#ifndef CKPTD_H
#define CKPTD_H

/* Bumped on an incompatible change of proto/rpc.proto only. */
#define CKPTD_PROTOCOL 1
/* A request is a few paths and flags: anything larger is refused unread. */
#define CKPTD_MAX_REQUEST (64u << 10)
/*
 * A response lists at most CKPTD_MAX_LISTED jobs, each with one path, and never exceeds
 * CKPTD_MAX_RESPONSE: a SOCK_SEQPACKET packet must fit the sender's buffer (net.core.wmem_default,
 * 208 KiB on most systems).
 */
#define CKPTD_MAX_RESPONSE   (128u << 10)
#define CKPTD_MAX_LISTED     64
#define CKPTD_DEFAULT_SOCKET "/run/ckptd.sock"
#define CKPTD_DEFAULT_CONFIG "/etc/ckpt/ckptd.conf"

#endif
