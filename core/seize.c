/* SPDX-License-Identifier: MIT */
/*
 * Seize: every thread of the tree is attached with PTRACE_SEIZE and stopped with
 * PTRACE_INTERRUPT (ptrace(2), "PTRACE_SEIZE"), so no signal is injected into the tree
 * and a failed dump can detach and leave it exactly as it was.
 */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "log.h"
#include "freezer.h"
#include "proc.h"
#include "seize.h"
#include "syscalls.h"

#define PF_KTHREAD 0x00200000

int seize_check_root(pid_t pid)
{
	struct proc_stat st;
	int r;

	if (pid <= 0)
		return pr_err_errno(-EINVAL, "pid %d: not a valid process id", pid), -EINVAL;
	if (pid == 1)
		return pr_err("pid 1: refusing to dump the init process of this namespace"), -EPERM;
	r = proc_parse_stat(pid, &st);
	if (r == -ENOENT || r == -ESRCH)
		return pr_err("pid %d: no such process", pid), -ESRCH;
	if (r < 0)
		return pr_err_errno(r, "pid %d: cannot read /proc/%d/stat", pid, pid);
	if ((st.flags & PF_KTHREAD) || st.ppid == 2 || pid == 2)
		return pr_err("pid %d: is a kernel thread, which cannot be dumped", pid), -EPERM;
	if (st.state == 'Z' || st.state == 'X')
		return pr_err("pid %d: is a zombie, nothing to dump", pid), -ESRCH;
	for (pid_t p = getpid(); p > 1;) {
		struct proc_stat me;

		if (p == pid)
			return pr_err("pid %d: is ckpt itself or its ancestor", pid), -EPERM;
		if (proc_parse_stat(p, &me) < 0)
			break;
		p = me.ppid;
	}
	return 0;
}

int seize_wait_stop(pid_t tid)
{
	int status;

	for (;;) {
		pid_t w = waitpid(tid, &status, __WALL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		return status;
	}
}

/*
 * Wait until tid sits in the interrupt (or group-stop) trap. A signal-delivery stop seen on
 * the way is passed on unchanged: the signal is delivered as it would have been and the
 * interrupt trap follows.
 */
static int seize_wait_trap(struct thread *th)
{
	for (;;) {
		int status = seize_wait_stop(th->tid);
		int sig;

		if (status < 0)
			return status;
		if (!WIFSTOPPED(status))
			return -ECHILD;
		sig = WSTOPSIG(status);
		if ((status >> 16) == PTRACE_EVENT_STOP) {
			th->was_stopped = sig != SIGTRAP;
			return 0;
		}
		if (ptrace(PTRACE_CONT, th->tid, 0, (long)sig) < 0)
			return -errno;
	}
}

static int seize_thread(struct task *task, pid_t tid, bool defer)
{
	struct thread *th;
	int r;

	if (ptrace(PTRACE_SEIZE, tid, 0, (long)PTRACE_O_TRACESYSGOOD) < 0) {
		r = -errno;
		if (r == -ESRCH)
			return 0; /* exited meanwhile; the re-scan will tell */
		return pr_err_errno(r, "pid %d: cannot seize thread %d", task->pid, tid);
	}
	r = task_add_thread(task, tid);
	if (r < 0)
		return r;
	th = &task->threads[task->nr_threads - 1];
	th->seized = true;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return pr_perror("pid %d: cannot interrupt thread %d", task->pid, tid);
	if (defer) {
		th->trap_pending = true;
		return 1;
	}
	r = seize_wait_trap(th);
	if (r == -ESRCH) {
		/* It was on its way out: its exit, not a trap, came first. */
		pr_debug("pid %d: thread %d exited while being seized", task->pid, tid);
		task_drop_thread(task, task->nr_threads - 1);
		return 0;
	}
	if (r < 0)
		return pr_err_errno(r, "pid %d: thread %d did not stop", task->pid, tid);
	return 1;
}

/* Seize threads of task not seized yet; returns how many were new. */
static int seize_threads(struct task *task, bool defer)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n;
	int r, added = 0;

	r = proc_list_tasks(task->pid, &tids, &n);
	if (r < 0)
		return pr_err_errno(r, "pid %d: cannot list its threads", task->pid);
	for (size_t i = 0; i < n; i++) {
		if (task_find_thread(task, tids[i]))
			continue;
		r = seize_thread(task, tids[i], defer);
		if (r < 0)
			return r;
		added += r;
	}
	return added;
}

/* Add children of every thread of task that the tree does not hold yet. */
static int seize_children(struct pstree *t, struct task *task)
{
	int added = 0;

	for (size_t i = 0; i < task->nr_threads; i++) {
		_cleanup_free_ pid_t *kids = NULL;
		size_t n;
		int r = proc_list_children(task->pid, task->threads[i].tid, &kids, &n);

		if (r == -ESRCH || r == -ENOENT)
			continue;
		if (r < 0)
			return pr_err_errno(r, "pid %d: cannot list its children", task->pid);
		for (size_t k = 0; k < n; k++) {
			if (pstree_find(t, kids[k]))
				continue;
			if (!pstree_add(t, kids[k], task))
				return -ENOMEM;
			added++;
		}
	}
	return added;
}

/* The wait status of a zombie: the last field of /proc/PID/stat (proc(5), exit_code). */
static int zombie_exit_code(pid_t pid, uint32_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	char path[64], *last;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	last = strrchr(buf, ' ');
	return last ? safe_atou32(last + 1, ret) : -EINVAL;
}

/* A task that exited but was not reaped: recorded, never seized. */
static int check_zombie(struct task *task)
{
	struct proc_stat st;
	int r = proc_parse_stat(task->pid, &st);

	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its stat", task->pid);
	if (st.state != 'Z')
		return 0;
	if (st.num_threads > 1)
		return pr_err("pid %d: its main thread exited while other threads run; not supported yet",
			      task->pid),
		       -ENOTSUP;
	r = zombie_exit_code(task->pid, &task->exit_code);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its exit code", task->pid);
	task->zombie = true;
	return 1;
}

/*
 * A process sharing its address space with another one: a vfork(2) child that has not
 * called exec yet, or a clone with CLONE_VM. The vfork parent sleeps until then in a
 * killable wait that PTRACE_INTERRUPT does not end, so it could never be stopped: refused,
 * naming both pids, before either is seized (kcmp(2) KCMP_VM).
 */
static int check_shared_vm_once(const struct task *task, bool report)
{
	_cleanup_free_ pid_t *tids = NULL;
	struct proc_stat st;
	size_t n;
	int r;

	if (!task->parent && proc_parse_stat(task->pid, &st) == 0 && st.ppid > 1 &&
	    sys_kcmp(task->pid, st.ppid, KCMP_VM, 0, 0) == 0)
		return report	? pr_err("pid %d: shares the address space of its parent %d (a vfork() child "
					   "that has not called exec yet, or CLONE_VM): not supported",
					 task->pid, st.ppid),
		       -ENOTSUP : -ENOTSUP;
	r = proc_list_tasks(task->pid, &tids, &n);
	if (r < 0)
		return 0; /* the seize that follows tells */
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ pid_t *kids = NULL;
		size_t nk;

		if (proc_list_children(task->pid, tids[i], &kids, &nk) < 0)
			continue;
		for (size_t k = 0; k < nk; k++)
			if (sys_kcmp(task->pid, kids[k], KCMP_VM, 0, 0) == 0)
				return report ? pr_err("pid %d: vfork() in progress: its child %d shares its "
						       "address space until it calls exec or exits (or was "
						       "cloned with CLONE_VM): not supported",
						       task->pid, kids[k]),
				       -ENOTSUP : -ENOTSUP;
	}
	return 0;
}

/*
 * A vfork() is usually over in a moment (make, bash and posix_spawn exec at once): look
 * again for up to two seconds before refusing the tree.
 */
static int check_shared_vm(const struct task *task)
{
	for (int i = 0; i < 200; i++) {
		if (check_shared_vm_once(task, false) == 0)
			return 0;
		usleep(10 * 1000);
	}
	return check_shared_vm_once(task, true);
}

/*
 * A task none of whose threads could be seized: it exited meanwhile (a compiler of a
 * parallel make, say). Its parent, already stopped, has not reaped it: it is recorded as a
 * zombie. One that is gone altogether (its parent ignores SIGCHLD) leaves the tree. Returns
 * 1 when the task was dropped from the tree, 0 when kept.
 */
static int task_exited(struct pstree *t, struct task *task)
{
	pid_t pid = task->pid;
	struct proc_stat st;
	int r;

	if (!task->parent)
		return pr_err("pid %d: exited while being seized", pid), -ESRCH;
	r = proc_parse_stat(pid, &st);
	if (r == 0) {
		r = check_zombie(task);
		if (r > 0)
			return 0;
		return r < 0 ? r : (pr_err("pid %d: no thread of it could be seized", pid), -ESRCH);
	}
	if (r != -ENOENT && r != -ESRCH)
		return pr_err_errno(r, "pid %d: reading its stat", pid);
	r = pstree_drop(t, task);
	if (r < 0)
		return pr_err_errno(r, "pid %d: exited while being seized", pid);
	pr_debug("pid %d: exited and was reaped while being seized: not in the tree", pid);
	return 1;
}

static int seize_pass(struct pstree *t)
{
	int changes = 0;

	for (size_t i = 0; i < t->nr_tasks; i++) {
		struct task *task = t->tasks[i];
		int r;

		if (task->zombie)
			continue;
		if (!task->nr_threads && task->parent) {
			r = check_zombie(task);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
		}
		r = task->nr_threads ? 0 : check_shared_vm(task);
		if (r < 0)
			return r;
		r = seize_threads(task, t->defer_traps);

		if (r < 0)
			return r;
		if (task->nr_threads == 0) {
			r = task_exited(t, task);
			if (r < 0)
				return r;
			i -= r; /* dropped: the next task moved into its slot */
			continue;
		}
		changes += r;
		r = seize_children(t, task);
		if (r < 0)
			return r;
		changes += r;
	}
	return changes;
}

/* After the thaw: every thread interrupted while frozen now reaches its trap. */
static int wait_deferred(struct pstree *t)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < t->tasks[i]->nr_threads; k++) {
			struct thread *th = &t->tasks[i]->threads[k];
			int r;

			if (!th->trap_pending)
				continue;
			r = seize_wait_trap(th);
			if (r == -ESRCH && k > 0) {
				/* A thread caught by the freezer on its way out: it is gone. */
				task_drop_thread(t->tasks[i], k--);
				continue;
			}
			if (r < 0)
				return pr_err_errno(r, "pid %d: thread %d did not stop", t->tasks[i]->pid,
						    th->tid);
			th->trap_pending = false;
		}
	return 0;
}

static int seize_frozen(const char *cgroup, struct pstree *t)
{
	struct freezer f;
	int r;

	r = freezer_open(cgroup, &f);
	if (r < 0)
		return r;
	r = freezer_freeze(&f);
	if (r == 0) {
		t->defer_traps = true;
		do {
			r = seize_pass(t);
		} while (r > 0);
		t->defer_traps = false;
	}
	freezer_close(&f);
	return r < 0 ? r : wait_deferred(t);
}

int seize_tree(pid_t pid, const char *freeze_cgroup, struct pstree *t)
{
	int r;

	if (!pstree_add(t, pid, NULL))
		return -ENOMEM;
	/* Stopped tasks cannot fork or clone, so a pass that finds nothing new is final. */
	if (freeze_cgroup)
		r = seize_frozen(freeze_cgroup, t);
	else
		do {
			r = seize_pass(t);
		} while (r > 0);
	if (r >= 0) /* tasks outside the cgroup may have moved on meanwhile: one more pass */
		do {
			r = seize_pass(t);
		} while (r > 0);
	if (r < 0) {
		seize_release(t, RELEASE_RUN);
		pstree_free(t);
		return r;
	}
	return 0;
}

static void release_thread(const struct task *task, const struct thread *th, enum release_mode mode)
{
	if (!th->seized)
		return;
	if (ptrace(PTRACE_DETACH, th->tid, 0, 0) < 0 && errno != ESRCH)
		pr_warn("pid %d: detaching thread %d: %s", task->pid, th->tid, strerror(errno));
}

/*
 * A SIGSTOP sent just before the detach takes effect a moment later: wait (a second at most)
 * until every thread shows it, so that a tree left stopped is stopped when the dump returns.
 */
/* Whether thread @tid is in a stop, or gone (/proc/TID/stat shows that thread's own state). */
static bool thread_stopped(pid_t tid)
{
	struct proc_stat st;

	if (proc_parse_stat(tid, &st) < 0)
		return true;
	return st.state == 'T' || st.state == 'Z' || st.state == 'X';
}

static bool task_stopped(const struct task *task)
{
	if (task->zombie)
		return true;
	for (size_t k = 0; k < task->nr_threads; k++)
		if (!thread_stopped(task->threads[k].tid))
			return false;
	return task->nr_threads || thread_stopped(task->pid);
}

/*
 * The group stop reaches each thread on its way out of the kernel: every thread, not only
 * the leader, must show it before the caller may say the tree is stopped.
 */
static void wait_stopped(const struct pstree *t)
{
	for (int round = 0; round < 200; round++) {
		bool all = true;

		for (size_t i = 0; i < t->nr_tasks && all; i++)
			all = task_stopped(t->tasks[i]);
		if (all)
			return;
		usleep(5000);
	}
	pr_warn("some threads of the tree did not stop within a second");
}

void seize_release(struct pstree *t, enum release_mode mode)
{
	for (size_t i = 0; i < t->nr_tasks; i++) {
		struct task *task = t->tasks[i];

		if (mode == RELEASE_KILL) {
			kill(task->pid, SIGKILL);
			continue;
		}
		/* Our injections took a stopped task out of its group stop: put it back. */
		if (mode == RELEASE_STOP ||
		    (mode == RELEASE_RUN && task->nr_threads && task->threads[0].was_stopped))
			kill(task->pid, SIGSTOP);
		for (size_t k = 0; k < task->nr_threads; k++)
			release_thread(task, &task->threads[k], mode);
	}
	if (mode == RELEASE_STOP)
		wait_stopped(t);
	/*
	 * Collect the exits of the killed threads we trace (their parents reap the processes).
	 * A traced group leader reports only after its other threads: wait for those first.
	 */
	if (mode == RELEASE_KILL)
		for (size_t i = 0; i < t->nr_tasks; i++)
			for (size_t k = t->tasks[i]->nr_threads; k-- > 0;)
				if (t->tasks[i]->threads[k].seized)
					waitpid(t->tasks[i]->threads[k].tid, NULL, __WALL);
}
