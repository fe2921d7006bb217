/* SPDX-License-Identifier: MIT */
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include "conn.h"
#include "log.h"
#include "mauth.h"
#include "rpc.pb-c.h"
#include "tcp-wire.h"

static _printf_(4, 5) int refuse(struct mauth_result *ret, int err, bool keep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&ret->why, fmt, ap) < 0)
		ret->why = NULL;
	va_end(ap);
	ret->err = err;
	ret->keep = keep;
	return -err;
}

static void munge_ctx_destroyp(munge_ctx_t *ctx)
{
	if (*ctx)
		munge_ctx_destroy(*ctx);
}

/* The request's type, for the answer of a refusal; 0 when it does not decode. */
static int peek_type(const ProtobufCBinaryData *req)
{
	RpcRequest *r = rpc_request__unpack(NULL, req->len, req->data);
	int type = r ? (int)r->type : 0;

	if (r)
		rpc_request__free_unpacked(r, NULL);
	return type;
}

/* A credential restricted to a uid or gid (munge -u, -g) is for that decoder only: ours? */
static int check_restriction(munge_ctx_t ctx, struct mauth_result *ret)
{
	uid_t ru = (uid_t)MUNGE_UID_ANY;
	gid_t rg = (gid_t)MUNGE_GID_ANY;

	if (munge_ctx_get(ctx, MUNGE_OPT_UID_RESTRICTION, &ru) != EMUNGE_SUCCESS ||
	    munge_ctx_get(ctx, MUNGE_OPT_GID_RESTRICTION, &rg) != EMUNGE_SUCCESS)
		return refuse(ret, EACCES, true, "munge credential: its restrictions cannot be read");
	if (ru != (uid_t)MUNGE_UID_ANY && ru != geteuid())
		return refuse(ret, EACCES, true, "munge credential restricted to uid %u, not this daemon's",
			      (unsigned int)ru);
	if (rg != (gid_t)MUNGE_GID_ANY && rg != getegid())
		return refuse(ret, EACCES, true, "munge credential restricted to gid %u, not this daemon's",
			      (unsigned int)rg);
	return 0;
}

/* munged's verdict on the credential, and the payload, uid and gid it carries. */
static int decode_cred(const char *sock, const char *cred, struct mauth_result *ret, void **ret_payload,
		       int *ret_len, uid_t *ret_uid, gid_t *ret_gid)
{
	_cleanup_(munge_ctx_destroyp) munge_ctx_t ctx = munge_ctx_create();
	munge_err_t e;

	*ret_payload = NULL;
	if (!ctx)
		return refuse(ret, ENOMEM, true, "out of memory");
	if (sock && munge_ctx_set(ctx, MUNGE_OPT_SOCKET, sock) != EMUNGE_SUCCESS)
		return refuse(ret, ENOMEM, true, "munge_ctx_set: %s", munge_ctx_strerror(ctx));
	e = munge_decode(cred, ctx, ret_payload, ret_len, ret_uid, ret_gid);
	if (e == EMUNGE_SOCKET || e == EMUNGE_TIMEOUT)
		return refuse(ret, tcp_wire_munge_errno(e), true, "munged at '%s' does not answer: %s",
			      sock ?: "(default)", munge_ctx_strerror(ctx) ?: munge_strerror(e));
	if (e != EMUNGE_SUCCESS)
		return refuse(ret, tcp_wire_munge_errno(e), true, "munge credential refused: %s",
			      munge_ctx_strerror(ctx) ?: munge_strerror(e));
	return check_restriction(ctx, ret);
}

/* The user's groups on this node (munge carries only uid and gid); none for an unknown uid. */
static int lookup_groups(struct peer *p)
{
	long max = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t sz = max < 4096 ? 4096 : (size_t)max;
	_cleanup_free_ char *buf = malloc(sz);
	struct passwd pw, *res = NULL;
	int n = 32;

	if (!buf)
		return -ENOMEM;
	if (getpwuid_r(p->uid, &pw, buf, sz, &res) != 0 || !res)
		n = 0;
	for (int tries = 0; n > 0 && tries < 4; tries++) {
		gid_t *g = realloc(p->groups, (size_t)n * sizeof(gid_t));

		if (!g)
			return -ENOMEM;
		p->groups = g;
		if (getgrouplist(pw.pw_name, p->gid, p->groups, &n) >= 0)
			break;
	}
	if (n < 0)
		n = 0;
	p->n_groups = (size_t)n;
	if (!p->groups)
		p->groups = malloc(sizeof(gid_t));
	return p->groups ? 0 : -ENOMEM;
}

/* The decoded credential against the envelope: same bytes, same uid. */
static int check_payload(const RpcEnvelope *env, const void *payload, int plen, uid_t uid,
			 struct mauth_result *ret)
{
	if (plen < 0 || (size_t)plen != env->request.len ||
	    (plen && memcmp(payload, env->request.data, (size_t)plen)))
		return refuse(ret, EACCES, true, "the munge credential's payload is not the request");
	if (env->has_uid && env->uid != uid)
		return refuse(ret, EACCES, true,
			      "the request claims uid %u, its munge credential says uid %u", env->uid,
			      (unsigned int)uid);
	return 0;
}

static int verify_envelope(const char *sock, const RpcEnvelope *env, struct mauth_result *ret)
{
	_cleanup_free_ void *payload = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int plen = 0, r;

	ret->type = peek_type(&env->request);
	if (env->request.len == 0 || env->request.len > CKPTD_MAX_REQUEST)
		return refuse(ret, EMSGSIZE, false, "request of %zu bytes in the envelope (1 to %u)",
			      env->request.len, CKPTD_MAX_REQUEST);
	r = decode_cred(sock, env->credential, ret, &payload, &plen, &uid, &gid);
	if (r == 0)
		r = check_payload(env, payload, plen, uid, ret);
	if (r < 0)
		return r;
	ret->peer = (struct peer){.pid = 0, .uid = uid, .gid = gid};
	ret->req = malloc(env->request.len);
	if (!ret->req || lookup_groups(&ret->peer) < 0)
		return refuse(ret, ENOMEM, true, "out of memory");
	memcpy(ret->req, env->request.data, env->request.len);
	ret->req_len = env->request.len;
	return 0;
}

int mauth_verify(const char *munge_socket, const uint8_t *frame, size_t len, struct mauth_result *ret)
{
	RpcEnvelope *env;
	int r;

	*ret = (struct mauth_result){0};
	env = rpc_envelope__unpack(NULL, len, frame);
	if (!env)
		return refuse(ret, EBADMSG, false, "the frame is not an envelope with a munge credential");
	r = verify_envelope(munge_socket, env, ret);
	rpc_envelope__free_unpacked(env, NULL);
	return r;
}

void mauth_result_free(struct mauth_result *r)
{
	free(r->why);
	free(r->req);
	peer_free(&r->peer);
	*r = (struct mauth_result){0};
}

/* ---- the thread ---- */

struct item {
	struct item *next;
	struct conn *c;
	uint8_t *frame;
	size_t len;
	struct mauth_result res;
};

struct queue {
	struct item *head, **tail;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queue todo, done;
	bool running, stop;
	pthread_t thread;
	int efd;
	char *socket;
	mauth_done_fn done_fn;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .efd = -EBADF};

static void push(struct queue *q, struct item *it)
{
	it->next = NULL;
	if (!q->head)
		q->tail = &q->head;
	*q->tail = it;
	q->tail = &it->next;
}

static struct item *pop(struct queue *q)
{
	struct item *h = q->head;

	if (h) {
		q->head = h->next;
		if (!q->head)
			q->tail = &q->head;
	}
	return h;
}

static struct item *pop_all(struct queue *q)
{
	struct item *h = q->head;

	q->head = NULL;
	q->tail = &q->head;
	return h;
}

static void item_free(struct item *it)
{
	free(it->frame);
	mauth_result_free(&it->res);
	free(it);
}

static void *mauth_thread(void *arg)
{
	pthread_mutex_lock(&M.lock);
	for (;;) {
		struct item *it;

		while (!M.todo.head && !M.stop)
			pthread_cond_wait(&M.cond, &M.lock);
		if (M.stop)
			break;
		it = pop(&M.todo);
		pthread_mutex_unlock(&M.lock);
		mauth_verify(M.socket, it->frame, it->len, &it->res);
		pthread_mutex_lock(&M.lock);
		push(&M.done, it);
		if (eventfd_write(M.efd, 1) < 0)
			pr_perror("eventfd_write");
	}
	pthread_mutex_unlock(&M.lock);
	return NULL;
}

int mauth_start(const char *munge_socket, mauth_done_fn done, int *ret_efd)
{
	int r;

	M.socket = munge_socket && *munge_socket ? strdup(munge_socket) : NULL;
	if (munge_socket && *munge_socket && !M.socket)
		return -ENOMEM;
	M.done_fn = done;
	M.todo.tail = &M.todo.head;
	M.done.tail = &M.done.head;
	M.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (M.efd < 0)
		return pr_perror("eventfd");
	r = pthread_create(&M.thread, NULL, mauth_thread, NULL);
	if (r)
		return pr_err_errno(-r, "starting the munge thread");
	M.running = true;
	*ret_efd = M.efd;
	return 0;
}

int mauth_submit(struct conn *c, uint8_t *frame, size_t len)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it) {
		free(frame);
		return -ENOMEM;
	}
	it->c = c;
	it->frame = frame;
	it->len = len;
	pthread_mutex_lock(&M.lock);
	push(&M.todo, it);
	pthread_cond_signal(&M.cond);
	pthread_mutex_unlock(&M.lock);
	return 0;
}

void mauth_drain(void)
{
	eventfd_t v;
	struct item *it, *next;

	(void)eventfd_read(M.efd, &v);
	pthread_mutex_lock(&M.lock);
	it = pop_all(&M.done);
	pthread_mutex_unlock(&M.lock);
	for (; it; it = next) {
		next = it->next;
		M.done_fn(it->c, &it->res);
		item_free(it);
	}
}

static void close_all(struct item *it)
{
	for (struct item *next; it; it = next) {
		next = it->next;
		conn_close(it->c);
		item_free(it);
	}
}

void mauth_stop(void)
{
	if (!M.running)
		return;
	pthread_mutex_lock(&M.lock);
	M.stop = true;
	pthread_cond_signal(&M.cond);
	pthread_mutex_unlock(&M.lock);
	pthread_join(M.thread, NULL);
	M.running = false;
	close_all(pop_all(&M.todo));
	close_all(pop_all(&M.done));
	close(M.efd);
	M.efd = -EBADF;
	free(M.socket);
	M.socket = NULL;
}
