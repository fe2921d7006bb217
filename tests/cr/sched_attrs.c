/* SPDX-License-Identifier: MIT */
/*
 * Per-task and per-thread process attributes:
 *   main thread   nice 7, oom_score_adj 321, parent-death signal SIGURG, child subreaper,
 *                 no_new_privs;
 *   thread 1      SCHED_BATCH, nice 12, SCHED_RESET_ON_FORK;
 *   thread 2      SCHED_IDLE, nice 3;
 *   thread 3      SCHED_RR priority 3 (only when setting it is allowed here);
 *   a child       SCHED_BATCH nice 15, oom_score_adj 500, parent-death signal SIGWINCH; it
 *                 checks its own attributes when its parent sends it SIGTERM, and exits 0.
 * After SIGTERM every value must be what it was; the subreaper must also work: an orphaned
 * grandchild made after the restore must be re-parented to us.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include "crtest.h"

#define SCHED_FLAG_RESET_ON_FORK 0x01

struct sattr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

struct want {
	pid_t tid;
	uint32_t policy, prio;
	uint64_t flags;
	int nice;
};

static struct want want[4]; /* main, batch, idle, rr */
static int nwant;
static pid_t child;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static int set_attr(uint32_t policy, uint64_t flags, int nice, uint32_t prio)
{
	struct sattr a = {.size = sizeof(a), .policy = policy, .flags = flags, .nice = nice, .prio = prio};

	/* SCHED_IDLE and the real-time policies take no nice: set it first. */
	if (policy != SCHED_OTHER && policy != SCHED_BATCH && setpriority(PRIO_PROCESS, 0, nice) < 0)
		return -1;
	return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}

static int get_attr(pid_t tid, struct want *w)
{
	struct sattr a = {.size = sizeof(a)};

	if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) < 0)
		return -1;
	errno = 0;
	w->nice = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno)
		return -1;
	w->tid = tid;
	w->policy = a.policy;
	w->prio = a.prio;
	w->flags = a.flags & SCHED_FLAG_RESET_ON_FORK;
	return 0;
}

struct targ {
	uint32_t policy;
	uint64_t flags;
	int nice;
	uint32_t prio;
	int result; /* 0 pending, 1 set, -1 failed (errno in err) */
	int err;
};

static void *thread_main(void *p)
{
	struct targ *a = p;
	int r = set_attr(a->policy, a->flags, a->nice, a->prio);

	pthread_mutex_lock(&lock);
	a->err = errno;
	a->result = r < 0 ? -1 : 1;
	if (r == 0 && get_attr((pid_t)syscall(SYS_gettid), &want[nwant]) == 0)
		nwant++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (;;)
		pause();
	return NULL;
}

static int start_thread(uint32_t policy, uint64_t flags, int nice, uint32_t prio)
{
	static struct targ args[3];
	static int used;
	struct targ *a = &args[used++];
	pthread_t th;

	*a = (struct targ){.policy = policy, .flags = flags, .nice = nice, .prio = prio};
	if (pthread_create(&th, NULL, thread_main, a))
		cr_die("pthread_create");
	pthread_mutex_lock(&lock);
	while (!a->result)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	errno = a->err;
	return a->result > 0 ? 0 : -1;
}

static int read_oom(void)
{
	char buf[32] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : -99999;
}

static void write_oom(int v)
{
	char buf[32];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), n;

	n = snprintf(buf, sizeof(buf), "%d", v);
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		cr_die("writing oom_score_adj %d", v);
	close(fd);
}

static int pdeath(void)
{
	int sig = -1;

	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	return sig;
}

static void check_want(const struct want *w)
{
	struct want now;

	if (get_attr(w->tid, &now) < 0)
		cr_fail("thread %d: reading its scheduling attributes (%s)", w->tid, strerror(errno));
	if (now.policy != w->policy || now.prio != w->prio || now.flags != w->flags || now.nice != w->nice)
		cr_fail("thread %d: policy %u prio %u flags %#llx nice %d, want %u %u %#llx %d", w->tid,
			now.policy, now.prio, (unsigned long long)now.flags, now.nice, w->policy, w->prio,
			(unsigned long long)w->flags, w->nice);
}

/* The child: its own attributes, checked by itself on SIGTERM. */
static void __attribute__((noreturn)) child_main(void)
{
	struct want me;

	if (set_attr(SCHED_BATCH, 0, 15, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGWINCH, 0, 0, 0) < 0)
		_exit(2);
	write_oom(500);
	cr_wait_sigterm();
	if (get_attr(0, &me) < 0 || me.policy != SCHED_BATCH || me.nice != 15)
		cr_fail("child: policy %u nice %d, want SCHED_BATCH 15", me.policy, me.nice);
	if (read_oom() != 500)
		cr_fail("child: oom_score_adj %d, want 500", read_oom());
	if (pdeath() != SIGWINCH)
		cr_fail("child: parent-death signal %d, want %d", pdeath(), SIGWINCH);
	_exit(0);
}

static void setup(void)
{
	if (setpriority(PRIO_PROCESS, 0, 7) < 0)
		cr_die("setpriority 7");
	write_oom(321);
	if (prctl(PR_SET_PDEATHSIG, SIGURG, 0, 0, 0) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		cr_die("prctl");
	if (get_attr(0, &want[nwant]) < 0)
		cr_die("sched_getattr");
	want[nwant++].tid = (pid_t)syscall(SYS_gettid);
	if (start_thread(SCHED_BATCH, SCHED_FLAG_RESET_ON_FORK, 12, 0) < 0)
		cr_die("SCHED_BATCH thread");
	if (start_thread(SCHED_IDLE, 0, 3, 0) < 0)
		cr_die("SCHED_IDLE thread");
	/* Real-time needs CAP_SYS_NICE and, under cgroup v2 with RT groups, an RT budget. */
	start_thread(SCHED_RR, 0, 0, 3);
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0)
		child_main();
}

/* Fork a child that forks a grandchild and exits: the grandchild must become ours. */
static void check_subreaper(void)
{
	int pfd[2], status;
	pid_t c, g = 0;

	if (pipe(pfd) < 0)
		cr_fail("pipe (%s)", strerror(errno));
	c = fork();
	if (c == 0) {
		pid_t gc = fork();

		if (gc == 0) {
			for (;;)
				pause();
		}
		write(pfd[1], &gc, sizeof(gc));
		_exit(0);
	}
	if (c < 0 || read(pfd[0], &g, sizeof(g)) != sizeof(g) || waitpid(c, &status, 0) != c)
		cr_fail("subreaper check: fork (%s)", strerror(errno));
	/*
	 * Re-parenting is done by the time the child is a zombie (exit_notify). /proc is not
	 * ours after a restore into a new PID namespace: ask waitpid instead.
	 */
	kill(g, SIGKILL);
	if (waitpid(g, &status, 0) != g)
		cr_fail("orphaned grandchild %d was not re-parented to us: not a subreaper (%s)", g,
			strerror(errno));
}

static void verify(void)
{
	int status, v;

	for (int i = 0; i < nwant; i++)
		check_want(&want[i]);
	if ((v = read_oom()) != 321)
		cr_fail("oom_score_adj %d, want 321", v);
	if (pdeath() != SIGURG)
		cr_fail("parent-death signal %d, want %d", pdeath(), SIGURG);
	if (prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) < 0 || v != 1)
		cr_fail("not a child subreaper any more");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		cr_fail("no_new_privs is off");
	kill(child, SIGTERM);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("the child failed its own check (status %#x)", status);
	check_subreaper();
}

int main(void)
{
	cr_run(setup, verify);
}
