/* SPDX-License-Identifier: MIT */
/*
 * The munge credentials of TCP requests (proto/rpc.proto's rpc_envelope). munge_decode() asks
 * munged over its socket, and the caller's groups come from NSS: both may block, so frames are
 * checked on a thread of their own and the verdicts handed back to the event loop, which
 * alone runs the requests (rpc_handle()).
 */
#ifndef CKPTD_MAUTH_H
#define CKPTD_MAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"

struct conn;

struct mauth_result {
	int err;	  /* 0, or the positive errno of the refusal */
	bool keep;	  /* after a refusal: whether the connection may go on */
	int type;	  /* the request's type when it could be read (for the answer), else 0 */
	char *why;	  /* the refusal's reason, malloc'ed (NULL when out of memory) */
	struct peer peer; /* the credential's uid and gid, the user's groups on this node, pid 0 */
	uint8_t *req;	  /* the packed request, malloc'ed */
	size_t req_len;
};

/*
 * Check one frame: an envelope whose credential munged (at munge_socket, NULL for libmunge's
 * default) decodes, is not restricted to another uid or gid than ours, was made by the uid the
 * envelope claims, and whose payload is the request. 0, or -errno with ret->err and ret->why.
 */
int mauth_verify(const char *munge_socket, const uint8_t *frame, size_t len, struct mauth_result *ret);
void mauth_result_free(struct mauth_result *r);

/* Called on the event loop's thread, from mauth_drain(); r is freed after it returns. */
typedef void (*mauth_done_fn)(struct conn *c, struct mauth_result *r);

/* Start the thread; *ret_efd (an eventfd) is readable when verdicts wait for mauth_drain(). */
int mauth_start(const char *munge_socket, mauth_done_fn done, int *ret_efd);
/* Hand over one frame (taken, freed on failure too) of c, which waits meanwhile. */
int mauth_submit(struct conn *c, uint8_t *frame, size_t len);
void mauth_drain(void);
/* Stop the thread; connections still waiting are closed. */
void mauth_stop(void);

#endif
