/* SPDX-License-Identifier: MIT */
/*
 * Worker threads are detached; the pool counts the live ones and pool_stop() waits for that
 * count to reach zero. One mutex guards the table, the queue and the counters; a job runs
 * and is answered outside it.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include "log.h"
#include "rpc.pb-c.h"
#include "runner.h"
#include "sjob-ckpt.h"
#include "syscalls.h"
#include "workers.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or the pool changed */
	pthread_cond_t idle; /* a worker ended */
	struct job *head, *tail;
	struct job *qhead, *qtail;
	uint64_t next_id;
	uint32_t target, live, queued, running, finished;
	uint32_t queue_max, history;
	uint32_t nr_done, nr_failed, nr_cancelled;
	bool stopping;
	job_done_fn done;
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.next_id = 1,
};

struct job *job_new(int type, const struct peer *p)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	if (peer_copy(p, &job->peer) < 0) {
		free(job);
		return NULL;
	}
	job->type = type;
	job->proc_fd = -EBADF;
	job->state = RPC_JOB_STATE__RPC_JOB_QUEUED;
	job->t_queued = now_ns(CLOCK_MONOTONIC);
	return job;
}

void job_free(struct job *job)
{
	if (!job)
		return;
	peer_free(&job->peer);
	free(job->images_dir);
	free(job->freeze_cgroup);
	free(job->pidfile);
	free(job->message);
	for (size_t i = 0; job->save_paths && job->save_paths[i]; i++)
		free(job->save_paths[i]);
	free(job->save_paths);
	sjob_ckpt_free(job->sc);
	free(job);
}

static bool job_active(const struct job *job)
{
	return job->state == RPC_JOB_STATE__RPC_JOB_QUEUED || job->state == RPC_JOB_STATE__RPC_JOB_RUNNING;
}

static void table_unlink(struct job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		pool.head = job->next;
	if (job->next)
		job->next->prev = job->prev;
	else
		pool.tail = job->prev;
}

/* Forget the oldest finished jobs beyond the history size. Called locked. */
static void trim_history(void)
{
	struct job *job = pool.head, *next;

	for (; job && pool.finished > pool.history; job = next) {
		next = job->next;
		if (job_active(job) || job->busy)
			continue;
		table_unlink(job);
		pool.finished--;
		job_free(job);
	}
}

/* Mark a job finished and answer its client; called locked, returns locked. */
static void job_finish(struct job *job, int state)
{
	job->state = state;
	job->t_end = now_ns(CLOCK_MONOTONIC);
	if (state == RPC_JOB_STATE__RPC_JOB_DONE)
		pool.nr_done++;
	else if (state == RPC_JOB_STATE__RPC_JOB_FAILED)
		pool.nr_failed++;
	else
		pool.nr_cancelled++;
	pool.finished++;
	job->busy = true;
	pthread_mutex_unlock(&pool.lock);
	pool.done(job);
	pthread_mutex_lock(&pool.lock);
	job->busy = false;
	trim_history();
}

static struct job *queue_pop(void)
{
	struct job *job = pool.qhead;

	pool.qhead = job->qnext;
	if (!pool.qhead)
		pool.qtail = NULL;
	job->qnext = NULL;
	pool.queued--;
	return job;
}

static void *worker_main(void *arg)
{
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct job *job;

		while (!pool.qhead && !pool.stopping && pool.live <= pool.target)
			pthread_cond_wait(&pool.work, &pool.lock);
		if (pool.live > pool.target || (pool.stopping && !pool.qhead))
			break;
		job = queue_pop();
		job->state = RPC_JOB_STATE__RPC_JOB_RUNNING;
		job->t_start = now_ns(CLOCK_MONOTONIC);
		pool.running++;
		pthread_mutex_unlock(&pool.lock);
		if (job->sc)
			sjob_ckpt_run(job);
		else
			runner_run(job);
		pthread_mutex_lock(&pool.lock);
		pool.running--;
		job_finish(job, job->cancel && job->error == ECANCELED ? RPC_JOB_STATE__RPC_JOB_CANCELLED
				: job->error			       ? RPC_JOB_STATE__RPC_JOB_FAILED
								       : RPC_JOB_STATE__RPC_JOB_DONE);
	}
	pool.live--;
	pthread_cond_broadcast(&pool.idle);
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* Start workers up to the target; called locked. */
static int spawn_workers(void)
{
	pthread_attr_t attr;
	int r = 0;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (pool.live < pool.target) {
		pthread_t t;

		r = -pthread_create(&t, &attr, worker_main, NULL);
		if (r < 0) {
			pr_err_errno(r, "starting a worker thread");
			break;
		}
		pool.live++;
	}
	pthread_attr_destroy(&attr);
	return r;
}

int pool_start(uint32_t workers, uint32_t queue_max, uint32_t history, job_done_fn done)
{
	int r;

	pthread_mutex_lock(&pool.lock);
	pool.done = done;
	pool.target = workers;
	pool.queue_max = queue_max;
	pool.history = history;
	r = spawn_workers();
	pthread_mutex_unlock(&pool.lock);
	return r;
}

void pool_configure(uint32_t workers, uint32_t queue_max, uint32_t history)
{
	pthread_mutex_lock(&pool.lock);
	pool.target = workers;
	pool.queue_max = queue_max;
	pool.history = history;
	if (!pool.stopping)
		(void)spawn_workers();
	trim_history();
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.lock);
}

static bool same_dir(const struct job *a, const struct job *b)
{
	return a->images_dir && b->images_dir && !strcmp(a->images_dir, b->images_dir);
}

/* A queued or running job on the same tree or directory; called locked. */
static const struct job *find_conflict(const struct job *job)
{
	for (const struct job *j = pool.head; j; j = j->next) {
		if (!job_active(j))
			continue;
		if (job->type == RPC_REQ_TYPE__RPC_DUMP && j->type == RPC_REQ_TYPE__RPC_DUMP &&
		    j->pid == job->pid)
			return j;
		if (same_dir(j, job))
			return j;
	}
	return NULL;
}

static int submit_locked(struct job *job, char **ret_why)
{
	const struct job *other;

	if (pool.stopping)
		return asprintf(ret_why, "ckptd is shutting down") < 0 ? -ENOMEM : -ESHUTDOWN;
	other = find_conflict(job);
	if (other) {
		if (asprintf(ret_why, "job %" PRIu64 " is already working on %s %d / '%s'", other->id,
			     other->type == RPC_REQ_TYPE__RPC_DUMP ? "pid" : "restored pid", (int)other->pid,
			     other->images_dir ?: "") < 0)
			*ret_why = NULL;
		return -EBUSY;
	}
	if (pool.queued >= pool.queue_max) {
		if (asprintf(ret_why, "%u jobs are already queued", pool.queued) < 0)
			*ret_why = NULL;
		return -EAGAIN;
	}
	job->id = pool.next_id++;
	job->prev = pool.tail;
	if (pool.tail)
		pool.tail->next = job;
	else
		pool.head = job;
	pool.tail = job;
	if (pool.qtail)
		pool.qtail->qnext = job;
	else
		pool.qhead = job;
	pool.qtail = job;
	pool.queued++;
	pthread_cond_signal(&pool.work);
	return 0;
}

int pool_submit(struct job *job, uint64_t *ret_id, char **ret_why)
{
	int r;

	*ret_why = NULL;
	pthread_mutex_lock(&pool.lock);
	r = submit_locked(job, ret_why);
	/* Read under the lock: once queued, a worker may finish and forget the job at any time. */
	if (r == 0)
		*ret_id = job->id;
	pthread_mutex_unlock(&pool.lock);
	return r;
}

static void queue_remove(struct job *job)
{
	struct job **pp = &pool.qhead, *prev = NULL;

	for (; *pp; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp != job)
			continue;
		*pp = job->qnext;
		if (pool.qtail == job)
			pool.qtail = prev;
		job->qnext = NULL;
		pool.queued--;
		return;
	}
}

static void cancel_locked(struct job *job, const char *why)
{
	queue_remove(job);
	job->error = ECANCELED;
	free(job->message);
	job->message = strdup(why);
	job_finish(job, RPC_JOB_STATE__RPC_JOB_CANCELLED);
}

/*
 * SIGTERM: the job's process asks the engine to stop at its next safe point, which lets the
 * tree go as it was (a SIGKILL could catch a thread while it runs a syscall for the engine).
 * Called locked; the pidfd cannot hit another process, and one that already ended answers
 * ESRCH.
 */
static void kill_job(struct job *job)
{
	int r = sys_pidfd_send_signal(job->proc_fd, SIGTERM, NULL, 0);

	if (r < 0 && r != -ESRCH)
		pr_warn("job %" PRIu64 ": killing its process: %s", job->id, strerror(-r));
}

/* A running job: only a dump can stop halfway and leave its tree as it was. */
static int cancel_running(struct job *job)
{
	if (job->type != RPC_REQ_TYPE__RPC_DUMP)
		return -EBUSY;
	if (job->cancel)
		return -EALREADY;
	job->cancel = true;
	if (job->proc_fd >= 0)
		kill_job(job);
	return 0;
}

void pool_job_process(struct job *job, int pidfd)
{
	pthread_mutex_lock(&pool.lock);
	job->proc_fd = pidfd;
	if (pidfd >= 0 && job->cancel)
		kill_job(job);
	pthread_mutex_unlock(&pool.lock);
}

bool pool_job_cancelled(struct job *job)
{
	bool v;

	pthread_mutex_lock(&pool.lock);
	v = job->cancel;
	pthread_mutex_unlock(&pool.lock);
	return v;
}

int pool_cancel(uint64_t id, const struct peer *p, bool privileged, char **ret_why)
{
	struct job *job;
	int r = 0;

	*ret_why = NULL;
	pthread_mutex_lock(&pool.lock);
	for (job = pool.head; job && job->id != id; job = job->next)
		;
	if (!job || (!privileged && job->peer.uid != p->uid))
		r = -ENOENT; /* another user's job is none of his business: same answer as none */
	else if (job->state == RPC_JOB_STATE__RPC_JOB_RUNNING)
		r = cancel_running(job);
	else if (job->state != RPC_JOB_STATE__RPC_JOB_QUEUED)
		r = -EALREADY;
	else
		cancel_locked(job, "cancelled");
	pthread_mutex_unlock(&pool.lock);
	if (r == -ENOENT && asprintf(ret_why, "no job %" PRIu64, id) < 0)
		*ret_why = NULL;
	if (r == -EBUSY &&
	    asprintf(ret_why, "job %" PRIu64 " is a running restore: it cannot be cancelled", id) < 0)
		*ret_why = NULL;
	if (r == -EALREADY &&
	    asprintf(ret_why, "job %" PRIu64 " has already finished or is being cancelled", id) < 0)
		*ret_why = NULL;
	return r;
}

static int info_of(const struct job *job, uint64_t now, struct job_info *ret)
{
	*ret = (struct job_info){
		.id = job->id,
		.type = job->type,
		.state = job->state,
		.uid = job->peer.uid,
		.pid = job->pid,
		.error = job->error,
		.age_ns = now - job->t_queued,
		.duration_ns = job->t_end && job->t_start ? job->t_end - job->t_start : 0,
	};
	if (job->images_dir) {
		ret->images_dir = strdup(job->images_dir);
		if (!ret->images_dir)
			return -ENOMEM;
	}
	return 0;
}

int pool_snapshot(const struct peer *p, bool privileged, size_t max, struct job_info **ret, size_t *ret_n,
		  struct pool_counts *ret_counts)
{
	struct job_info *v = calloc(max ?: 1, sizeof(*v));
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	size_t n = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	pthread_mutex_lock(&pool.lock);
	for (const struct job *j = pool.tail; j && n < max && r == 0; j = j->prev)
		if (privileged || j->peer.uid == p->uid)
			r = info_of(j, now, &v[n++]);
	*ret_counts = (struct pool_counts){
		.running = pool.running,
		.queued = pool.queued,
		.done = pool.nr_done,
		.failed = pool.nr_failed,
		.cancelled = pool.nr_cancelled,
		.workers = pool.live,
	};
	pthread_mutex_unlock(&pool.lock);
	if (r < 0) {
		job_infos_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void job_infos_free(struct job_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].images_dir);
	free(v);
}

void pool_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	while (pool.qhead)
		cancel_locked(pool.qhead, "ckptd is shutting down");
	pthread_cond_broadcast(&pool.work);
	if (pool.running)
		pr_info("waiting for %u running job(s) to finish", pool.running);
	while (pool.live)
		pthread_cond_wait(&pool.idle, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
}
