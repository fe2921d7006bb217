/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include "log.h"
#include "sjobs.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t slot_free;
	struct sjob *v;
	size_t n;
	unsigned int dumping; /* dump slots taken (sjobs_slot_take) */
	struct sjobs_conf conf;
	struct layout *layout;
} sj = {.lock = PTHREAD_MUTEX_INITIALIZER, .slot_free = PTHREAD_COND_INITIALIZER};

static char **split_paths(const char *s)
{
	char **v = calloc(1, sizeof(*v));
	size_t n = 0;

	for (const char *p = s; v && p && *p;) {
		size_t l = strcspn(p, ",");
		char **nv = l ? reallocarray(v, n + 2, sizeof(*v)) : v;

		if (!nv) {
			break;
		}
		v = nv;
		if (l) {
			v[n] = strndup(p, l);
			v[++n] = NULL;
		}
		p += l + (p[l] == ',');
	}
	return v;
}

static void free_paths(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void sjobs_conf_free(struct sjobs_conf *c)
{
	free(c->node_name);
	free_paths(c->save_paths);
	*c = (struct sjobs_conf){0};
}

static int conf_copy(const struct sjobs_conf *src, struct sjobs_conf *ret)
{
	*ret = *src;
	ret->node_name = strdup(src->node_name ?: "");
	ret->save_paths = calloc(1, sizeof(char *));
	for (size_t i = 0; ret->save_paths && src->save_paths && src->save_paths[i]; i++) {
		char **nv = reallocarray(ret->save_paths, i + 2, sizeof(char *));

		if (!nv)
			break;
		ret->save_paths = nv;
		nv[i] = strdup(src->save_paths[i]);
		nv[i + 1] = NULL;
	}
	if (!ret->node_name || !ret->save_paths) {
		sjobs_conf_free(ret);
		return -ENOMEM;
	}
	return 0;
}

int sjobs_configure(const struct ckptd_config *c)
{
	struct sjobs_conf n = {
		.enabled = c->images_root[0] != '\0',
		.slurm = c->slurm,
		.node_name = strdup(c->node_name),
		.watch_interval_ms = c->watch_interval_ms,
		.pol = {.maint_lead_s = c->maint_lead_s,
			.walltime_lead_s = c->walltime_lead_s,
			.jitter_s = c->jitter_s,
			.max_concurrent = c->max_dumps,
			.keep = c->keep},
		.keep_on_completion = c->keep_on_completion,
		.sweep_interval_s = c->sweep_interval_s,
		.save_paths = split_paths(c->save_paths),
	};
	struct layout *l = NULL;
	int r;

	if (!n.node_name || !n.save_paths) {
		sjobs_conf_free(&n);
		return -ENOMEM;
	}
	pthread_mutex_lock(&sj.lock);
	if (n.enabled && !sj.layout) {
		r = layout_open(c->images_root, c->has_service ? c->service_uid : 0,
				c->has_service ? c->service_gid : 0, &l);
		if (r < 0) {
			pthread_mutex_unlock(&sj.lock);
			sjobs_conf_free(&n);
			return pr_err_errno(r, "images_root '%s'", c->images_root);
		}
		sj.layout = l;
	}
	sjobs_conf_free(&sj.conf);
	sj.conf = n;
	pthread_mutex_unlock(&sj.lock);
	return 0;
}

int sjobs_conf_get(struct sjobs_conf *ret)
{
	int r;

	pthread_mutex_lock(&sj.lock);
	r = conf_copy(&sj.conf, ret);
	pthread_mutex_unlock(&sj.lock);
	return r;
}

bool sjobs_enabled(void)
{
	bool on;

	pthread_mutex_lock(&sj.lock);
	on = sj.conf.enabled && sj.layout;
	pthread_mutex_unlock(&sj.lock);
	return on;
}

struct layout *sjobs_layout(void)
{
	return sj.layout;
}

static struct sjob *find(uint32_t job_id)
{
	for (size_t i = 0; i < sj.n; i++)
		if (sj.v[i].job_id == job_id)
			return &sj.v[i];
	return NULL;
}

void sjob_clear(struct sjob *j)
{
	free(j->script_path);
	free(j->stdout_path);
	free(j->stderr_path);
	j->script_path = j->stdout_path = j->stderr_path = NULL;
}

static int sjob_copy(const struct sjob *src, struct sjob *ret)
{
	*ret = *src;
	ret->script_path = src->script_path ? strdup(src->script_path) : NULL;
	ret->stdout_path = src->stdout_path ? strdup(src->stdout_path) : NULL;
	ret->stderr_path = src->stderr_path ? strdup(src->stderr_path) : NULL;
	if ((src->script_path && !ret->script_path) || (src->stdout_path && !ret->stdout_path) ||
	    (src->stderr_path && !ret->stderr_path)) {
		sjob_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

static void remove_at(size_t i)
{
	sjob_clear(&sj.v[i]);
	sj.v[i] = sj.v[--sj.n];
}

int sjobs_register(const RpcJobRegisterReq *r)
{
	struct sjob j = {
		.job_id = r->job_id,
		.uid = r->uid,
		.gid = r->gid,
		.pid = r->pid,
		.init_pid = r->has_init_pid ? r->init_pid : 0,
		.interval_s = r->has_interval_s ? r->interval_s : 0,
		.restart_count = r->has_restart_count ? r->restart_count : 0,
		.restored_seq = r->has_restored_seq ? r->restored_seq : 0,
		.registered = time(NULL),
	};
	struct sjob tmp = {
		.script_path = r->script_path, .stdout_path = r->stdout_path, .stderr_path = r->stderr_path};
	struct sjob *old, *nv;
	int e;

	e = sjob_copy(&tmp, &tmp);
	if (e < 0)
		return e;
	j.script_path = tmp.script_path;
	j.stdout_path = tmp.stdout_path;
	j.stderr_path = tmp.stderr_path;
	pthread_mutex_lock(&sj.lock);
	old = find(r->job_id);
	if (old) /* registered again (restored here): the new tree replaces the old one */
		remove_at((size_t)(old - sj.v));
	nv = reallocarray(sj.v, sj.n + 1, sizeof(*nv));
	if (!nv) {
		pthread_mutex_unlock(&sj.lock);
		sjob_clear(&j);
		return -ENOMEM;
	}
	sj.v = nv;
	sj.v[sj.n++] = j;
	pthread_mutex_unlock(&sj.lock);
	pr_info("slurm job %u: registered (uid %u, pid %d, interval %u s%s)", j.job_id, (unsigned int)j.uid,
		(int)j.pid, j.interval_s, j.restored_seq ? ", restored" : "");
	return 0;
}

/* A job that completed by itself: its checkpoints have served (unless asked to keep them). */
static void forget_completed(uint32_t job_id, int status, bool leaving, bool keep)
{
	int r;

	if (!WIFEXITED(status) || WEXITSTATUS(status) || leaving || keep || !sj.layout)
		return;
	r = layout_forget(sj.layout, job_id);
	if (r < 0)
		pr_warn("slurm job %u: completed; removing its checkpoints: %s", job_id, strerror(-r));
	else
		pr_info("slurm job %u: completed; its checkpoints are removed", job_id);
}

int sjobs_end(uint32_t job_id, int status)
{
	struct sjob *j;
	bool leaving, keep;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	if (!j) {
		pthread_mutex_unlock(&sj.lock);
		return -ENOENT;
	}
	leaving = j->leaving;
	keep = sj.conf.keep_on_completion;
	remove_at((size_t)(j - sj.v));
	pthread_mutex_unlock(&sj.lock);
	pr_info("slurm job %u: its tree ended (status 0x%x)", job_id, (unsigned int)status);
	forget_completed(job_id, status, leaving, keep);
	return 0;
}

void sjobs_drop(uint32_t job_id, const char *why)
{
	struct sjob *j;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	if (j && !j->in_progress) {
		remove_at((size_t)(j - sj.v));
		pr_info("slurm job %u: no longer watched: %s", job_id, why);
	}
	pthread_mutex_unlock(&sj.lock);
}

int sjobs_get(uint32_t job_id, struct sjob *ret)
{
	struct sjob *j;
	int r;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	r = j ? sjob_copy(j, ret) : -ENOENT;
	pthread_mutex_unlock(&sj.lock);
	return r;
}

void sjobs_free(struct sjob *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sjob_clear(&v[i]);
	free(v);
}

int sjobs_snapshot(struct sjob **ret, size_t *ret_n)
{
	struct sjob *v;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&sj.lock);
	v = calloc(sj.n ?: 1, sizeof(*v));
	for (i = 0; v && i < sj.n && r == 0; i++)
		r = sjob_copy(&sj.v[i], &v[i]);
	pthread_mutex_unlock(&sj.lock);
	if (!v || r < 0) {
		sjobs_free(v, v ? i : 0);
		return -ENOMEM;
	}
	*ret = v;
	*ret_n = i;
	return 0;
}

int sjobs_begin(uint32_t job_id)
{
	struct sjob *j;
	int r = 0;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	if (!j)
		r = -ENOENT;
	else if (j->in_progress)
		r = -EBUSY;
	else
		j->in_progress = true;
	pthread_mutex_unlock(&sj.lock);
	return r;
}

void sjobs_finish(uint32_t job_id, bool committed, enum pol_reason reason, bool leaving)
{
	struct sjob *j;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	if (j) {
		j->in_progress = false;
		/* also after a failure: the next try waits for the next interval or reason */
		j->last_ckpt = time(NULL);
		if (reason != POL_INTERVAL && reason != POL_NONE)
			j->done_reason = reason;
		j->leaving = j->leaving || (committed && leaving);
	}
	pthread_mutex_unlock(&sj.lock);
}

unsigned int sjobs_in_progress(void)
{
	unsigned int n = 0;

	pthread_mutex_lock(&sj.lock);
	for (size_t i = 0; i < sj.n; i++)
		n += sj.v[i].in_progress;
	pthread_mutex_unlock(&sj.lock);
	return n;
}

/* Timed waits: the slots are few and short-lived, and a cancel must be seen meanwhile. */
int sjobs_slot_take(bool wait, bool (*cancelled)(void *arg), void *arg)
{
	for (;;) {
		struct timespec until;

		pthread_mutex_lock(&sj.lock);
		if (sj.dumping < MAX(sj.conf.pol.max_concurrent, 1u)) {
			sj.dumping++;
			pthread_mutex_unlock(&sj.lock);
			return 0;
		}
		if (!wait) {
			pthread_mutex_unlock(&sj.lock);
			return -EAGAIN;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sj.slot_free, &sj.lock, &until);
		pthread_mutex_unlock(&sj.lock);
		if (cancelled && cancelled(arg))
			return -ECANCELED;
	}
}

void sjobs_slot_give(void)
{
	pthread_mutex_lock(&sj.lock);
	if (sj.dumping)
		sj.dumping--;
	pthread_cond_signal(&sj.slot_free);
	pthread_mutex_unlock(&sj.lock);
}

void sjobs_steps_seen(uint32_t job_id, int64_t t)
{
	struct sjob *j;

	pthread_mutex_lock(&sj.lock);
	j = find(job_id);
	if (j)
		j->steps_seen = t;
	pthread_mutex_unlock(&sj.lock);
}

void sjobs_shutdown(void)
{
	pthread_mutex_lock(&sj.lock);
	while (sj.n)
		remove_at(sj.n - 1);
	free(sj.v);
	sj.v = NULL;
	if (sj.layout)
		layout_close(sj.layout);
	sj.layout = NULL;
	sjobs_conf_free(&sj.conf);
	pthread_mutex_unlock(&sj.lock);
}
