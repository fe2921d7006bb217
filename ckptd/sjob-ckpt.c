/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include "ckpt.h"
#include "log.h"
#include "runner.h"
#include "sjob-ckpt.h"
#include "sjobs.h"
#include "slurmapi.h"
#include "topo.h"
#include "workers.h"

void sjob_ckpt_free(struct sjob_ckpt *sc)
{
	if (!sc)
		return;
	free(sc->path);
	free(sc);
}

/* The job's files and the configured node-local paths, NULL-terminated, owned. */
static char **save_paths_of(const struct sjob *j, const struct sjobs_conf *conf)
{
	size_t n = 0, cap = 3;
	char **v;

	for (size_t i = 0; conf->save_paths && conf->save_paths[i]; i++)
		cap++;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return NULL;
	if (j->stdout_path)
		v[n++] = strdup(j->stdout_path);
	if (j->stderr_path && (!j->stdout_path || strcmp(j->stderr_path, j->stdout_path)))
		v[n++] = strdup(j->stderr_path);
	for (size_t i = 0; conf->save_paths && conf->save_paths[i]; i++)
		v[n++] = strdup(conf->save_paths[i]);
	for (size_t i = 0; i < n; i++)
		if (!v[i]) {
			for (size_t k = 0; k < n; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	return v;
}

static struct job *make_job(const struct sjob *j, const struct sjobs_conf *conf, struct sjob_ckpt *sc,
			    const struct peer *p)
{
	struct job *job = job_new(RPC_REQ_TYPE__RPC_DUMP, p);

	if (!job)
		return NULL;
	job->sc = sc;
	job->privileged = true; /* on behalf of Slurm; the caller was authorized */
	job->pid = j->pid;
	job->leave_stopped = sc->requeue || sc->cancel;
	job->leave_running = !job->leave_stopped;
	job->file_locks = true; /* sqlite and friends hold POSIX locks: taken again at restore */
	job->save_paths = save_paths_of(j, conf);
	if (!job->save_paths) {
		job->sc = NULL;
		job_free(job);
		return NULL;
	}
	return job;
}

int sjob_ckpt_submit(uint32_t job_id, enum pol_reason reason, bool requeue, bool cancel, const struct peer *p,
		     struct conn *c, char **ret_why)
{
	struct sjobs_conf conf = {0};
	struct sjob_ckpt *sc = NULL;
	struct sjob j = {0};
	struct job *job = NULL;
	uint64_t id = 0;
	int r;

	r = sjobs_get(job_id, &j);
	if (r < 0)
		return r;
	r = sjobs_conf_get(&conf);
	if (r == 0)
		r = sjobs_begin(job_id);
	if (r < 0) {
		if (r == -EBUSY &&
		    asprintf(ret_why, "slurm job %u: a checkpoint of it is under way", job_id) < 0)
			*ret_why = NULL;
		goto out;
	}
	sc = calloc(1, sizeof(*sc));
	if (sc)
		*sc = (struct sjob_ckpt){
			.job_id = job_id, .reason = reason, .requeue = requeue, .cancel = cancel};
	job = sc ? make_job(&j, &conf, sc, p) : NULL;
	if (!job) {
		sjob_ckpt_free(sc);
		r = -ENOMEM;
	} else {
		job->conn = c;
		r = pool_submit(job, &id, ret_why); /* the pool owns job from here on success */
		if (r < 0)
			job_free(job);
	}
	if (r < 0)
		sjobs_finish(job_id, false, POL_NONE, false);
	else
		pr_info("slurm job %u: checkpoint queued as job %" PRIu64 " (%s%s)", job_id, id,
			reason == POL_NONE ? "request" : pol_reason_name(reason),
			requeue	 ? ", then requeue"
			: cancel ? ", then cancel"
				 : "");
out:
	sjobs_conf_free(&conf);
	sjob_clear(&j);
	return r;
}

static void resume_tree(pid_t pid, int depth);

/* SIGCONT to every descendant of pid (the children of each of its threads). */
static void resume_children(pid_t pid, int depth)
{
	char path[64], buf[4096];
	DIR *d;
	struct dirent *de;

	if (depth > 64)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		FILE *f;
		int child;

		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(buf, "re");
		while (f && fscanf(f, "%d", &child) == 1)
			resume_tree(child, depth + 1);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

static void resume_tree(pid_t pid, int depth)
{
	kill(pid, SIGCONT);
	resume_children(pid, depth);
}

/*
 * A tree left stopped for a requeue that did not happen goes on. Under the plugin the job is
 * every process of its PID namespace but the init (orphans re-parent to it): start there.
 */
static void resume_job(const struct sjob *j)
{
	pr_info("slurm job %u: its tree is resumed", j->job_id);
	if (j->init_pid > 0)
		resume_children(j->init_pid, 0);
	else
		resume_tree(j->pid, 0);
}

/* SIGKILL to the job's tree, which was left stopped: its namespace's init, or each task. */
static void end_job(const struct sjob *j)
{
	if (j->init_pid > 0 && kill(j->init_pid, SIGKILL) == 0)
		return;
	kill(j->pid, SIGKILL);
}

static void fill_meta(const struct sjob *j, const struct job *job, struct layout_meta *m, char *node)
{
	const struct sjob_ckpt *sc = job->sc;

	*m = (struct layout_meta){
		.job_id = j->job_id,
		.uid = j->uid,
		.gid = j->gid,
		.node = node,
		.time = time(NULL),
		.reason = (char *)(sc->reason == POL_NONE ? "request" : pol_reason_name(sc->reason)),
		.restart_count = j->restart_count,
		.engine_version = (char *)CKPT_VERSION,
		.image_version = 1,
		.cpu_features = (char *)topo_cpu_features(),
		.topology = (char *)topo_summary(),
		.bytes = job->stats.bytes_written,
		.duration_ns = job->stats.total_ns,
		.frozen_ns = job->stats.frozen_ns,
		.script_path = j->script_path,
		.stdout_path = j->stdout_path,
		.stderr_path = j->stderr_path,
		.kept = sc->cancel, /* the user ends the job but keeps its checkpoint: never swept */
	};
}

static void fail(struct job *job, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct job *job, int err, const char *fmt, ...)
{
	va_list ap;

	job->error = err;
	free(job->message);
	va_start(ap, fmt);
	if (vasprintf(&job->message, fmt, ap) < 0)
		job->message = NULL;
	va_end(ap);
	pr_err("slurm job %u: %s", job->sc->job_id, job->message ?: strerror(err));
}

/* Requeue or cancel the job through slurmctld; on failure it goes on where it is. */
static void leave_node(struct job *job, const struct sjob *j, bool slurm)
{
	struct sjob_ckpt *sc = job->sc;
	char *why = NULL;
	int r;

	if (!slurm) {
		resume_job(j);
		fail(job, ENOTSUP, "checkpoint %u committed, but slurm = no: not requeued or cancelled",
		     sc->seq);
		return;
	}
	/*
	 * The tree must not run again after its checkpoint: slurmstepd sends SIGCONT before it
	 * kills a step, and a tree that ran on would find its files changed at restore (or
	 * write lines twice). The init's death ends its whole PID namespace at once.
	 */
	end_job(j);
	r = slurmapi_leave(sc->job_id, !sc->requeue, &why);
	if (r == 0) {
		sc->requeued = sc->requeue;
		sc->cancelled = !sc->requeue;
		pr_info("slurm job %u: %s after checkpoint %u", sc->job_id,
			sc->requeue ? "requeued" : "cancelled", sc->seq);
		return;
	}
	fail(job, -r,
	     "checkpoint %u committed and the tree ended, but %s: requeue the job by hand "
	     "(scontrol requeue %u) to go on from it",
	     sc->seq, why ?: "slurmctld failed", sc->job_id);
	free(why);
}

static int commit(struct job *job, const struct sjob *j, struct layout_ckpt *lc,
		  const struct sjobs_conf *conf)
{
	struct sjob_ckpt *sc = job->sc;
	struct layout_meta m;
	int r;

	fill_meta(j, job, &m, conf->node_name);
	r = layout_commit_seq(lc, &m, &sc->seq);
	if (r < 0)
		return fail(job, -r, "committing its checkpoint failed: %s", strerror(-r)), r;
	if (asprintf(&sc->path, "%s/%u/%u", layout_root(sjobs_layout()), sc->job_id, sc->seq) < 0)
		sc->path = NULL;
	pr_info("slurm job %u: checkpoint %u committed: %u tasks, %" PRIu64 " bytes, frozen %" PRIu64 " ms",
		sc->job_id, sc->seq, job->stats.nr_tasks, job->stats.bytes_written,
		job->stats.frozen_ns / 1000000);
	r = layout_retain(sjobs_layout(), sc->job_id, conf->pol.keep);
	if (r < 0)
		pr_warn("slurm job %u: retention: %s", sc->job_id, strerror(-r));
	return 0;
}

static bool cancelled(void *job)
{
	return pool_job_cancelled(job);
}

/* At most max_dumps checkpoints dump at once on this node: wait for a slot (or a cancel). */
static int take_slot(struct job *job, const struct sjobs_conf *conf)
{
	int r = sjobs_slot_take(false, NULL, NULL);

	if (r == 0)
		return 0;
	pr_info("slurm job %u: waits for a dump slot (max_dumps = %u)", job->sc->job_id,
		conf->pol.max_concurrent);
	r = sjobs_slot_take(true, cancelled, job);
	if (r == -ECANCELED) {
		job->error = ECANCELED;
		job->message = strdup("cancelled while waiting for a dump slot: the job runs on untouched");
		pr_info("slurm job %u: checkpoint cancelled before it started", job->sc->job_id);
	}
	return r;
}

void sjob_ckpt_run(struct job *job)
{
	struct sjob_ckpt *sc = job->sc;
	struct layout_ckpt *lc = NULL;
	struct sjobs_conf conf = {0};
	struct sjob j = {0};
	bool committed = false, slot = false;
	int r;

	r = sjobs_get(sc->job_id, &j);
	if (r == 0)
		r = sjobs_conf_get(&conf);
	if (r < 0) {
		fail(job, -r, "cannot start its checkpoint: %s", strerror(-r));
		goto out;
	}
	if (take_slot(job, &conf) < 0)
		goto out;
	slot = true;
	r = layout_begin(sjobs_layout(), sc->job_id, &lc);
	if (r < 0) {
		fail(job, -r, "cannot start its checkpoint: %s", strerror(-r));
		goto out;
	}
	job->images_dir = strdup(layout_ckpt_path(lc));
	if (!job->images_dir) {
		layout_abort(lc);
		fail(job, ENOMEM, "out of memory");
		goto out;
	}
	runner_run(job);
	if (job->error) {
		layout_abort(lc); /* the engine let the tree go on */
		pr_err("slurm job %u: checkpoint failed, nothing committed, the job runs on: %s", sc->job_id,
		       job->message ?: strerror(job->error));
		goto out;
	}
	if (commit(job, &j, lc, &conf) < 0) {
		if (job->leave_stopped)
			resume_job(&j);
		goto out;
	}
	committed = true;
	if (sc->requeue || sc->cancel)
		leave_node(job, &j, conf.slurm);
out:
	if (slot)
		sjobs_slot_give();
	sjobs_finish(sc->job_id, committed, sc->reason, sc->requeued || sc->cancelled);
	sjobs_conf_free(&conf);
	sjob_clear(&j);
}

void sjob_ckpt_answer(const struct job *job, RpcResponse *resp, RpcJobCheckpointResp *jc, RpcDumpResp *d)
{
	const struct sjob_ckpt *sc = job->sc;

	resp->type = RPC_REQ_TYPE__RPC_JOB_CHECKPOINT;
	if (job->error && !sc->seq)
		return;
	jc->seq = sc->seq;
	jc->path = sc->path;
	jc->dump = d;
	jc->has_requeued = jc->has_cancelled = true;
	jc->requeued = sc->requeued;
	jc->cancelled = sc->cancelled;
	resp->job_checkpoint = jc;
}
