/* SPDX-License-Identifier: MIT */
/*
 * A client connection as the event loop's files see it (server.c, tcp.c); the request
 * handlers only know the opaque type and server.h's functions.
 */
#ifndef CKPTD_CONN_H
#define CKPTD_CONN_H

#include "auth.h"

struct tcp_state;

struct conn {
	int fd;
	struct peer peer;      /* SO_PEERCRED; over TCP, the last request's munge credential */
	struct tcp_state *tcp; /* NULL on the unix socket */
};

/* A new connection on fd (taken): NULL, fd closed, when max_clients are connected already. */
struct conn *conn_new(int fd);
/* Unwatch, close and free; any thread that owns c (an unarmed connection). */
void conn_close(struct conn *c);

#endif
