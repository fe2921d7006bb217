/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include "conn.h"
#include "server.h"
#include "log.h"
#include "mauth.h"
#include "rpc.h"
#include "server.h"
#include "tcp-wire.h"
#include "tcp.h"

struct tcp_state {
	struct conn *c;
	struct tcp_state *prev, *next; /* every TCP client (tcp_lock) */
	bool linked;
	bool armed;	   /* watched by epoll, so the event loop's to time out (tcp_lock) */
	uint64_t deadline; /* CLOCK_MONOTONIC ns (tcp_lock) */
	char addr[INET6_ADDRSTRLEN + 8];
	uint8_t hdr[CKPTD_FRAME_HDR];
	size_t have;   /* bytes of the frame in, its header included */
	uint32_t need; /* its length, once the header is in */
	uint8_t *in;
	uint8_t *out; /* answers the socket has not taken yet */
	size_t out_len, out_off;
	bool keep; /* once they are sent: read the next request, or close */
};

static pthread_mutex_t tcp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcp_state *clients;
static int tcp_epfd = -EBADF;
static atomic_uint timeout_ms = 10000;

void tcp_set_timeout(uint32_t ms)
{
	atomic_store(&timeout_ms, ms);
}

static uint64_t deadline_from_now(void)
{
	return now_ns(CLOCK_MONOTONIC) + (uint64_t)atomic_load(&timeout_ms) * 1000000u;
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

static int bind_one(const struct addrinfo *ai, int *ret_fd)
{
	_cleanup_close_ int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* A restarted daemon binds again at once, past its old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* HOST:PORT the listener is bound to, as other nodes would dial it ("" before tcp_listen). */
static char bound_name[INET6_ADDRSTRLEN + 8];

const char *tcp_bound_name(void)
{
	return bound_name;
}

int tcp_listen(const char *hostport, int *ret_fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addrinfo *ai = NULL;
	char name[INET6_ADDRSTRLEN + 8];
	int r = tcp_wire_resolve(hostport, true, &ai);

	if (r < 0)
		return pr_err_errno(r, "tcp_listen '%s'", hostport);
	r = -EADDRNOTAVAIL;
	for (const struct addrinfo *a = ai; a && r < 0; a = a->ai_next)
		r = bind_one(a, ret_fd);
	freeaddrinfo(ai);
	if (r < 0)
		return pr_err_errno(r, "cannot listen on tcp_listen '%s'", hostport);
	if (getsockname(*ret_fd, (struct sockaddr *)&ss, &sl) == 0) {
		format_addr(&ss, name, sizeof(name));
		snprintf(bound_name, sizeof(bound_name), "%s", name);
		pr_info("listening for other nodes on %s (TCP, munge credentials)", name);
	}
	return 0;
}

static void on_verified(struct conn *c, struct mauth_result *res);

int tcp_start(int epfd, const char *munge_socket, int *ret_efd)
{
	tcp_epfd = epfd;
	return mauth_start(munge_socket, on_verified, ret_efd);
}

void tcp_stop(void)
{
	mauth_stop();
}

/* ---- the list of clients and their deadlines ---- */

static void link_client(struct tcp_state *s)
{
	s->prev = NULL;
	s->next = clients;
	if (clients)
		clients->prev = s;
	clients = s;
	s->linked = true;
}

static void unlink_client(struct tcp_state *s)
{
	if (!s->linked)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		clients = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->linked = false;
}

/* Watch c for what (EPOLLIN or EPOLLOUT); fresh: a new deadline. false when epoll refused. */
static bool arm(struct conn *c, uint32_t what, bool fresh, int op)
{
	struct epoll_event ev = {.events = what | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};
	struct tcp_state *s = c->tcp;
	bool ok;

	pthread_mutex_lock(&tcp_lock);
	if (fresh)
		s->deadline = deadline_from_now();
	ok = epoll_ctl(tcp_epfd, op, c->fd, &ev) == 0;
	s->armed = ok;
	pthread_mutex_unlock(&tcp_lock);
	if (!ok)
		pr_perror("epoll_ctl of TCP client %s", s->addr);
	return ok;
}

static void disarm(struct tcp_state *s)
{
	pthread_mutex_lock(&tcp_lock);
	s->armed = false;
	pthread_mutex_unlock(&tcp_lock);
}

void tcp_forget(struct conn *c)
{
	struct tcp_state *s = c->tcp;

	pthread_mutex_lock(&tcp_lock);
	unlink_client(s);
	pthread_mutex_unlock(&tcp_lock);
	free(s->in);
	free(s->out);
	free(s);
	c->tcp = NULL;
}

/* Unlink the clients past their deadline onto *ret; the earliest deadline left. */
static uint64_t collect_expired(uint64_t now, struct tcp_state **ret, bool *ret_unarmed)
{
	uint64_t next = UINT64_MAX;
	struct tcp_state *s, *nx;

	*ret = NULL;
	*ret_unarmed = false;
	pthread_mutex_lock(&tcp_lock);
	for (s = clients; s; s = nx) {
		nx = s->next;
		if (!s->armed) {
			*ret_unarmed = true;
		} else if (s->deadline <= now) {
			unlink_client(s);
			s->armed = false;
			s->next = *ret;
			*ret = s;
		} else if (s->deadline < next) {
			next = s->deadline;
		}
	}
	pthread_mutex_unlock(&tcp_lock);
	return next;
}

int tcp_expire(void)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC), next;
	struct tcp_state *s, *nx;
	bool unarmed;

	next = collect_expired(now, &s, &unarmed);
	for (; s; s = nx) {
		nx = s->next;
		pr_info("TCP client %s: nothing whole in %u ms (%s): closed", s->addr,
			atomic_load(&timeout_ms),
			s->out	  ? "an answer it does not read"
			: s->have ? "a request cut short"
				  : "idle");
		conn_close(s->c);
	}
	/* A client a job holds is armed again by a worker: look again within a second. */
	if (unarmed && next > now + 1000000000ull)
		next = now + 1000000000ull;
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now + 999999) / 1000000);
}

void tcp_accept_one(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct conn *c = conn_new(fd);
	int one = 1;

	if (!c)
		return;
	c->tcp = calloc(1, sizeof(*c->tcp));
	if (!c->tcp) {
		conn_close(c);
		return;
	}
	c->tcp->c = c;
	/* Nobody until a credential says who: no request runs before one does. */
	c->peer = (struct peer){.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr(&ss, c->tcp->addr, sizeof(c->tcp->addr));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&tcp_lock);
	link_client(c->tcp);
	pthread_mutex_unlock(&tcp_lock);
	if (!arm(c, EPOLLIN, true, EPOLL_CTL_ADD)) {
		conn_close(c);
		return;
	}
	pr_debug("TCP client %s connected", c->tcp->addr);
}

/* ---- answers ---- */

/* 0 when everything is sent, -EAGAIN when the socket is full, else -errno. */
static int flush(struct conn *c)
{
	struct tcp_state *s = c->tcp;

	while (s->out_off < s->out_len) {
		ssize_t n = send(c->fd, s->out + s->out_off, s->out_len - s->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		s->out_off += (size_t)n;
	}
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = 0;
	return 0;
}

int tcp_send(struct conn *c, const void *buf, size_t len)
{
	struct tcp_state *s = c->tcp;
	size_t pending = s->out_len - s->out_off;
	uint8_t *out;
	int r;

	if (len > CKPTD_MAX_RESPONSE)
		return -EMSGSIZE;
	out = malloc(pending + CKPTD_FRAME_HDR + len);
	if (!out)
		return -ENOMEM;
	if (pending)
		memcpy(out, s->out + s->out_off, pending);
	tcp_wire_put_len(out + pending, (uint32_t)len);
	memcpy(out + pending + CKPTD_FRAME_HDR, buf, len);
	free(s->out);
	s->out = out;
	s->out_len = pending + CKPTD_FRAME_HDR + len;
	s->out_off = 0;
	r = flush(c);
	if (r == -EAGAIN)
		return 0; /* the rest on EPOLLOUT, once released */
	if (r < 0) {
		free(s->out);
		s->out = NULL;
		s->out_len = s->out_off = 0;
	}
	return r;
}

bool tcp_release(struct conn *c, bool keep)
{
	struct tcp_state *s = c->tcp;

	s->keep = keep;
	if (s->out)
		return arm(c, EPOLLOUT, true, EPOLL_CTL_MOD);
	return keep && arm(c, EPOLLIN, true, EPOLL_CTL_MOD);
}

static void on_writable(struct conn *c)
{
	struct tcp_state *s = c->tcp;
	int r = flush(c);

	if (r == -EAGAIN && arm(c, EPOLLOUT, false, EPOLL_CTL_MOD))
		return;
	if (r < 0 || !s->keep || !arm(c, EPOLLIN, true, EPOLL_CTL_MOD))
		conn_close(c);
}

/* ---- requests ---- */

/* The header is in: its length must be one we take. */
static int start_frame(struct conn *c)
{
	struct tcp_state *s = c->tcp;
	char msg[96];

	s->need = tcp_wire_get_len(s->hdr);
	if (s->need == 0 || s->need > CKPTD_MAX_FRAME) {
		snprintf(msg, sizeof(msg), "frame of %u bytes (1 to %u)", s->need, CKPTD_MAX_FRAME);
		pr_debug("bad input: TCP client %s: %s", s->addr, msg);
		rpc_reply_error(c, 0, EMSGSIZE, msg, false);
		return -EMSGSIZE;
	}
	s->in = malloc(s->need);
	return s->in ? 0 : -ENOMEM;
}

/* 1: a whole frame is in; 0: the socket has no more for now; -errno: close c. */
static int read_frame(struct conn *c)
{
	struct tcp_state *s = c->tcp;

	while (s->have < CKPTD_FRAME_HDR + (size_t)s->need) {
		bool in_hdr = s->have < CKPTD_FRAME_HDR;
		uint8_t *dst = in_hdr ? s->hdr + s->have : s->in + (s->have - CKPTD_FRAME_HDR);
		size_t want = (in_hdr ? CKPTD_FRAME_HDR : CKPTD_FRAME_HDR + s->need) - s->have;
		ssize_t n = recv(c->fd, dst, want, MSG_DONTWAIT);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? 0 : -errno;
		if (n == 0) {
			if (s->have)
				pr_debug("TCP client %s left in the middle of a frame", s->addr);
			return -ECONNRESET;
		}
		s->have += (size_t)n;
		if (s->have == CKPTD_FRAME_HDR && (r = start_frame(c)) < 0)
			return r;
	}
	return 1;
}

void tcp_on_event(struct conn *c, uint32_t events)
{
	struct tcp_state *s = c->tcp;
	size_t len;
	int r;

	disarm(s);
	if (s->out) {
		on_writable(c);
		return;
	}
	r = read_frame(c);
	if (r == 0 && arm(c, EPOLLIN, false, EPOLL_CTL_MOD))
		return;
	if (r <= 0) {
		conn_release(c, false); /* after the answer to a bad header, if any */
		return;
	}
	len = s->need;
	s->have = s->need = 0;
	if (mauth_submit(c, TAKE_PTR(s->in), len) < 0) {
		rpc_reply_error(c, 0, ENOMEM, NULL, false);
		conn_release(c, false);
	}
}

/* munge's verdict on c's frame, on the event loop's thread. */
static void on_verified(struct conn *c, struct mauth_result *res)
{
	struct tcp_state *s = c->tcp;
	int r;

	if (res->err) {
		if (res->err == EBADMSG || res->err == EMSGSIZE)
			pr_debug("bad input: TCP client %s: %s", s->addr, res->why ?: strerror(res->err));
		else
			pr_warn("refused a %s request from TCP client %s: %s", rpc_type_name(res->type),
				s->addr, res->why ?: strerror(res->err));
		r = rpc_reply_error(c, res->type, res->err, res->why, res->keep);
		conn_release(c, r == RPC_KEEP);
		return;
	}
	peer_free(&c->peer);
	c->peer = res->peer;
	res->peer = (struct peer){0};
	pr_debug("TCP client %s: a request as uid %u (munge)", s->addr, (unsigned int)c->peer.uid);
	r = rpc_handle(c, res->req, res->req_len);
	if (r != RPC_PENDING)
		conn_release(c, r == RPC_KEEP);
}
