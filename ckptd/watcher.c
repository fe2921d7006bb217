/* SPDX-License-Identifier: MIT */
/*
 * The node watcher: a thread that asks slurmctld, every watch_interval_ms, about this node
 * (drain, reboot requested, a maintenance reservation ahead) and about each registered job
 * (chosen for preemption, its time limit), lets policies/ decide, and queues the checkpoints
 * that are due, at most max_dumps at once; every sweep_interval_s it sweeps the layout
 * (sweep.c). Slurm 22.05 pushes nothing to a batch job at
 * preemption or before maintenance (SLURM-NOTES.md): polling is the only way to learn it.
 */
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "sjob-ckpt.h"
#include "sjobs.h"
#include "sweep.h"
#include "watcher.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stopping;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static bool node_listed(const char *list, const char *node)
{
	hostlist_t hl;
	bool found;

	if (!list || !*list)
		return false;
	if (!strcmp(list, "ALL"))
		return true;
	hl = slurm_hostlist_create(list);
	if (!hl)
		return false;
	found = slurm_hostlist_find(hl, node) >= 0;
	slurm_hostlist_destroy(hl);
	return found;
}

/* The next MAINT reservation holding node that has not ended: its start, or 0. */
static int64_t next_maint(const char *node, int64_t now)
{
	reserve_info_msg_t *rm = NULL;
	int64_t start = 0;

	if (slurm_load_reservations(0, &rm) != SLURM_SUCCESS)
		return 0;
	for (uint32_t i = 0; i < rm->record_count; i++) {
		const reserve_info_t *r = &rm->reservation_array[i];

		if (!(r->flags & RESERVE_FLAG_MAINT) || r->end_time <= now ||
		    !node_listed(r->node_list, node))
			continue;
		if (!start || r->start_time < start)
			start = r->start_time;
	}
	slurm_free_reservation_info_msg(rm);
	return start;
}

static void load_node(const struct sjobs_conf *conf, int64_t now, struct pol_node *ret)
{
	node_info_msg_t *nm = NULL;

	*ret = (struct pol_node){0};
	if (!conf->slurm)
		return;
	if (slurm_load_node_single(&nm, conf->node_name, SHOW_ALL) == SLURM_SUCCESS && nm->record_count) {
		uint32_t st = nm->node_array[0].node_state;

		ret->drain = st & NODE_STATE_DRAIN;
		ret->reboot_requested = st & NODE_STATE_REBOOT_REQUESTED;
	}
	if (nm)
		slurm_free_node_info_msg(nm);
	ret->maint_start = next_maint(conf->node_name, now);
}

/* Steps started with srun besides the batch script: ckpt takes the batch step's tree only. */
static bool has_srun_steps(uint32_t job_id)
{
	job_step_info_response_msg_t *sm = NULL;
	bool found = false;

	if (slurm_get_job_steps(0, job_id, NO_VAL, &sm, SHOW_ALL) != SLURM_SUCCESS)
		return false;
	for (uint32_t i = 0; i < sm->job_step_count; i++)
		if (sm->job_steps[i].step_id.step_id < SLURM_MAX_NORMAL_STEP_ID)
			found = true;
	slurm_free_job_step_info_response_msg(sm);
	return found;
}

/*
 * What slurmctld says of j: false when it no longer runs the job on this node (ended,
 * requeued, moved), and then j is dropped.
 */
static bool load_job(const struct sjobs_conf *conf, const struct sjob *j, struct pol_job *p)
{
	job_info_msg_t *jm = NULL;
	const slurm_job_info_t *ji;
	bool here;

	*p = (struct pol_job){.job_id = j->job_id,
			      .start_time = j->registered,
			      .interval_s = j->interval_s,
			      .last_ckpt = j->last_ckpt,
			      .in_progress = j->in_progress,
			      .done_for_reason = j->done_reason != POL_NONE};
	if (!conf->slurm)
		return true;
	if (slurm_load_job(&jm, j->job_id, SHOW_DETAIL) != SLURM_SUCCESS) {
		if (slurm_get_errno() == ESLURM_INVALID_JOB_ID)
			sjobs_drop(j->job_id, "slurmctld does not know it");
		return false; /* slurmctld unreachable: ask again next time */
	}
	ji = jm->record_count ? &jm->job_array[0] : NULL;
	/* a requeued job is PENDING before it runs again; then its new shim registers it anew */
	here = ji && (ji->job_state & JOB_STATE_BASE) == JOB_RUNNING && ji->batch_host &&
	       !strcmp(ji->batch_host, conf->node_name);
	if (here) {
		p->end_time = ji->end_time;
		p->preempt_time = ji->preempt_time;
		/*
		 * Remembered, not just asked when a checkpoint is due: at preemption slurmctld
		 * ends srun steps first (SLURM-NOTES.md), before the watcher sees the job chosen.
		 */
		if (has_srun_steps(j->job_id))
			sjobs_steps_seen(j->job_id, time(NULL));
	} else {
		sjobs_drop(j->job_id, "not running here any more");
	}
	slurm_free_job_info_msg(jm);
	return here;
}

/* One line appended to the job's error output, written with the job owner's rights only. */
static void tell_job(const struct sjob *j, const char *msg)
{
	const char *path = j->stderr_path ?: j->stdout_path;
	pid_t pid;

	if (!path)
		return;
	pid = fork();
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) < 0 || setresgid(j->gid, j->gid, j->gid) < 0 ||
		    setresuid(j->uid, j->uid, j->uid) < 0)
			_exit(1);
		fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		_exit(fd < 0 || write(fd, msg, strlen(msg)) < 0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Due, but not something ckpt can take yet: say so once, and let Slurm do as it would. */
static bool refuse_srun_steps(const struct sjobs_conf *conf, const struct sjob *j,
			      const struct pol_decision *d)
{
	char msg[256];

	int64_t recent = 3 + 3 * (int64_t)conf->watch_interval_ms / 1000;

	if (!conf->slurm || !j->steps_seen || time(NULL) - j->steps_seen > recent)
		return false;
	snprintf(msg, sizeof(msg), "ckpt: job %u runs srun steps: it cannot be checkpointed yet (%s); %s\n",
		 j->job_id, pol_reason_name(d->reason),
		 d->requeue ? "Slurm goes on as without ckpt" : "no checkpoint taken");
	pr_warn("slurm job %u: srun steps are running: not checkpointed (%s)", j->job_id,
		pol_reason_name(d->reason));
	if (sjobs_begin(j->job_id) == 0) {
		sjobs_finish(j->job_id, false, d->reason, false); /* once per reason */
		tell_job(j, msg);
	}
	return true;
}

static void queue_due(const struct sjobs_conf *conf, const struct sjob *v, const struct pol_job *pj,
		      const struct pol_decision *d, size_t n)
{
	size_t *idx = calloc(n ?: 1, sizeof(*idx)), k;
	struct peer root = {.pid = getpid()};

	if (!idx)
		return;
	k = pol_pick(&conf->pol, d, pj, n, sjobs_in_progress(), idx);
	for (size_t i = 0; i < k; i++) {
		const struct pol_decision *dd = &d[idx[i]];
		char *why = NULL;
		int r;

		if (refuse_srun_steps(conf, &v[idx[i]], dd))
			continue;
		pr_info("slurm job %u: %s: checkpoint%s", v[idx[i]].job_id, pol_reason_name(dd->reason),
			dd->requeue ? " and requeue" : "");
		r = sjob_ckpt_submit(v[idx[i]].job_id, dd->reason, dd->requeue, false, &root, NULL, &why);
		if (r < 0 && r != -EBUSY)
			pr_warn("slurm job %u: checkpoint not queued: %s", v[idx[i]].job_id,
				why ?: strerror(-r));
		free(why);
	}
	free(idx);
}

static void watch_once(const struct sjobs_conf *conf)
{
	struct pol_decision *d = NULL;
	struct pol_job *pj = NULL;
	struct sjob *v = NULL;
	struct pol_node node;
	int64_t now = time(NULL);
	size_t n = 0, due = 0;

	if (sjobs_snapshot(&v, &n) < 0 || !n)
		goto out;
	pj = calloc(n, sizeof(*pj));
	d = calloc(n, sizeof(*d));
	if (!pj || !d)
		goto out;
	load_node(conf, now, &node);
	for (size_t i = 0; i < n; i++) {
		if (!load_job(conf, &v[i], &pj[i])) {
			pj[i].in_progress = true; /* not a candidate */
			continue;
		}
		d[i] = pol_decide(&conf->pol, &node, &pj[i], now);
		due += d[i].reason != POL_NONE;
	}
	if (due)
		queue_due(conf, v, pj, d, n);
out:
	free(pj);
	free(d);
	sjobs_free(v, n);
}

static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void *watch_main(void *arg)
{
	int64_t last_sweep = now_s();

	(void)arg;
	pthread_mutex_lock(&w.lock);
	while (!w.stopping) {
		struct sjobs_conf conf = {0};
		struct timespec until;

		pthread_mutex_unlock(&w.lock);
		if (sjobs_conf_get(&conf) == 0) {
			if (conf.enabled)
				watch_once(&conf);
			if (conf.enabled && conf.sweep_interval_s &&
			    now_s() - last_sweep >= (int64_t)conf.sweep_interval_s) {
				sweep_once(&conf);
				last_sweep = now_s();
			}
		}
		pthread_mutex_lock(&w.lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += conf.watch_interval_ms / 1000;
		until.tv_nsec += (long)(conf.watch_interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		sjobs_conf_free(&conf);
		if (!w.stopping)
			pthread_cond_timedwait(&w.wake, &w.lock, &until);
	}
	pthread_mutex_unlock(&w.lock);
	return NULL;
}

int watcher_start(const struct ckptd_config *c)
{
	int r;

	if (!c->images_root[0])
		return 0;
	if (c->slurm)
		slurm_init(NULL); /* SLURM_CONF from the environment, else the default */
	r = pthread_create(&w.thread, NULL, watch_main, NULL);
	if (r)
		return pr_err_errno(-r, "starting the node watcher");
	w.running = true;
	pr_info("watching Slurm jobs of node %s every %u ms; checkpoints in '%s'", c->node_name,
		c->watch_interval_ms, c->images_root);
	return 0;
}

void watcher_stop(void)
{
	if (!w.running)
		return;
	pthread_mutex_lock(&w.lock);
	w.stopping = true;
	pthread_cond_signal(&w.wake);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	w.running = false;
}
