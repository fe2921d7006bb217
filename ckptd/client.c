/* SPDX-License-Identifier: MIT */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include "ckptd-client.h"
#include "ckptd.h"
#include "tcp-wire.h"
#include "util.h"

struct ckptd_client {
	int fd;
	bool tcp;	    /* a TCP stream of frames, each request with a munge credential */
	char *munge_socket; /* NULL: libmunge's default */
};

static int connect_unix(const char *socket_path, int *ret_fd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The first address of hostport that accepts the connection. */
static int connect_tcp(const char *hostport, int *ret_fd)
{
	struct addrinfo *ai = NULL;
	int one = 1, r = tcp_wire_resolve(hostport, false, &ai);

	if (r < 0)
		return r;
	r = -EADDRNOTAVAIL;
	for (const struct addrinfo *a = ai; a && r < 0; a = a->ai_next) {
		_cleanup_close_ int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			r = -errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		*ret_fd = TAKE_FD(fd);
		r = 0;
	}
	freeaddrinfo(ai);
	return r;
}

int ckptd_client_connect(const char *address, struct ckptd_client **ret)
{
	bool tcp = !strncmp(address, CKPTD_TCP_PREFIX, strlen(CKPTD_TCP_PREFIX));
	struct ckptd_client *c;
	int fd = -EBADF, r;

	if (tcp)
		r = connect_tcp(address + strlen(CKPTD_TCP_PREFIX), &fd);
	else
		r = connect_unix(address, &fd);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->tcp = tcp;
	*ret = c;
	return 0;
}

int ckptd_client_set_munge_socket(struct ckptd_client *c, const char *path)
{
	char *s = path ? strdup(path) : NULL;

	if (path && !s)
		return -ENOMEM;
	free(c->munge_socket);
	c->munge_socket = s;
	return 0;
}

void ckptd_client_close(struct ckptd_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->munge_socket);
	free(c);
}

int ckptd_client_set_timeout(struct ckptd_client *c, unsigned int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static void munge_ctx_destroyp(munge_ctx_t *ctx)
{
	if (*ctx)
		munge_ctx_destroy(*ctx);
}

/* A credential from munged whose payload is the packed request. */
static int encode_cred(struct ckptd_client *c, const uint8_t *req, size_t len, char **ret)
{
	_cleanup_(munge_ctx_destroyp) munge_ctx_t ctx = munge_ctx_create();
	munge_err_t e;

	if (!ctx)
		return -ENOMEM;
	if (c->munge_socket && munge_ctx_set(ctx, MUNGE_OPT_SOCKET, c->munge_socket) != EMUNGE_SUCCESS)
		return -ENOMEM;
	e = munge_encode(ret, ctx, req, (int)len);
	return -tcp_wire_munge_errno(e);
}

/* One frame: the envelope of the request and its credential. */
static int seal(struct ckptd_client *c, uint8_t *req, size_t len, uint8_t **ret, size_t *ret_len)
{
	RpcEnvelope env = RPC_ENVELOPE__INIT;
	_cleanup_free_ char *cred = NULL;
	size_t n;
	int r = encode_cred(c, req, len, &cred);

	if (r < 0)
		return r;
	env.request = (ProtobufCBinaryData){.len = len, .data = req};
	env.credential = cred;
	env.has_uid = true;
	env.uid = geteuid(); /* munged vouches for the effective uid */
	n = rpc_envelope__get_packed_size(&env);
	if (n > CKPTD_MAX_FRAME)
		return -EMSGSIZE;
	*ret = malloc(CKPTD_FRAME_HDR + n);
	if (!*ret)
		return -ENOMEM;
	tcp_wire_put_len(*ret, (uint32_t)n);
	rpc_envelope__pack(&env, *ret + CKPTD_FRAME_HDR);
	*ret_len = CKPTD_FRAME_HDR + n;
	return 0;
}

static int send_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_req(struct ckptd_client *c, const RpcRequest *req)
{
	size_t len = rpc_request__get_packed_size(req), flen = 0;
	_cleanup_free_ uint8_t *buf = NULL, *frame = NULL;
	ssize_t n;
	int r;

	if (len > CKPTD_MAX_REQUEST)
		return -EMSGSIZE;
	buf = malloc(len ?: 1);
	if (!buf)
		return -ENOMEM;
	rpc_request__pack(req, buf);
	if (c->tcp) {
		r = seal(c, buf, len, &frame, &flen);
		return r < 0 ? r : send_all(c->fd, frame, flen);
	}
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Exactly len bytes of the stream; the end of it is ECONNRESET, a timeout ETIMEDOUT. */
static int recv_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_frame(struct ckptd_client *c, RpcResponse **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t hdr[CKPTD_FRAME_HDR];
	uint32_t len;
	int r = recv_all(c->fd, hdr, sizeof(hdr));

	if (r < 0)
		return r;
	len = tcp_wire_get_len(hdr);
	if (len == 0 || len > CKPTD_MAX_RESPONSE)
		return -EMSGSIZE;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	r = recv_all(c->fd, buf, len);
	if (r < 0)
		return r;
	*ret = rpc_response__unpack(NULL, len, buf);
	return *ret ? 0 : -EBADMSG;
}

/* One packet: its size first (MSG_PEEK | MSG_TRUNC), then the packet, checked against the limit. */
static int recv_resp(struct ckptd_client *c, RpcResponse **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n, len;

	if (c->tcp)
		return recv_frame(c, ret);
	do
		len = recv(c->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	if (len == 0)
		return -ECONNRESET; /* the daemon sends no empty packet: this is the end */
	if ((size_t)len > CKPTD_MAX_RESPONSE)
		return -EMSGSIZE;
	buf = malloc((size_t)len);
	if (!buf)
		return -ENOMEM;
	do
		n = recv(c->fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n != len)
		return n < 0 ? -errno : -EBADMSG;
	*ret = rpc_response__unpack(NULL, (size_t)n, buf);
	return *ret ? 0 : -EBADMSG;
}

int ckptd_client_call(struct ckptd_client *c, const RpcRequest *req, RpcResponse **ret)
{
	int r = send_req(c, req);

	return r < 0 ? r : recv_resp(c, ret);
}

int ckptd_client_simple(struct ckptd_client *c, RpcReqType type, RpcResponse **ret)
{
	RpcRequest req = RPC_REQUEST__INIT;

	req.type = type;
	return ckptd_client_call(c, &req, ret);
}

void ckptd_client_response_free(RpcResponse *resp)
{
	if (resp)
		rpc_response__free_unpacked(resp, NULL);
}

/* The daemon's verdict: 0 or -error, and its message. */
static int verdict(const RpcResponse *resp, char **ret_message)
{
	if (ret_message)
		*ret_message = resp->message ? strdup(resp->message) : NULL;
	if (resp->error < 0 || resp->error > 4095)
		return -EPROTO;
	return -resp->error;
}

int ckptd_client_version(struct ckptd_client *c, char **ret_version, uint32_t *ret_protocol)
{
	RpcResponse *resp = NULL;
	int r = ckptd_client_simple(c, RPC_REQ_TYPE__RPC_VERSION, &resp);

	if (r < 0)
		return r;
	r = verdict(resp, NULL);
	if (r == 0 && !resp->version)
		r = -EPROTO;
	if (r == 0) {
		*ret_version = strdup(resp->version->version);
		*ret_protocol = resp->version->protocol;
		if (!*ret_version)
			r = -ENOMEM;
	}
	ckptd_client_response_free(resp);
	return r;
}

static int absolute(const char *path, char **ret)
{
	_cleanup_free_ char *cwd = NULL;

	if (path[0] == '/') {
		*ret = strdup(path);
		return *ret ? 0 : -ENOMEM;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return -errno;
	return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

int ckptd_client_dump(struct ckptd_client *c, const struct ckpt_dump_opts *opts,
		      struct ckpt_dump_stats *ret_stats, char **ret_message)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcDumpReq d = RPC_DUMP_REQ__INIT;
	RpcResponse *resp = NULL;
	_cleanup_free_ char *dir = NULL;
	int r;

	if (ret_message)
		*ret_message = NULL;
	if (!opts || opts->sz < offsetof(struct ckpt_dump_opts, freeze_cgroup) || !opts->images_dir)
		return -EINVAL;
	r = absolute(opts->images_dir, &dir);
	if (r < 0)
		return r;
	d.pid = opts->pid;
	d.images_dir = dir;
	d.has_leave_running = d.leave_running = opts->leave_running;
	d.has_leave_stopped = d.leave_stopped = opts->leave_stopped;
	d.has_shell_job = d.shell_job = opts->shell_job;
	if (opts->sz >= offsetof(struct ckpt_dump_opts, freeze_cgroup) + sizeof(opts->freeze_cgroup))
		d.freeze_cgroup = (char *)opts->freeze_cgroup;
	req.type = RPC_REQ_TYPE__RPC_DUMP;
	req.dump = &d;
	r = ckptd_client_call(c, &req, &resp);
	if (r < 0)
		return r;
	r = verdict(resp, ret_message);
	if (r == 0 && ret_stats && resp->dump)
		*ret_stats = (struct ckpt_dump_stats){
			.nr_tasks = resp->dump->nr_tasks,
			.nr_threads = resp->dump->nr_threads,
			.frozen_ns = resp->dump->frozen_ns,
			.total_ns = resp->dump->duration_ns,
			.pages_written = resp->dump->pages,
			.bytes_written = resp->dump->bytes,
		};
	ckptd_client_response_free(resp);
	return r;
}

int ckptd_client_restore(struct ckptd_client *c, const struct ckpt_restore_opts *opts, pid_t *ret_pid,
			 char **ret_message)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcRestoreReq d = RPC_RESTORE_REQ__INIT;
	RpcResponse *resp = NULL;
	_cleanup_free_ char *dir = NULL, *pidfile = NULL;
	int r;

	if (ret_message)
		*ret_message = NULL;
	if (!opts || opts->sz < sizeof(*opts) || !opts->images_dir)
		return -EINVAL;
	/* What only a local restore can do: wait for the tree, share our terminal, fds or PID namespace. */
	if (!opts->detach || opts->no_pidns || opts->shell_job || opts->n_inherit_fds)
		return -EOPNOTSUPP;
	r = absolute(opts->images_dir, &dir);
	if (r == 0 && opts->pidfile)
		r = absolute(opts->pidfile, &pidfile);
	if (r < 0)
		return r;
	d.images_dir = dir;
	d.pidfile = pidfile;
	req.type = RPC_REQ_TYPE__RPC_RESTORE;
	req.restore = &d;
	r = ckptd_client_call(c, &req, &resp);
	if (r < 0)
		return r;
	r = verdict(resp, ret_message);
	if (r == 0 && !resp->restore)
		r = -EPROTO;
	if (r == 0 && ret_pid)
		*ret_pid = resp->restore->pid;
	ckptd_client_response_free(resp);
	return r;
}

int ckptd_client_cancel(struct ckptd_client *c, uint64_t job_id, char **ret_message)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcCancelReq d = RPC_CANCEL_REQ__INIT;
	RpcResponse *resp = NULL;
	int r;

	if (ret_message)
		*ret_message = NULL;
	d.job_id = job_id;
	req.type = RPC_REQ_TYPE__RPC_CANCEL;
	req.cancel = &d;
	r = ckptd_client_call(c, &req, &resp);
	if (r < 0)
		return r;
	r = verdict(resp, ret_message);
	ckptd_client_response_free(resp);
	return r;
}
