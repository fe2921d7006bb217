/* SPDX-License-Identifier: MIT */
/*
 * The listening socket and the event loop: one thread, epoll over the socket, a signalfd
 * and every client (and the TCP listener with its clients, tcp.h). A client's socket is
 * watched one request at a time (EPOLLONESHOT): the answer, sent by this thread or by a
 * worker, re-arms it.
 */
#ifndef CKPTD_SERVER_H
#define CKPTD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"

struct conn;

const struct peer *conn_peer(const struct conn *c);
/* One packet; -errno (EPIPE for a client gone, EAGAIN for one that reads nothing). */
int conn_send(struct conn *c, const void *buf, size_t len);
/* The request is answered: watch for the next one (keep) or close the connection. */
void conn_release(struct conn *c, bool keep);

/* Bind path (SOCK_SEQPACKET) with mode; a stale socket is replaced, a live one is EADDRINUSE. */
int server_listen(const char *path, uint32_t mode, int *ret_fd);

struct server_hooks {
	int (*reload)(void); /* SIGHUP */
};
void server_set_max_clients(uint32_t n);
/*
 * Also listen on TCP "HOST:PORT" for requests from other nodes, checked by munged at
 * munge_sock; a client gets timeout_ms for each request and answer (tcp.h).
 */
int server_listen_tcp(const char *hostport, const char *munge_sock, uint32_t timeout_ms);
void server_set_tcp_timeout(uint32_t ms);
/* Serve until SIGTERM or SIGINT. The caller blocked those signals (and SIGHUP) in every thread. */
int server_run(int listen_fd, const struct server_hooks *hooks);

#endif
