/* SPDX-License-Identifier: MIT */
/*
 * Restore side of inetsk.img (restore --tcp-established): TCP sockets. They are all made by
 * one task, the nearest common ancestor of their holders, before it forks its children (which
 * inherit them), in steps:
 *   1. each established connection in repair mode (TCP_REPAIR, tcp(7), linux/tcp.h), where
 *      nothing goes on the wire: bound to its local address, the sequence numbers of both
 *      queues set (TCP_QUEUE_SEQ, only while the socket is closed), connect(2)ed to its peer
 *      (no SYN: the kernel's tcp_connect() finishes the connection at once), the options of
 *      the handshake (TCP_REPAIR_OPTIONS, before any data), TCP_TIMESTAMP, the receive queue
 *      and the part of the send queue that had been sent (each a send(2) with that queue
 *      selected), the windows (TCP_REPAIR_WINDOW, once rcv_nxt is final);
 *   2. listening and unconnected sockets, bound (and listening) after the established ones:
 *      a listener's port is also that of the connections it accepted, and a bind next to a
 *      listener is refused even with SO_REUSEADDR, while the reverse is not;
 *   3. once every connection of the tree exists, each leaves repair mode (its window probe
 *      tells the peer our window) and the bytes never sent are sent as by the task;
 *   4. socket options, shutdown(SHUT_RD), file status flags.
 * A connection between two sockets of the tree thus never sees a peer that is not there yet
 * (which would answer with a reset).
 *
 * rst_inetsk_load() refuses, before anything is created, images with TCP sockets without
 * --tcp-established and a local address something else holds now (a bind of a probe socket
 * fails).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "image.h"
#include "log.h"
#include "rst.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72 /* Linux 5.14 */
#endif

#define MAX_QUEUE (1u << 30)

union inet_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

static socklen_t make_addr(const InetSkEntry *e, bool peer, union inet_addr *a)
{
	const ProtobufCBinaryData *b = peer ? &e->dst_addr : &e->src_addr;
	uint16_t port = htons((uint16_t)(peer ? e->dst_port : e->src_port));

	*a = (union inet_addr){};
	if (e->family == AF_INET) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = port;
		memcpy(&a->v4.sin_addr, b->data, 4);
		return sizeof(a->v4);
	}
	a->v6.sin6_family = AF_INET6;
	a->v6.sin6_port = port;
	a->v6.sin6_scope_id = e->scope_id;
	memcpy(&a->v6.sin6_addr, b->data, 16);
	return sizeof(a->v6);
}

/* "127.0.0.1:80" or "[::1]:80", for messages. */
static const char *addr_str(const InetSkEntry *e, bool peer, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop((int)e->family, (peer ? e->dst_addr : e->src_addr).data, a, sizeof(a));
	snprintf(buf, size, e->family == AF_INET ? "%s:%u" : "[%s]:%u", a, peer ? e->dst_port : e->src_port);
	return buf;
}

struct rst_inetsk *rst_inetsk_find(const struct rst_tree *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_inetsk; i++)
		if (t->inetsk[i].se->id == id)
			return &t->inetsk[i];
	return NULL;
}

static bool addr_ok(const InetSkEntry *e, bool has, const ProtobufCBinaryData *a, bool has_port,
		    uint32_t port)
{
	return has && has_port && a->len == (e->family == AF_INET ? 4u : 16u) && port <= 65535;
}

static bool entry_ok(const InetSkEntry *e)
{
	if ((e->family != AF_INET && e->family != AF_INET6) ||
	    (e->state != TCP_ESTABLISHED && e->state != TCP_LISTEN && e->state != TCP_CLOSE) ||
	    !addr_ok(e, e->has_src_addr, &e->src_addr, e->has_src_port, e->src_port))
		return false;
	if (e->state == TCP_LISTEN && (!e->has_backlog || !e->src_port))
		return false;
	if (e->state != TCP_ESTABLISHED)
		return true;
	return addr_ok(e, e->has_dst_addr, &e->dst_addr, e->has_dst_port, e->dst_port) && e->src_port &&
	       e->has_snd_seq && e->has_rcv_seq && e->snd_queue.len <= MAX_QUEUE &&
	       e->rcv_queue.len <= MAX_QUEUE && e->snd_unsent <= e->snd_queue.len && e->has_mss_clamp &&
	       e->snd_wscale <= 14 && e->rcv_wscale <= 14 && e->has_snd_wl1 && e->max_window >= e->snd_wnd;
}

static int set_int(const InetSkEntry *e, int sk, int level, int name, const char *what, int v)
{
	if (setsockopt(sk, level, name, &v, sizeof(v)) < 0)
		return pr_perror("TCP socket %" PRIu64 ": setsockopt %s", e->id, what);
	return 0;
}

/* A socket of e's family with SO_REUSEADDR (and the recorded SO_REUSEPORT, IPV6_V6ONLY). */
static int new_socket(const InetSkEntry *e)
{
	_cleanup_close_ int sk = socket((int)e->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	int r;

	if (sk < 0)
		return pr_perror("TCP socket %" PRIu64 ": socket", e->id);
	r = set_int(e, sk, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1);
	if (r == 0 && e->reuseport)
		r = set_int(e, sk, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 1);
	if (r == 0 && e->family == AF_INET6)
		r = set_int(e, sk, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", e->v6only);
	return r < 0 ? r : TAKE_FD(sk);
}

static int bind_local(const InetSkEntry *e, int sk)
{
	union inet_addr a;
	socklen_t len = make_addr(e, false, &a);
	char buf[80];

	if (bind(sk, &a.sa, len) < 0)
		return pr_perror("TCP socket %" PRIu64 ": binding %s", e->id,
				 addr_str(e, false, buf, sizeof(buf)));
	return 0;
}

/* Before anything is made: the local address must be free (for a socket that would reuse it). */
static int check_local(const InetSkEntry *e)
{
	_cleanup_close_ int sk = -EBADF;
	union inet_addr a;
	socklen_t len;
	char buf[80];

	if (!e->src_port)
		return 0;
	sk = new_socket(e);
	if (sk < 0)
		return sk;
	len = make_addr(e, false, &a);
	if (bind(sk, &a.sa, len) == 0)
		return 0;
	if (errno == EADDRINUSE)
		return pr_err("TCP socket %" PRIu64 ": %s is in use by another socket: cannot bind it again",
			      e->id, addr_str(e, false, buf, sizeof(buf))),
		       -EADDRINUSE;
	return pr_perror("TCP socket %" PRIu64 ": binding %s", e->id, addr_str(e, false, buf, sizeof(buf)));
}

int rst_inetsk_load(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r;

	t->inetsk_creator = -1;
	/* written only by a dump that found TCP sockets */
	if (faccessat(t->dirfd, "inetsk.img", F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = img_read_all(t->dirfd, "inetsk.img", IMG_INETSK, &v, &n);
	if (r < 0)
		return r;
	t->inetsk = calloc(n ?: 1, sizeof(*t->inetsk));
	if (!t->inetsk) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		t->inetsk[t->n_inetsk++] = (struct rst_inetsk){.se = (InetSkEntry *)v[i], .fd = -1};
	for (size_t i = 0; i < n; i++)
		if (rst_inetsk_find(t, t->inetsk[i].se->id) != &t->inetsk[i] || !entry_ok(t->inetsk[i].se))
			return pr_err("'inetsk.img': bad record for TCP socket %" PRIu64,
				      t->inetsk[i].se->id),
			       -EBADMSG;
	if (n && !t->opts->tcp_established)
		return pr_err("the images hold TCP sockets: restore with --tcp-established"), -ENOTSUP;
	for (size_t i = 0; i < n; i++) {
		r = check_local(t->inetsk[i].se);
		if (r < 0)
			return r;
	}
	return 0;
}

void rst_inetsk_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_inetsk; i++)
		protobuf_c_message_free_unpacked(&t->inetsk[i].se->base, NULL);
	free(t->inetsk);
	t->inetsk = NULL;
	t->n_inetsk = 0;
}

size_t rst_inetsk_fds(const struct rst_tree *t, int *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_inetsk; i++)
		if (t->inetsk[i].fd >= 0)
			keep[n++] = t->inetsk[i].fd;
	return n;
}

/* ---- the creator's side ---- */

static int set_seqs(const InetSkEntry *e, int sk)
{
	int r = set_int(e, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_SEND_QUEUE);

	/* the queues start where their oldest byte was */
	if (r == 0)
		r = set_int(e, sk, IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ",
			    (int)(e->snd_seq - (uint32_t)e->snd_queue.len));
	if (r == 0)
		r = set_int(e, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_RECV_QUEUE);
	if (r == 0)
		r = set_int(e, sk, IPPROTO_TCP, TCP_QUEUE_SEQ, "TCP_QUEUE_SEQ",
			    (int)(e->rcv_seq - (uint32_t)e->rcv_queue.len));
	return r;
}

/* Room for what is queued again: the kernel doubles what is set (socket(7)). */
static int make_room(const InetSkEntry *e, int sk)
{
	int snd = (int)MIN(e->snd_queue.len + 65536, (size_t)INT_MAX / 4),
	    rcv = (int)MIN(e->rcv_queue.len + 65536, (size_t)INT_MAX / 4);

	if (e->snd_queue.len > 16384 && setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		return pr_perror("TCP socket %" PRIu64 ": SO_SNDBUFFORCE", e->id);
	if (e->rcv_queue.len > 16384 && setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		return pr_perror("TCP socket %" PRIu64 ": SO_RCVBUFFORCE", e->id);
	return 0;
}

static int connect_repair(const InetSkEntry *e, int sk)
{
	union inet_addr a;
	socklen_t len = make_addr(e, true, &a);
	char buf[80], buf2[80];

	/* In repair mode, connect() sends no SYN: the socket is established at once. */
	if (connect(sk, &a.sa, len) < 0)
		return pr_perror("TCP socket %" PRIu64 ": connecting %s to %s in repair mode", e->id,
				 addr_str(e, false, buf, sizeof(buf)), addr_str(e, true, buf2, sizeof(buf2)));
	return 0;
}

static int set_conn_opts(const InetSkEntry *e, int sk)
{
	struct tcp_repair_opt o[4];
	size_t n = 0;

	o[n++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, e->mss_clamp};
	if (e->opt_mask & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt){TCPOPT_WINDOW, e->snd_wscale | (e->rcv_wscale << 16)};
	if (e->opt_mask & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
	if (e->opt_mask & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, (socklen_t)(n * sizeof(o[0]))) < 0)
		return pr_perror("TCP socket %" PRIu64 ": TCP_REPAIR_OPTIONS", e->id);
	/* the clock the peer has seen, so that its PAWS check (RFC 7323) accepts what we send */
	if (e->opt_mask & TCPI_OPT_TIMESTAMPS)
		return set_int(e, sk, IPPROTO_TCP, TCP_TIMESTAMP, "TCP_TIMESTAMP", (int)e->timestamp);
	return 0;
}

/* len bytes into the selected queue (repair mode), or, repair off, sent as the task would. */
static int send_all(const InetSkEntry *e, int sk, const uint8_t *data, size_t len, const char *what)
{
	for (size_t off = 0; off < len;) {
		ssize_t k = send(sk, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return pr_perror("TCP socket %" PRIu64 ": queueing %zu bytes of its %s again", e->id,
					 len, what);
		off += (size_t)k;
	}
	return 0;
}

static int fill_queues(const InetSkEntry *e, int sk)
{
	int r = set_int(e, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_RECV_QUEUE);

	if (r == 0)
		r = send_all(e, sk, e->rcv_queue.data, e->rcv_queue.len, "receive queue");
	/* what had been sent: repair mode marks it sent, the peer may acknowledge it */
	if (r == 0)
		r = set_int(e, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_SEND_QUEUE);
	if (r == 0)
		r = send_all(e, sk, e->snd_queue.data, e->snd_queue.len - e->snd_unsent, "send queue");
	return r;
}

static int set_window(const InetSkEntry *e, int sk)
{
	struct tcp_repair_window w = {
		.snd_wl1 = e->snd_wl1,
		.snd_wnd = e->snd_wnd,
		.max_window = e->max_window,
		.rcv_wnd = e->rcv_wnd,
		.rcv_wup = e->rcv_wup,
	};

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return pr_perror("TCP socket %" PRIu64 ": TCP_REPAIR_WINDOW", e->id);
	return set_int(e, sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, "TCP_REPAIR_QUEUE", TCP_NO_QUEUE);
}

/* Step 1: an established connection, still in repair mode. */
static int make_established(struct rst_inetsk *u)
{
	const InetSkEntry *e = u->se;
	int r;

	u->fd = new_socket(e);
	if (u->fd < 0)
		return u->fd;
	r = set_int(e, u->fd, IPPROTO_TCP, TCP_REPAIR, "TCP_REPAIR (needs CAP_NET_ADMIN)", TCP_REPAIR_ON);
	if (r == 0)
		r = make_room(e, u->fd);
	if (r == 0)
		r = bind_local(e, u->fd);
	if (r == 0)
		r = set_seqs(e, u->fd);
	if (r == 0)
		r = connect_repair(e, u->fd);
	if (r == 0)
		r = set_conn_opts(e, u->fd);
	if (r == 0)
		r = fill_queues(e, u->fd);
	return r < 0 ? r : set_window(e, u->fd);
}

/* Step 2: a listening or unconnected socket. */
static int make_other(struct rst_inetsk *u)
{
	const InetSkEntry *e = u->se;
	int r;

	u->fd = new_socket(e);
	if (u->fd < 0)
		return u->fd;
	r = e->src_port ? bind_local(e, u->fd) : 0;
	if (r == 0 && e->state == TCP_LISTEN && listen(u->fd, (int)e->backlog) < 0)
		r = pr_perror("TCP socket %" PRIu64 ": listen", e->id);
	return r;
}

/* Step 3: out of repair mode (the window probe this sends tells the peer our window). */
static int go_live(struct rst_inetsk *u)
{
	const InetSkEntry *e = u->se;
	int r = set_int(e, u->fd, IPPROTO_TCP, TCP_REPAIR, "TCP_REPAIR", TCP_REPAIR_OFF);

	if (r == 0 && e->snd_unsent)
		r = send_all(e, u->fd, e->snd_queue.data + e->snd_queue.len - e->snd_unsent, e->snd_unsent,
			     "unsent bytes");
	return r;
}

static int set_buffers(const InetSkEntry *e, int sk)
{
	int r = 0;

	if (e->has_sndbuf)
		r = set_int(e, sk, SOL_SOCKET, SO_SNDBUFFORCE, "SO_SNDBUFFORCE", (int)(e->sndbuf / 2));
	if (r == 0 && e->has_rcvbuf)
		r = set_int(e, sk, SOL_SOCKET, SO_RCVBUFFORCE, "SO_RCVBUFFORCE", (int)(e->rcvbuf / 2));
	/* sizes the task did not set go back to the kernel's tuning */
	if (r == 0 && setsockopt(sk, SOL_SOCKET, SO_BUF_LOCK, &(int){(int)e->buf_lock}, sizeof(int)) < 0 &&
	    errno != ENOPROTOOPT)
		r = pr_perror("TCP socket %" PRIu64 ": SO_BUF_LOCK", e->id);
	return r;
}

static int set_keepalive(const InetSkEntry *e, int sk)
{
	int r = set_int(e, sk, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", e->keepalive);

	if (r == 0 && e->has_keepidle)
		r = set_int(e, sk, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", (int)e->keepidle);
	if (r == 0 && e->has_keepintvl)
		r = set_int(e, sk, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", (int)e->keepintvl);
	if (r == 0 && e->has_keepcnt)
		r = set_int(e, sk, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", (int)e->keepcnt);
	return r;
}

/* Step 4: what the task had set, then above every fd number of the tree. */
static int finish_one(struct rst_tree *t, struct rst_inetsk *u)
{
	const InetSkEntry *e = u->se;
	int r = set_int(e, u->fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", e->reuseaddr), fd;

	if (r == 0)
		r = set_int(e, u->fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", e->nodelay);
	if (r == 0)
		r = set_keepalive(e, u->fd);
	if (r == 0)
		r = set_buffers(e, u->fd);
	if (r == 0 && e->has_linger &&
	    setsockopt(u->fd, SOL_SOCKET, SO_LINGER, &(struct linger){1, e->linger}, sizeof(struct linger)) <
		    0)
		r = pr_perror("TCP socket %" PRIu64 ": SO_LINGER", e->id);
	if (r < 0)
		return r;
	if (e->rcv_shutdown && shutdown(u->fd, SHUT_RD) < 0)
		return pr_perror("TCP socket %" PRIu64 ": shutdown", e->id);
	if (e->has_flags && fcntl(u->fd, F_SETFL, (int)e->flags) < 0)
		return pr_perror("TCP socket %" PRIu64 ": F_SETFL", e->id);
	fd = fcntl(u->fd, F_DUPFD_CLOEXEC, t->pipe_fd_base);
	if (fd < 0)
		return pr_perror("TCP socket %" PRIu64 ": moving it above fd %d", e->id, t->pipe_fd_base);
	close(u->fd);
	u->fd = fd;
	return 0;
}

int rst_inetsk_create(struct rst_tree *t, size_t idx)
{
	int r = 0;

	if (!t->n_inetsk || t->inetsk_creator != (int)idx)
		return 0;
	for (size_t i = 0; i < t->n_inetsk && r == 0; i++)
		if (t->inetsk[i].se->state == TCP_ESTABLISHED)
			r = make_established(&t->inetsk[i]);
	for (size_t i = 0; i < t->n_inetsk && r == 0; i++)
		if (t->inetsk[i].se->state != TCP_ESTABLISHED)
			r = make_other(&t->inetsk[i]);
	for (size_t i = 0; i < t->n_inetsk && r == 0; i++)
		if (t->inetsk[i].se->state == TCP_ESTABLISHED)
			r = go_live(&t->inetsk[i]);
	for (size_t i = 0; i < t->n_inetsk && r == 0; i++)
		r = finish_one(t, &t->inetsk[i]);
	return r;
}
