/* SPDX-License-Identifier: MIT */
/*
 * ckptd's TCP listener, for requests from other nodes (tcp_listen; off by default). A client
 * sends frames (tcp-wire.h), each an envelope whose munge credential mauth.c checks before
 * the request reaches rpc_handle() as that credential's uid; answers go back as frames.
 * Nothing here blocks the event loop: a frame is gathered over as many wake-ups as it takes,
 * an answer the socket does not take at once is finished on EPOLLOUT, and a client that has
 * not sent a whole request, or taken its answer, within tcp_timeout_ms is closed.
 */
#ifndef CKPTD_TCP_H
#define CKPTD_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

/* Bind and listen on "HOST:PORT" (port 0: any free one, logged). */
int tcp_listen(const char *hostport, int *ret_fd);
/* "HOST:PORT" ("[V6]:PORT") the listener got (the port chosen when it asked for 0); "" if none. */
const char *tcp_bound_name(void);
/* Where munged listens, and the event loop's epoll; starts the munge thread (*ret_efd). */
int tcp_start(int epfd, const char *munge_socket, int *ret_efd);
void tcp_stop(void);
void tcp_set_timeout(uint32_t ms);

/* The event loop's side: a new client's fd (taken), an event of a client, the timeouts. */
void tcp_accept_one(int fd);
void tcp_on_event(struct conn *c, uint32_t events);
/* Close the clients past their deadline; the epoll_wait() timeout until the next one (-1: none). */
int tcp_expire(void);

/* server.h's conn_send() and conn_release() of a TCP client; any thread that owns c. */
int tcp_send(struct conn *c, const void *buf, size_t len);
/* false: close c (keep not set, and nothing left to send; or epoll refused). */
bool tcp_release(struct conn *c, bool keep);
/* conn_close()'s part: forget c's TCP state. */
void tcp_forget(struct conn *c);

#endif
