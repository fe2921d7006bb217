/* SPDX-License-Identifier: MIT */
#include <time.h>
#include "ckptd.h"
#include "log.h"
#include "rpc.h"
#include "rpc-decode.h"
#include "rpc.pb-c.h"
#include "server.h"
#include "sjob-ckpt.h"

static const struct ckptd_config *rpc_cfg;
static uint64_t rpc_t0;

const struct ckptd_config *rpc_config(void)
{
	return rpc_cfg;
}

void rpc_set_config(const struct ckptd_config *cfg)
{
	rpc_cfg = cfg;
	if (!rpc_t0)
		rpc_t0 = now_ns(CLOCK_MONOTONIC);
}

bool rpc_privileged(const struct peer *p)
{
	return p->uid == 0 || (rpc_cfg->has_service && p->uid == rpc_cfg->service_uid);
}

const char *rpc_type_name(int type)
{
	static const char *const names[] = {
		"?",	  "version",  "check",	      "dump",	 "restore",	   "status",   "list",
		"cancel", "pre-dump", "job-register", "job-end", "job-checkpoint", "job-list", "job-forget"};

	return type > 0 && type < (int)ARRAY_SIZE(names) ? names[type] : "unknown";
}

int rpc_send(struct conn *c, RpcResponse *resp)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = rpc_response__get_packed_size(resp);
	int r;

	if (len > CKPTD_MAX_RESPONSE)
		return pr_err("answer of %zu bytes to a %s request is too large", len,
			      rpc_type_name(resp->type)),
		       -EMSGSIZE;
	buf = malloc(len ?: 1);
	if (!buf)
		return -ENOMEM;
	rpc_response__pack(resp, buf);
	r = conn_send(c, buf, len);
	if (r < 0)
		pr_debug("answering uid %u (pid %d): %s", (unsigned int)conn_peer(c)->uid,
			 (int)conn_peer(c)->pid, strerror(-r));
	return r;
}

/* Answer an error; keep tells whether the client may go on. */
int rpc_reply_error(struct conn *c, int type, int err, const char *msg, bool keep)
{
	RpcResponse resp = RPC_RESPONSE__INIT;

	resp.type = type > 0 && type <= RPC_REQ_TYPE__RPC_JOB_START ? type : RPC_REQ_TYPE__RPC_VERSION;
	resp.error = err;
	resp.message = (char *)(msg ?: strerror(err));
	if (rpc_send(c, &resp) < 0 || !keep)
		return RPC_CLOSE;
	return RPC_KEEP;
}

/* A refusal: -r is EPERM or another errno; logged with who asked. */
int rpc_refuse(struct conn *c, int type, int r, char *why)
{
	const struct peer *p = conn_peer(c);
	int ret;

	if (r == -EPERM)
		pr_warn("refused %s for uid %u (pid %d): %s", rpc_type_name(type), (unsigned int)p->uid,
			(int)p->pid, why ?: "not allowed");
	else
		pr_debug("%s for uid %u (pid %d): %s", rpc_type_name(type), (unsigned int)p->uid, (int)p->pid,
			 why ?: strerror(-r));
	ret = rpc_reply_error(c, type, -r, why, true);
	free(why);
	return ret;
}

static int on_version(struct conn *c)
{
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcVersionResp v = RPC_VERSION_RESP__INIT;

	v.version = (char *)CKPT_VERSION;
	v.protocol = CKPTD_PROTOCOL;
	resp.type = RPC_REQ_TYPE__RPC_VERSION;
	resp.version = &v;
	return rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
}

static int on_check(struct conn *c)
{
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcCheckResp ck = RPC_CHECK_RESP__INIT;
	const struct ckpt_feature *f = NULL;
	_cleanup_free_ RpcFeature *fv = NULL;
	_cleanup_free_ RpcFeature **fp = NULL;
	size_t n = 0;
	int r = ckpt_check(&f, &n);

	fv = calloc(n ?: 1, sizeof(*fv));
	fp = calloc(n ?: 1, sizeof(*fp));
	if (!fv || !fp)
		return rpc_reply_error(c, RPC_REQ_TYPE__RPC_CHECK, ENOMEM, NULL, true);
	for (size_t i = 0; i < n; i++) {
		rpc_feature__init(&fv[i]);
		fv[i].name = (char *)f[i].name;
		fv[i].present = f[i].present;
		fv[i].required = f[i].required;
		fv[i].detail = (char *)f[i].detail;
		fp[i] = &fv[i];
	}
	ck.n_features = n;
	ck.features = fp;
	resp.type = RPC_REQ_TYPE__RPC_CHECK;
	resp.error = r < 0 ? -r : 0;
	resp.message = r < 0 ? (char *)"a required kernel feature is missing" : NULL;
	resp.check = &ck;
	return rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
}

static void fill_jobs(RpcJob *jv, RpcJob **jp, const struct job_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rpc_job__init(&jv[i]);
		jv[i].id = v[i].id;
		jv[i].type = v[i].type;
		jv[i].state = v[i].state;
		jv[i].uid = v[i].uid;
		jv[i].has_pid = v[i].pid > 0;
		jv[i].pid = v[i].pid;
		jv[i].images_dir = v[i].images_dir;
		jv[i].has_error = v[i].error != 0;
		jv[i].error = v[i].error;
		jv[i].has_age_ns = true;
		jv[i].age_ns = v[i].age_ns;
		jv[i].has_duration_ns = v[i].duration_ns != 0;
		jv[i].duration_ns = v[i].duration_ns;
		jp[i] = &jv[i];
	}
}

/* status and list: the same snapshot, answered with or without the counters. */
static int on_jobs(struct conn *c, int type)
{
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcStatusResp st = RPC_STATUS_RESP__INIT;
	RpcListResp ls = RPC_LIST_RESP__INIT;
	const struct peer *p = conn_peer(c);
	struct job_info *v = NULL;
	struct pool_counts k;
	RpcJob *jv = NULL, **jp = NULL;
	size_t n = 0;
	int r = pool_snapshot(p, rpc_privileged(p), CKPTD_MAX_LISTED, &v, &n, &k);

	if (r == 0) {
		jv = calloc(n ?: 1, sizeof(*jv));
		jp = calloc(n ?: 1, sizeof(*jp));
	}
	if (r < 0 || !jv || !jp) {
		r = rpc_reply_error(c, type, ENOMEM, NULL, true);
		goto out;
	}
	fill_jobs(jv, jp, v, n);
	resp.type = type;
	if (type == RPC_REQ_TYPE__RPC_STATUS) {
		st = (RpcStatusResp){.base = st.base,
				     .running = k.running,
				     .queued = k.queued,
				     .done = k.done,
				     .failed = k.failed,
				     .cancelled = k.cancelled,
				     .workers = k.workers,
				     .has_uptime_ns = true,
				     .uptime_ns = now_ns(CLOCK_MONOTONIC) - rpc_t0,
				     .n_jobs = n,
				     .jobs = jp};
		resp.status = &st;
	} else {
		ls.n_jobs = n;
		ls.jobs = jp;
		resp.list = &ls;
	}
	/* Fewer jobs rather than no answer: the packet must fit the socket's buffer. */
	while (n && rpc_response__get_packed_size(&resp) > CKPTD_MAX_RESPONSE) {
		n /= 2;
		st.n_jobs = ls.n_jobs = n;
	}
	r = rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
out:
	free(jv);
	free(jp);
	job_infos_free(v, n);
	return r;
}

static int on_cancel(struct conn *c, const RpcRequest *req)
{
	const struct peer *p = conn_peer(c);
	RpcResponse resp = RPC_RESPONSE__INIT;
	char *why = NULL;
	int r;

	r = pool_cancel(req->cancel->job_id, p, rpc_privileged(p), &why);
	if (r < 0)
		return rpc_refuse(c, req->type, r, why);
	pr_info("job %" PRIu64 ": cancelled by uid %u (pid %d)", req->cancel->job_id, (unsigned int)p->uid,
		(int)p->pid);
	resp.type = req->type;
	resp.has_job_id = true;
	resp.job_id = req->cancel->job_id;
	return rpc_send(c, &resp) < 0 ? RPC_CLOSE : RPC_KEEP;
}

static int queue_job(struct conn *c, struct job *job)
{
	const struct peer *p = conn_peer(c);
	uint64_t id = 0;
	char *why = NULL;
	int type = job->type, r;

	job->conn = c;
	job->privileged = rpc_privileged(p);
	job->owner_uid = rpc_cfg->has_service ? rpc_cfg->service_uid : 0;
	job->owner_gid = rpc_cfg->has_service ? rpc_cfg->service_gid : 0;
	r = pool_submit(job, &id, &why);
	if (r < 0) {
		job_free(job);
		return rpc_refuse(c, type, r, why);
	}
	pr_info("job %" PRIu64 ": %s for uid %u (pid %d) queued", id, rpc_type_name(type),
		(unsigned int)p->uid, (int)p->pid);
	return RPC_PENDING;
}

static int on_dump(struct conn *c, const RpcRequest *req)
{
	const RpcDumpReq *d = req->dump;
	const struct peer *p = conn_peer(c);
	struct job *job;
	char *why = NULL;
	int r;

	/* Its form (pid, flags, path) was checked by rpc_decode_request(). */
	if (d->freeze_cgroup && !rpc_privileged(p))
		return rpc_refuse(c, req->type, -EPERM,
				  strdup("freeze_cgroup is for root and the service account"));
	/* The first of three checks (runner.c): refuse early, before the request waits in the queue. */
	if (!rpc_privileged(p)) {
		r = auth_dump_tree(p, d->pid, &why);
		if (r < 0)
			return rpc_refuse(c, req->type, r, why);
	}
	job = job_new(req->type, p);
	if (!job || !(job->images_dir = strdup(d->images_dir)) ||
	    (d->freeze_cgroup && !(job->freeze_cgroup = strdup(d->freeze_cgroup)))) {
		job_free(job);
		return rpc_reply_error(c, req->type, ENOMEM, NULL, true);
	}
	job->pid = d->pid;
	job->leave_running = d->leave_running;
	job->leave_stopped = d->leave_stopped;
	job->shell_job = d->shell_job;
	return queue_job(c, job);
}

static int on_restore(struct conn *c, const RpcRequest *req)
{
	const RpcRestoreReq *d = req->restore;
	const struct peer *p = conn_peer(c);
	struct job *job;

	if (d->pidfile && !rpc_privileged(p))
		return rpc_refuse(c, req->type, -EPERM,
				  strdup("pidfile is for root and the service account"));
	job = job_new(req->type, p);
	if (!job || !(job->images_dir = strdup(d->images_dir)) ||
	    (d->pidfile && !(job->pidfile = strdup(d->pidfile)))) {
		job_free(job);
		return rpc_reply_error(c, req->type, ENOMEM, NULL, true);
	}
	return queue_job(c, job);
}

static int dispatch(struct conn *c, const RpcRequest *req)
{
	pr_debug("%s request from uid %u (pid %d)", rpc_type_name(req->type), (unsigned int)conn_peer(c)->uid,
		 (int)conn_peer(c)->pid);
	switch (req->type) {
	case RPC_REQ_TYPE__RPC_VERSION:
		return on_version(c);
	case RPC_REQ_TYPE__RPC_CHECK:
		return on_check(c);
	case RPC_REQ_TYPE__RPC_DUMP:
		return on_dump(c, req);
	case RPC_REQ_TYPE__RPC_RESTORE:
		return on_restore(c, req);
	case RPC_REQ_TYPE__RPC_STATUS:
	case RPC_REQ_TYPE__RPC_LIST:
		return on_jobs(c, req->type);
	case RPC_REQ_TYPE__RPC_CANCEL:
		return on_cancel(c, req);
	case RPC_REQ_TYPE__RPC_PRE_DUMP:
		return rpc_reply_error(c, req->type, EOPNOTSUPP, "pre-dump is not supported yet", true);
	case RPC_REQ_TYPE__RPC_JOB_REGISTER:
	case RPC_REQ_TYPE__RPC_JOB_END:
	case RPC_REQ_TYPE__RPC_JOB_CHECKPOINT:
	case RPC_REQ_TYPE__RPC_JOB_LIST:
	case RPC_REQ_TYPE__RPC_JOB_FORGET:
	case RPC_REQ_TYPE__RPC_JOB_START:
		return rpc_sjob_dispatch(c, req);
	default:
		return rpc_reply_error(c, RPC_REQ_TYPE__RPC_VERSION, EINVAL, "unknown request type", false);
	}
}

int rpc_handle(struct conn *c, const uint8_t *buf, size_t len)
{
	struct rpc_reject rj;
	RpcRequest *req;
	int r = rpc_decode_request(buf, len, &req, &rj);

	if (r < 0) {
		pr_debug("bad input: %s request from uid %u (pid %d): %s", rpc_type_name(rj.type),
			 (unsigned int)conn_peer(c)->uid, (int)conn_peer(c)->pid, rj.why ?: strerror(-r));
		r = rpc_reply_error(c, rj.type, -r, rj.why, rj.keep);
		free(rj.why);
		return r;
	}
	r = dispatch(c, req);
	rpc_request__free_unpacked(req, NULL);
	return r;
}

static void log_outcome(const struct job *job)
{
	if (job->error)
		pr_info("job %" PRIu64 ": %s failed: %s", job->id, rpc_type_name(job->type),
			job->message ?: strerror(job->error));
	else if (job->type == RPC_REQ_TYPE__RPC_DUMP)
		pr_info("job %" PRIu64 ": dump of pid %d done: %u tasks, frozen %" PRIu64 " us, %" PRIu64
			" pages, %" PRIu64 " bytes",
			job->id, (int)job->pid, job->stats.nr_tasks, job->stats.frozen_ns / 1000,
			job->stats.pages_written, job->stats.bytes_written);
	else
		pr_info("job %" PRIu64 ": restore done: pid %d", job->id, (int)job->pid);
}

void rpc_job_done(struct job *job)
{
	RpcResponse resp = RPC_RESPONSE__INIT;
	RpcDumpResp d = RPC_DUMP_RESP__INIT;
	RpcRestoreResp rs = RPC_RESTORE_RESP__INIT;
	RpcJobCheckpointResp jc = RPC_JOB_CHECKPOINT_RESP__INIT;
	struct conn *c = TAKE_PTR(job->conn);

	log_outcome(job);
	if (!c)
		return;
	resp.type = job->type;
	resp.error = job->error;
	resp.message = job->message;
	resp.has_job_id = true;
	resp.job_id = job->id;
	if (job->type == RPC_REQ_TYPE__RPC_DUMP && !job->error) {
		d = (RpcDumpResp){.base = d.base,
				  .has_nr_tasks = true,
				  .nr_tasks = job->stats.nr_tasks,
				  .has_nr_threads = true,
				  .nr_threads = job->stats.nr_threads,
				  .has_frozen_ns = true,
				  .frozen_ns = job->stats.frozen_ns,
				  .has_pages = true,
				  .pages = job->stats.pages_written,
				  .has_bytes = true,
				  .bytes = job->stats.bytes_written,
				  .has_duration_ns = true,
				  .duration_ns = job->stats.total_ns};
		resp.dump = &d;
	} else if (job->type == RPC_REQ_TYPE__RPC_RESTORE && !job->error) {
		rs.pid = job->pid;
		resp.restore = &rs;
	}
	if (job->sc) { /* a Slurm job's checkpoint: its own answer, the dump figures inside */
		resp.dump = NULL;
		sjob_ckpt_answer(job, &resp, &jc, job->error ? NULL : &d);
	}
	conn_release(c, rpc_send(c, &resp) == 0);
}
