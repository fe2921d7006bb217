/* SPDX-License-Identifier: MIT */
/*
 * Scheduling attributes and oom_score_adj. Both are read from outside: sched_getattr(2)
 * and getpriority(2) take any thread id, /proc/PID/oom_score_adj is a file (proc(5)).
 *
 * Restore: a thread's policy and nice are injected (sched_setattr(2) on itself) before the
 * credentials are restored, with the restorer's privilege, so that what the task had is
 * restorable whatever nice the restorer runs at. Real-time policies and negative nice need
 * CAP_SYS_NICE: refused at validation when the restorer lacks it, and, for a restore on
 * behalf of a job owner (check_owner), when the task's own credentials and limits would not
 * have allowed them (sched(7), "Privileges and resource limits"). SCHED_DEADLINE is refused
 * at dump time: its runtime accounting cannot be carried over.
 *
 * oom_score_adj is written through /proc by the restorer. Values below the restorer's own
 * oom_score_adj_min need CAP_SYS_RESOURCE (proc(5)); a forked probe tries the lowest value
 * at validation, so a restore that could not set it is refused before anything is created.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "log.h"
#include "procattr.h"
#include "proc.h"
#include "syscalls.h"

#define SCHED_DEADLINE_POLICY	 6
#define SCHED_FLAG_RESET_ON_FORK 0x01
#define CAP_SYS_NICE_BIT	 23
#define CAP_SYS_RESOURCE_BIT	 24

static const char *policy_name(uint32_t p)
{
	static const char *const names[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",	  "SCHED_BATCH",
					    "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};

	return p < ARRAY_SIZE(names) ? names[p] : "an unknown policy";
}

static bool is_rt(uint32_t p)
{
	return p == SCHED_FIFO || p == SCHED_RR;
}

int procattr_check(const struct task *task)
{
	for (size_t i = 0; i < task->nr_threads; i++) {
		struct ckpt_sched_attr sa = {};
		int r = sys_sched_getattr(task->threads[i].tid, &sa);

		if (r < 0)
			return pr_err_errno(r, "pid %d: thread %d: sched_getattr", task->pid,
					    task->threads[i].tid);
		if (sa.sched_policy == SCHED_DEADLINE_POLICY)
			return pr_err("pid %d: thread %d: SCHED_DEADLINE: not supported", task->pid,
				      task->threads[i].tid),
			       -ENOTSUP;
	}
	return 0;
}

static int dump_sched(struct arena *a, pid_t pid, pid_t tid, ThreadEntry *te)
{
	struct ckpt_sched_attr sa = {};
	int r = sys_sched_getattr(tid, &sa), nice;
	SchedEntry *e;

	if (r < 0)
		return pr_err_errno(r, "pid %d: thread %d: sched_getattr", pid, tid);
	/* sched_getattr reports no nice for real-time threads; getpriority does for any. */
	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (nice == -1 && errno)
		return pr_perror("pid %d: thread %d: getpriority", pid, tid);
	if (sa.sched_policy == SCHED_OTHER && !nice && !(sa.sched_flags & SCHED_FLAG_RESET_ON_FORK))
		return 0;
	e = arena_alloc(a, sizeof(*e));
	if (!e)
		return -ENOMEM;
	sched_entry__init(e);
	e->policy = sa.sched_policy;
	e->has_nice = true;
	e->nice = nice;
	e->has_rt_prio = is_rt(sa.sched_policy);
	e->rt_prio = sa.sched_priority;
	e->has_flags = true;
	e->flags = sa.sched_flags & SCHED_FLAG_RESET_ON_FORK;
	te->sched = e;
	return 0;
}

static int dump_oom(pid_t pid, TaskCoreEntry *core)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	int32_t v;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", pid);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its oom_score_adj", pid);
	buf[strcspn(buf, "\n")] = '\0';
	r = safe_atoi32(buf, &v);
	if (r < 0)
		return pr_err_errno(r, "pid %d: oom_score_adj '%s'", pid, buf);
	core->has_oom_score_adj = true;
	core->oom_score_adj = v;
	return 0;
}

int procattr_dump(struct arena *a, const struct task *task, TaskCoreEntry *core)
{
	for (size_t i = 0; i < task->nr_threads && i < core->n_threads; i++) {
		int r = dump_sched(a, task->pid, task->threads[i].tid, core->threads[i]);

		if (r < 0)
			return r;
	}
	return dump_oom(task->pid, core);
}

/* ---- restore ---------------------------------------------------------------------- */

static uint64_t rlimit_cur(const TaskCoreEntry *c, uint32_t res)
{
	for (size_t i = 0; i < c->n_rlimits; i++)
		if (c->rlimits[i]->resource == res)
			return c->rlimits[i]->cur;
	return 0;
}

/* What the task's own credentials and limits allow (sched(7)); nice_to_rlimit is 20 - nice. */
static bool owner_may(const TaskCoreEntry *c, const SchedEntry *s)
{
	if (c->creds->cap_eff & (1ull << CAP_SYS_NICE_BIT))
		return true;
	if (is_rt(s->policy) && s->rt_prio > rlimit_cur(c, RLIMIT_RTPRIO))
		return false;
	return !(s->has_nice && s->nice < 0 && (uint64_t)(20 - s->nice) > rlimit_cur(c, RLIMIT_NICE));
}

static int check_sched(const struct rst_tree *t, uint32_t pid, const TaskCoreEntry *c, const ThreadEntry *te,
		       bool we_nice, int our_nice)
{
	const SchedEntry *s = te->sched;
	char what[64];
	bool priv;

	if (!s)
		return 0;
	if (s->policy == SCHED_DEADLINE_POLICY || s->policy == 4 || s->policy > 6 ||
	    (s->has_nice && (s->nice < -20 || s->nice > 19)) ||
	    (is_rt(s->policy) && (!s->has_rt_prio || s->rt_prio < 1 || s->rt_prio > 99)) ||
	    (s->has_flags && (s->flags & ~(uint64_t)SCHED_FLAG_RESET_ON_FORK)))
		return pr_err("'core-%u.img': thread %u: bad scheduling attributes", pid, te->tid), -EBADMSG;
	if (is_rt(s->policy))
		snprintf(what, sizeof(what), "%s priority %u", policy_name(s->policy), s->rt_prio);
	else
		snprintf(what, sizeof(what), "%s nice %d", policy_name(s->policy), s->has_nice ? s->nice : 0);
	priv = is_rt(s->policy) || (s->has_nice && s->nice < our_nice);
	if (priv && !we_nice)
		return pr_err("pid %u: thread %u: %s needs CAP_SYS_NICE, which the restorer lacks: refused",
			      pid, te->tid, what),
		       -EPERM;
	if (t->opts->check_owner && !owner_may(c, s))
		return pr_err("pid %u: thread %u: %s is more than its owner may set (CAP_SYS_NICE, "
			      "RLIMIT_RTPRIO, RLIMIT_NICE): refused",
			      pid, te->tid, what),
		       -EPERM;
	return 0;
}

static int read_own_oom(int *ret)
{
	_cleanup_free_ char *buf = NULL;
	int32_t v;
	int r = read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", &buf, NULL);

	if (r < 0)
		return pr_err_errno(r, "reading our own oom_score_adj");
	buf[strcspn(buf, "\n")] = '\0';
	r = safe_atoi32(buf, &v);
	if (r < 0)
		return pr_err_errno(r, "our own oom_score_adj '%s'", buf);
	*ret = v;
	return 0;
}

/* Can a fork of ours, as the restored tasks are, be given value? Tried in a child. */
static bool oom_probe(int value)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char buf[16];
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), n;

		n = snprintf(buf, sizeof(buf), "%d", value);
		_exit(fd >= 0 && write(fd, buf, (size_t)n) == n ? 0 : 1);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int check_oom(const struct rst_tree *t, uint64_t our_caps)
{
	const struct rst_task *low = NULL;
	int ours, r;

	for (size_t i = 0; i < t->n_tasks; i++) {
		const TaskCoreEntry *c = t->tasks[i].core;

		if (!c || !c->has_oom_score_adj)
			continue;
		if (c->oom_score_adj < -1000 || c->oom_score_adj > 1000)
			return pr_err("'core-%u.img': bad oom_score_adj %d", t->tasks[i].pe->pid,
				      c->oom_score_adj),
			       -EBADMSG;
		if (!low || c->oom_score_adj < low->core->oom_score_adj)
			low = &t->tasks[i];
	}
	if (!low || (our_caps & (1ull << CAP_SYS_RESOURCE_BIT)))
		return 0;
	r = read_own_oom(&ours);
	if (r < 0)
		return r;
	if (low->core->oom_score_adj >= ours || oom_probe(low->core->oom_score_adj))
		return 0;
	return pr_err("pid %u: oom_score_adj %d is below the restorer's %d, and lowering it needs "
		      "CAP_SYS_RESOURCE, which the restorer lacks: refused",
		      low->pe->pid, low->core->oom_score_adj, ours),
	       -EPERM;
}

int procattr_validate(const struct rst_tree *t)
{
	struct proc_status st = {};
	uint64_t caps;
	int r, our_nice;

	r = proc_parse_status(getpid(), &st);
	if (r < 0)
		return pr_err_errno(r, "reading our own status");
	caps = st.cap_eff;
	proc_status_free(&st);
	errno = 0;
	our_nice = getpriority(PRIO_PROCESS, 0);
	if (our_nice == -1 && errno)
		return pr_perror("getpriority");
	for (size_t i = 0; i < t->n_tasks; i++) {
		const TaskCoreEntry *c = t->tasks[i].core;

		for (size_t k = 0; c && k < c->n_threads; k++) {
			r = check_sched(t, t->tasks[i].pe->pid, c, c->threads[k],
					caps & (1ull << CAP_SYS_NICE_BIT), our_nice);
			if (r < 0)
				return r;
		}
	}
	return check_oom(t, caps);
}

static int set_sched(struct rst_inject *in, uint32_t policy, uint64_t flags, int nice, uint32_t prio)
{
	struct ckpt_sched_attr sa = {
		.size = sizeof(sa),
		.sched_policy = policy,
		.sched_flags = flags,
		.sched_nice = nice,
		.sched_priority = prio,
	};
	uint64_t p;
	int r = rst_put_data(in, 0, &sa, sizeof(sa), &p);

	if (r == 0)
		r = rst_syscall_ok(in, "sched_setattr", __NR_sched_setattr, 0, p, 0, 0, 0, 0, NULL);
	return r;
}

int procattr_restore_thread(struct rst_inject *in, const ThreadEntry *te)
{
	const SchedEntry *s = te->sched;
	int nice;
	int r = 0;

	if (!s)
		return 0;
	nice = s->has_nice ? s->nice : 0;
	/* Only SCHED_OTHER and SCHED_BATCH take a nice from sched_setattr (sched(7)): set it first. */
	if (s->policy != SCHED_OTHER && s->policy != SCHED_BATCH)
		r = set_sched(in, SCHED_OTHER, 0, nice, 0);
	if (r == 0)
		r = set_sched(in, s->policy, s->has_flags ? s->flags : 0, nice,
			      is_rt(s->policy) ? s->rt_prio : 0);
	return r;
}

int procattr_restore_oom(const struct rst_task *task)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64], buf[16];
	int n;

	if (!task->core->has_oom_score_adj)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", task->host_pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("pid %u: opening '%s'", task->pe->pid, path);
	n = snprintf(buf, sizeof(buf), "%d", task->core->oom_score_adj);
	if (write(fd, buf, (size_t)n) != n)
		return pr_perror("pid %u: setting oom_score_adj %d", task->pe->pid,
				 task->core->oom_score_adj);
	return 0;
}
