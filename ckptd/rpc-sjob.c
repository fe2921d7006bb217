/* SPDX-License-Identifier: MIT */
/*
 * The RPC_JOB_* requests: the plugin's shim registers and unregisters a job (root only);
 * users checkpoint, list and forget their own jobs' checkpoints, root and the service
 * account anyone's. A user's view of the layout is filtered by the uid each checkpoint's
 * metadata records; job IDs are checked before any path is built.
 */
#include <stdarg.h>
#include <sys/wait.h>
#include "ckptd.h"
#include "log.h"
#include "peers.h"
#include "rpc.h"
#include "server.h"
#include "sjob-ckpt.h"
#include "sjob-failed.h"
#include "sjobs.h"
#include "slurmapi.h"

static int refusef(struct conn *c, int type, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refusef(struct conn *c, int type, int r, const char *fmt, ...)
{
	char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	va_end(ap);
	return rpc_refuse(c, type, r, why);
}

static int answer_ok(struct conn *c, int type)
{
	RpcResponse resp = RPC_RESPONSE__INIT;

	resp.type = type;
	return rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
}

static int on_register(struct conn *c, const RpcRequest *req)
{
	const RpcJobRegisterReq *r = req->job_register;
	int e;

	if (conn_peer(c)->uid != 0)
		return refusef(c, req->type, -EPERM, "only the plugin's shim (root) registers jobs");
	if (!r || !r->job_id || r->pid <= 1)
		return rpc_reply_error(c, req->type, EINVAL, "bad job registration", true);
	e = sjobs_register(r);
	if (e < 0)
		return rpc_reply_error(c, req->type, -e, NULL, true);
	return answer_ok(c, req->type);
}

/* The shim could not restore the job's checkpoint: the job never ran here, nothing to end. */
static int on_restore_failed(struct conn *c, const RpcRequest *req)
{
	const RpcJobEndReq *r = req->job_end;
	struct sjobs_conf conf = {0};
	int e = sjobs_conf_get(&conf);

	if (e == 0)
		e = sjob_restore_failed(r->job_id, conf.node_name, r->restore_failed, r->has_hold && r->hold);
	sjobs_conf_free(&conf);
	if (e < 0)
		return rpc_reply_error(c, req->type, -e, NULL, true);
	return answer_ok(c, req->type);
}

static int on_end(struct conn *c, const RpcRequest *req)
{
	const RpcJobEndReq *r = req->job_end;
	int e;

	if (conn_peer(c)->uid != 0)
		return refusef(c, req->type, -EPERM, "only the plugin's shim (root) ends jobs");
	if (!r || !r->job_id)
		return rpc_reply_error(c, req->type, EINVAL, "bad job end", true);
	if (r->restore_failed)
		return on_restore_failed(c, req);
	e = sjobs_end(r->job_id, r->status);
	if (e < 0)
		return refusef(c, req->type, e, "slurm job %u is not registered here", r->job_id);
	return answer_ok(c, req->type);
}

/*
 * A checkpoint asked of a job that runs on another node: the answer names that node's ckptd
 * (EREMOTE, redirect), which the client asks with its own credential. Slurm says where the
 * job runs (a call to slurmctld from the event loop: a few milliseconds), the shared layout
 * where that node's ckptd listens (peers.c). True when answered (*ret the RPC_* outcome);
 * false when the job runs on no other node, as far as Slurm knows.
 */
static bool redirect_checkpoint(struct conn *c, const RpcRequest *req, uint32_t job_id, int *ret)
{
	const struct ckptd_config *cfg = rpc_config();
	_cleanup_free_ char *host = NULL, *addr = NULL, *msg = NULL;
	RpcResponse resp = RPC_RESPONSE__INIT;
	int r;

	if (!cfg || !cfg->slurm || !*cfg->images_root)
		return false;
	r = slurmapi_batch_host(job_id, &host);
	if (r < 0 || !strcmp(host, cfg->node_name))
		return false;
	r = peers_lookup(cfg->images_root, host, &addr);
	if (r < 0) {
		*ret = refusef(c, req->type, -EHOSTUNREACH,
			       "slurm job %u runs on %s, whose ckptd takes no requests from other nodes "
			       "(tcp_listen)",
			       job_id, host);
		return true;
	}
	if (asprintf(&msg, "slurm job %u runs on %s: ask its ckptd at %s", job_id, host, addr) < 0)
		return false;
	pr_debug("job-checkpoint of slurm job %u: sent to %s's ckptd at %s", job_id, host, addr);
	resp.type = req->type;
	resp.error = EREMOTE;
	resp.message = msg;
	resp.redirect = addr;
	*ret = rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
	return true;
}

static int on_checkpoint(struct conn *c, const RpcRequest *req)
{
	const RpcJobCheckpointReq *r = req->job_checkpoint;
	const struct peer *p = conn_peer(c);
	struct sjob j;
	char *why = NULL;
	int e, ret;

	if (!r || !r->job_id || (r->requeue && r->cancel))
		return rpc_reply_error(c, req->type, EINVAL, "bad job checkpoint request", true);
	e = sjobs_get(r->job_id, &j);
	if (e == -ENOENT && redirect_checkpoint(c, req, r->job_id, &ret))
		return ret;
	if (e < 0)
		return refusef(c, req->type, e, "slurm job %u does not run under this node's ckptd",
			       r->job_id);
	e = j.uid == p->uid || rpc_privileged(p) ? 0 : -EPERM;
	sjob_clear(&j);
	if (e < 0)
		return refusef(c, req->type, e, "slurm job %u is not yours", r->job_id);
	e = sjob_ckpt_submit(r->job_id, POL_NONE, r->requeue, r->cancel, p, c, &why);
	if (e < 0)
		return rpc_refuse(c, req->type, e, why);
	return RPC_PENDING;
}

/* The uid a job's checkpoints belong to (its latest's metadata), or -errno. */
static int64_t ckpt_owner(struct layout *l, uint32_t job_id)
{
	struct layout_meta m = {0};
	int64_t uid;
	int e = layout_latest_meta(l, job_id, NULL, &m);

	if (e < 0)
		return e;
	uid = m.uid;
	layout_meta_free(&m);
	return uid;
}

static int on_forget(struct conn *c, const RpcRequest *req)
{
	const RpcJobForgetReq *r = req->job_forget;
	const struct peer *p = conn_peer(c);
	int64_t owner;
	int e;

	if (!r || !r->job_id)
		return rpc_reply_error(c, req->type, EINVAL, "bad job forget request", true);
	owner = ckpt_owner(sjobs_layout(), r->job_id);
	if (owner == -ENOENT)
		return refusef(c, req->type, -ENOENT, "slurm job %u has no checkpoint", r->job_id);
	if (owner < 0 && !rpc_privileged(p))
		return refusef(c, req->type, (int)owner, "slurm job %u: its checkpoint cannot be read",
			       r->job_id);
	if (owner != (int64_t)p->uid && !rpc_privileged(p))
		return refusef(c, req->type, -EPERM, "the checkpoints of slurm job %u are not yours",
			       r->job_id);
	e = layout_forget(sjobs_layout(), r->job_id);
	if (e < 0)
		return rpc_reply_error(c, req->type, -e, NULL, true);
	pr_info("slurm job %u: checkpoints removed for uid %u", r->job_id, (unsigned int)p->uid);
	return answer_ok(c, req->type);
}

/* Whether job_id's latest checkpoint was taken in run `restarts` or a later one. */
static bool taken_from_run(struct layout *lay, uint32_t job_id, uint32_t restarts)
{
	struct layout_meta m = {0};
	uint32_t seq = 0;
	bool later;

	if (layout_latest_meta(lay, job_id, &seq, &m) < 0) /* unreadable: the restore says why */
		return false;
	later = m.restart_count >= restarts;
	if (later)
		pr_warn("slurm job %u: in run %u, its checkpoint %u was taken in run %u (uid %u, node %s): "
			"an earlier job with this ID",
			job_id, restarts, seq, m.restart_count, m.uid, m.node ? m.node : "?");
	layout_meta_free(&m);
	return later;
}

/*
 * Checkpoints under job_id that this run of the job cannot have taken: any, in its first run;
 * later, one taken in this run or a later one. They are an earlier job's (Slurm reuses job
 * IDs once its state is reset or past MaxJobId) and are removed. The number removed, or -errno.
 */
static int drop_earlier_job(uint32_t job_id, uint32_t restarts)
{
	struct layout *lay = sjobs_layout();
	uint32_t *seqs = NULL;
	size_t n = 0;
	int e = layout_list(lay, job_id, &seqs, &n);

	free(seqs);
	if (e < 0)
		return e == -ENOENT ? 0 : e;
	if (n == 0 || (restarts > 0 && !taken_from_run(lay, job_id, restarts)))
		return 0;
	e = layout_forget(lay, job_id);
	if (e < 0)
		return e;
	pr_info("slurm job %u: %zu checkpoint(s) of an earlier job with this ID removed before run %u",
		job_id, n, restarts);
	return (int)n;
}

/* The shim, before it restores: which run of the job this is, as slurmctld counts them. */
static int on_start(struct conn *c, const RpcRequest *req)
{
	const RpcJobStartReq *r = req->job_start;
	const struct ckptd_config *cfg = rpc_config();
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcJobStartResp js = RPC_JOB_START_RESP__INIT;
	uint32_t uid = 0, restarts = 0;
	int e;

	if (conn_peer(c)->uid != 0)
		return refusef(c, req->type, -EPERM, "only the plugin's shim (root) starts jobs");
	if (!r || !r->job_id)
		return rpc_reply_error(c, req->type, EINVAL, "bad job start", true);
	if (cfg && cfg->slurm) {
		e = slurmapi_job_run(r->job_id, &uid, &restarts);
		if (e < 0)
			return refusef(c, req->type, e, "slurm job %u: %s", r->job_id,
				       e == -ENOENT ? "slurmctld does not say it runs"
						    : "slurmctld cannot be asked");
		if (uid != r->uid)
			return refusef(c, req->type, -EPERM, "slurm job %u belongs to uid %u, not %u",
				       r->job_id, uid, r->uid);
		e = drop_earlier_job(r->job_id, restarts);
		if (e < 0)
			return refusef(c, req->type, e,
				       "slurm job %u: an earlier job's checkpoints "
				       "cannot be removed",
				       r->job_id);
		js.has_restart_count = true;
		js.restart_count = restarts;
		js.has_removed = e > 0;
		js.removed = (uint32_t)e;
	}
	resp.type = req->type;
	resp.job_start = &js;
	return rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
}

/* A growing array of pointers to checkpoint records, each freed with its strings. */
struct ckpt_list {
	RpcJobCkpt **v;
	size_t n;
};

static void list_free(struct ckpt_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]->node);
		free(l->v[i]->reason);
		free(l->v[i]);
	}
	free(l->v);
}

static int list_add(struct ckpt_list *l, const struct layout_meta *m, uint32_t seq, bool latest)
{
	RpcJobCkpt *k = calloc(1, sizeof(*k)), **nv;

	if (!k)
		return -ENOMEM;
	rpc_job_ckpt__init(k);
	*k = (RpcJobCkpt){.base = k->base,
			  .job_id = m->job_id,
			  .seq = seq,
			  .uid = m->uid,
			  .node = m->node ? strdup(m->node) : NULL,
			  .has_time = true,
			  .time = m->time,
			  .reason = m->reason ? strdup(m->reason) : NULL,
			  .has_bytes = true,
			  .bytes = m->bytes,
			  .has_duration_ns = true,
			  .duration_ns = m->duration_ns,
			  .has_frozen_ns = true,
			  .frozen_ns = m->frozen_ns,
			  .has_latest = true,
			  .latest = latest,
			  .has_restart_count = true,
			  .restart_count = m->restart_count};
	nv = reallocarray(l->v, l->n + 1, sizeof(*nv));
	if (!nv) {
		free(k->node);
		free(k->reason);
		free(k);
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = k;
	return 0;
}

/* The committed checkpoints of one job the peer may see. */
static int list_job(struct layout *lay, uint32_t job_id, const struct peer *p, struct ckpt_list *out)
{
	uint32_t *seqs = NULL, latest = 0;
	size_t n = 0;
	int r = layout_list(lay, job_id, &seqs, &n);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	(void)layout_latest(lay, job_id, &latest, NULL);
	for (size_t i = 0; i < n && r == 0 && out->n < CKPTD_MAX_LISTED * 4; i++) {
		struct layout_meta m = {0};

		if (layout_meta_read(lay, job_id, seqs[i], &m) < 0)
			continue;
		if (m.uid == p->uid || rpc_privileged(p))
			r = list_add(out, &m, seqs[i], seqs[i] == latest);
		layout_meta_free(&m);
	}
	free(seqs);
	return r;
}

static int registered_visible(const struct peer *p, uint32_t only, uint32_t **ret, size_t *ret_n)
{
	struct sjob *v = NULL;
	size_t n = 0, k = 0;
	uint32_t *ids;

	if (sjobs_snapshot(&v, &n) < 0)
		return -ENOMEM;
	ids = calloc(n ?: 1, sizeof(*ids));
	for (size_t i = 0; ids && i < n; i++)
		if ((v[i].uid == p->uid || rpc_privileged(p)) && (!only || v[i].job_id == only))
			ids[k++] = v[i].job_id;
	sjobs_free(v, n);
	if (!ids)
		return -ENOMEM;
	*ret = ids;
	*ret_n = k;
	return 0;
}

static int on_list(struct conn *c, const RpcRequest *req)
{
	const RpcJobListReq *r = req->job_list;
	const struct peer *p = conn_peer(c);
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcJobListResp jl = RPC_JOB_LIST_RESP__INIT;
	struct ckpt_list out = {0};
	uint32_t *ids = NULL, *running = NULL, only = r && r->has_job_id ? r->job_id : 0;
	size_t n = 0, n_running = 0;
	int e = 0;

	if (only)
		e = list_job(sjobs_layout(), only, p, &out);
	else
		e = layout_list_jobs(sjobs_layout(), &ids, &n);
	for (size_t i = 0; e == 0 && i < n; i++)
		e = list_job(sjobs_layout(), ids[i], p, &out);
	if (e == 0)
		e = registered_visible(p, only, &running, &n_running);
	if (e == 0) {
		jl.n_ckpts = out.n;
		jl.ckpts = out.v;
		jl.n_running = n_running;
		jl.running = running;
		resp.type = req->type;
		resp.job_list = &jl;
		/* fewer records rather than no answer: a packet must fit the socket's buffer */
		while (jl.n_ckpts && rpc_response__get_packed_size(&resp) > CKPTD_MAX_RESPONSE)
			jl.n_ckpts /= 2;
		e = rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
	} else {
		e = rpc_reply_error(c, req->type, -e, NULL, true);
	}
	list_free(&out);
	free(ids);
	free(running);
	return e;
}

int rpc_sjob_dispatch(struct conn *c, const RpcRequest *req)
{
	if (!sjobs_enabled())
		return rpc_reply_error(c, req->type, EOPNOTSUPP,
				       "Slurm jobs are off: set images_root in ckptd's configuration", true);
	switch (req->type) {
	case RPC_REQ_TYPE__RPC_JOB_REGISTER:
		return on_register(c, req);
	case RPC_REQ_TYPE__RPC_JOB_END:
		return on_end(c, req);
	case RPC_REQ_TYPE__RPC_JOB_CHECKPOINT:
		return on_checkpoint(c, req);
	case RPC_REQ_TYPE__RPC_JOB_LIST:
		return on_list(c, req);
	case RPC_REQ_TYPE__RPC_JOB_FORGET:
		return on_forget(c, req);
	case RPC_REQ_TYPE__RPC_JOB_START:
		return on_start(c, req);
	default:
		break;
	}
	return rpc_reply_error(c, req->type, EINVAL, "unknown request type", false);
}
