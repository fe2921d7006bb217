/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/uio.h>
#include "dump-task.h"
#include "infect.h"
#include "log.h"
#include "procattr.h"
#include "seccomp.h"
#include "syscalls.h"

#define NSIG_MAX     64
#define SIGINFO_SIZE 128

/* The kernel's struct sigaction as rt_sigaction(2) takes it (handler, flags, restorer, mask). */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

struct kitimerspec {
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

struct kitimerval {
	int64_t interval_sec, interval_usec, value_sec, value_usec;
};

struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static int inject_ok(int r, long ret, pid_t tid, const char *what)
{
	if (r < 0)
		return r;
	if (ret < 0 && ret > -4096)
		return pr_err_errno((int)ret, "thread %d: %s", tid, what);
	return 0;
}

static int dump_sigactions(struct arena *a, struct infect *inf, uint64_t scratch,
			   const struct proc_status *st, TaskCoreEntry *core)
{
	core->sigactions = arena_alloc(a, NSIG_MAX * sizeof(*core->sigactions));
	if (!core->sigactions)
		return -ENOMEM;
	for (int sig = 1; sig <= NSIG_MAX; sig++) {
		uint64_t bit = 1ull << (sig - 1);
		struct ksigaction ka;
		SigactionEntry *e;
		long ret;
		int r;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* Only signals with a handler or SIG_IGN can differ from the default; SIGCHLD flags too. */
		if (!((st->sig_cgt | st->sig_ign) & bit) && sig != SIGCHLD)
			continue;
		r = infect_syscall(inf, __NR_rt_sigaction, (uint64_t)sig, 0, scratch, 8, 0, 0, &ret);
		r = inject_ok(r, ret, inf->tid, "rt_sigaction");
		if (r < 0)
			return r;
		r = task_mem_read(inf->tid, scratch, &ka, sizeof(ka));
		if (r < 0)
			return pr_err_errno(r, "thread %d: reading its sigaction", inf->tid);
		if (!ka.handler && !ka.flags && !ka.mask)
			continue;
		e = arena_alloc(a, sizeof(*e));
		if (!e)
			return -ENOMEM;
		sigaction_entry__init(e);
		e->sig = (uint32_t)sig;
		e->handler = ka.handler;
		e->flags = ka.flags;
		e->restorer = ka.restorer;
		e->mask = ka.mask;
		core->sigactions[core->n_sigactions++] = e;
	}
	return 0;
}

static int dump_itimers(struct arena *a, struct infect *inf, uint64_t scratch, TaskCoreEntry *core)
{
	core->itimers = arena_alloc(a, 3 * sizeof(*core->itimers));
	if (!core->itimers)
		return -ENOMEM;
	for (uint32_t which = 0; which < 3; which++) {
		struct kitimerval v;
		ItimerEntry *e;
		long ret;
		int r = infect_syscall(inf, __NR_getitimer, which, scratch, 0, 0, 0, 0, &ret);

		r = inject_ok(r, ret, inf->tid, "getitimer");
		if (r < 0)
			return r;
		r = task_mem_read(inf->tid, scratch, &v, sizeof(v));
		if (r < 0)
			return r;
		if (!v.value_sec && !v.value_usec && !v.interval_sec && !v.interval_usec)
			continue;
		e = arena_alloc(a, sizeof(*e));
		if (!e)
			return -ENOMEM;
		itimer_entry__init(e);
		e->which = which;
		e->interval_us = (uint64_t)(v.interval_sec * 1000000 + v.interval_usec);
		e->value_us = (uint64_t)(v.value_sec * 1000000 + v.value_usec);
		core->itimers[core->n_itimers++] = e;
	}
	return 0;
}

static int dump_posix_timers(struct arena *a, struct infect *inf, uint64_t scratch, TaskCoreEntry *core)
{
	_cleanup_free_ struct proc_timer *t = NULL;
	size_t n;
	int r = proc_parse_timers(inf->tid, &t, &n);

	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its POSIX timers", inf->tid);
	core->posix_timers = arena_alloc(a, (n ?: 1) * sizeof(*core->posix_timers));
	if (!core->posix_timers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct kitimerspec v;
		PosixTimerEntry *e;
		long ret, overrun;

		r = infect_syscall(inf, __NR_timer_gettime, (uint64_t)t[i].id, scratch, 0, 0, 0, 0, &ret);
		r = inject_ok(r, ret, inf->tid, "timer_gettime");
		if (r < 0)
			return r;
		r = task_mem_read(inf->tid, scratch, &v, sizeof(v));
		if (r < 0)
			return r;
		r = infect_syscall(inf, __NR_timer_getoverrun, (uint64_t)t[i].id, 0, 0, 0, 0, 0, &overrun);
		r = inject_ok(r, overrun, inf->tid, "timer_getoverrun");
		if (r < 0)
			return r;
		e = arena_alloc(a, sizeof(*e));
		if (!e)
			return -ENOMEM;
		posix_timer_entry__init(e);
		e->id = t[i].id;
		e->clock = t[i].clockid;
		e->notify = t[i].notify;
		e->signo = t[i].signo;
		e->sigval = t[i].sigval;
		e->has_notify_tid = true;
		e->notify_tid = t[i].notify_tid;
		e->interval_ns = (uint64_t)(v.interval_sec * 1000000000ll + v.interval_nsec);
		e->value_ns = (uint64_t)(v.value_sec * 1000000000ll + v.value_nsec);
		e->has_overrun = true;
		e->overrun = (int32_t)overrun;
		core->posix_timers[core->n_posix_timers++] = e;
	}
	return 0;
}

static int prctl_get(struct infect *inf, uint64_t scratch, int opt, bool via_ptr, int32_t *val)
{
	long ret;
	int r = infect_syscall(inf, __NR_prctl, (uint64_t)opt, via_ptr ? scratch : 0, 0, 0, 0, 0, &ret);

	r = inject_ok(r, ret, inf->tid, "prctl");
	if (r < 0)
		return r;
	if (!via_ptr) {
		*val = (int32_t)ret;
		return 0;
	}
	return task_mem_read(inf->tid, scratch, val, sizeof(*val));
}

static int dump_prctls(struct infect *inf, uint64_t scratch, TaskCoreEntry *core)
{
	int32_t v;
	int r;

	r = prctl_get(inf, scratch, PR_GET_DUMPABLE, false, &v);
	if (r < 0)
		return r;
	core->has_dumpable = true;
	core->dumpable = v;
	r = prctl_get(inf, scratch, PR_GET_PDEATHSIG, true, &v);
	if (r < 0)
		return r;
	core->has_pdeath_sig = true;
	core->pdeath_sig = v;
	r = prctl_get(inf, scratch, PR_GET_CHILD_SUBREAPER, true, &v);
	if (r < 0)
		return r;
	core->has_child_subreaper = true;
	core->child_subreaper = v != 0;
	r = prctl_get(inf, scratch, PR_GET_SECUREBITS, false, &v);
	if (r < 0)
		return r;
	core->creds->has_securebits = true;
	core->creds->securebits = (uint32_t)v;
	return 0;
}

static int dump_siginfo_queue(struct arena *a, pid_t tid, bool shared, SiginfoEntry ***ret, size_t *ret_n)
{
	uint8_t buf[32 * SIGINFO_SIZE];
	SiginfoEntry **v = NULL;
	size_t n = 0;

	for (;;) {
		struct {
			uint64_t off;
			uint32_t flags;
			int32_t nr;
		} args = {n, shared ? 1u : 0u, 32};
		long got = ptrace(PTRACE_PEEKSIGINFO, tid, &args, buf);
		SiginfoEntry **nv;

		if (got < 0)
			return pr_perror("thread %d: PTRACE_PEEKSIGINFO", tid);
		if (got == 0)
			break;
		nv = arena_alloc(a, (n + (size_t)got) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		if (n)
			memcpy(nv, v, n * sizeof(*nv));
		v = nv;
		for (long i = 0; i < got; i++) {
			SiginfoEntry *e = arena_alloc(a, sizeof(*e));

			if (!e)
				return -ENOMEM;
			siginfo_entry__init(e);
			e->raw.len = SIGINFO_SIZE;
			e->raw.data = arena_memdup(a, buf + i * SIGINFO_SIZE, SIGINFO_SIZE);
			if (!e->raw.data)
				return -ENOMEM;
			v[n++] = e;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int dump_thread_outside(struct arena *a, pid_t pid, pid_t tid, ThreadEntry *te)
{
	struct ckpt_rseq_config rc;
	char path[64];
	char *comm;
	void *head;
	size_t len;
	int r;

	r = arch_thread_dump(tid, te);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &te->sigmask) < 0)
		return pr_perror("thread %d: PTRACE_GETSIGMASK", tid);
	r = dump_siginfo_queue(a, tid, false, &te->pending, &te->n_pending);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) == sizeof(rc) &&
	    rc.rseq_abi_pointer) {
		te->rseq = arena_alloc(a, sizeof(*te->rseq));
		if (!te->rseq)
			return -ENOMEM;
		rseq_entry__init(te->rseq);
		te->rseq->addr = rc.rseq_abi_pointer;
		te->rseq->len = rc.rseq_abi_size;
		te->rseq->sig = rc.signature;
	}
	if (sys_get_robust_list(tid, &head, &len) < 0)
		return pr_perror("thread %d: get_robust_list", tid);
	te->has_robust_list = te->has_robust_list_len = true;
	te->robust_list = (uint64_t)(uintptr_t)head;
	te->robust_list_len = len;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	r = read_file_at(AT_FDCWD, path, &comm, NULL);
	if (r < 0)
		return pr_err_errno(r, "thread %d: reading its comm", tid);
	comm[strcspn(comm, "\n")] = '\0';
	te->comm = arena_strdup(a, comm);
	free(comm);
	return te->comm ? 0 : -ENOMEM;
}

static int dump_thread_inside(struct arena *a, struct task *task, ThreadEntry *te, pid_t tid)
{
	struct infect inf;
	struct kstack ss;
	uint64_t tidaddr = 0;
	long ret;
	int r;

	r = infect_begin(&inf, tid, task->gate);
	if (r < 0)
		return r;
	r = infect_syscall(&inf, __NR_sigaltstack, 0, task->scratch, 0, 0, 0, 0, &ret);
	r = inject_ok(r, ret, tid, "sigaltstack");
	if (r == 0)
		r = task_mem_read(tid, task->scratch, &ss, sizeof(ss));
	if (r == 0) {
		r = infect_syscall(&inf, __NR_prctl, PR_GET_TID_ADDRESS, task->scratch, 0, 0, 0, 0, &ret);
		r = inject_ok(r, ret, tid, "prctl(PR_GET_TID_ADDRESS)");
	}
	if (r == 0)
		r = task_mem_read(tid, task->scratch, &tidaddr, sizeof(tidaddr));
	r = infect_end(&inf) ?: r;
	if (r < 0)
		return r;
	te->has_clear_tid_addr = true;
	te->clear_tid_addr = tidaddr;
	if (!(ss.flags & SS_DISABLE)) {
		te->altstack = arena_alloc(a, sizeof(*te->altstack));
		if (!te->altstack)
			return -ENOMEM;
		sigaltstack_entry__init(te->altstack);
		te->altstack->sp = ss.sp;
		te->altstack->size = ss.size;
		te->altstack->flags = (uint32_t)ss.flags;
	}
	return 0;
}

static int dump_threads(struct arena *a, struct task *task, TaskCoreEntry *core)
{
	core->threads = arena_alloc(a, task->nr_threads * sizeof(*core->threads));
	if (!core->threads)
		return -ENOMEM;
	for (size_t i = 0; i < task->nr_threads; i++) {
		ThreadEntry *te = arena_alloc(a, sizeof(*te));
		int r;

		if (!te)
			return -ENOMEM;
		thread_entry__init(te);
		te->tid = (uint32_t)task->threads[i].ns_tid;
		core->threads[core->n_threads++] = te;
		r = dump_thread_outside(a, task->pid, task->threads[i].tid, te);
		if (r < 0)
			return r;
		r = dump_thread_inside(a, task, te, task->threads[i].tid);
		if (r < 0)
			return r;
	}
	return 0;
}

void dump_task_free_threads(TaskCoreEntry *core)
{
	for (size_t i = 0; i < core->n_threads; i++)
		arch_thread_free(core->threads[i]);
}

static int dump_creds(struct arena *a, const struct proc_status *st, TaskCoreEntry *core)
{
	CredsEntry *c = arena_alloc(a, sizeof(*c));

	if (!c)
		return -ENOMEM;
	creds_entry__init(c);
	c->uid = st->uid[0];
	c->euid = st->uid[1];
	c->suid = st->uid[2];
	c->fsuid = st->uid[3];
	c->gid = st->gid[0];
	c->egid = st->gid[1];
	c->sgid = st->gid[2];
	c->fsgid = st->gid[3];
	c->n_groups = st->ngroups;
	c->groups = arena_memdup(a, st->groups, st->ngroups * sizeof(uint32_t));
	if (!c->groups)
		return -ENOMEM;
	c->cap_inh = st->cap_inh;
	c->cap_prm = st->cap_prm;
	c->cap_eff = st->cap_eff;
	c->cap_bnd = st->cap_bnd;
	c->has_cap_amb = c->has_no_new_privs = true;
	c->cap_amb = st->cap_amb;
	c->no_new_privs = st->no_new_privs;
	core->creds = c;
	return 0;
}

static int dump_rlimits(struct arena *a, pid_t pid, TaskCoreEntry *core)
{
	struct rlimit rl[RLIM_NLIMITS];
	int r = proc_parse_limits(pid, rl);

	if (r < 0)
		return pr_err_errno(r, "pid %d: reading /proc/%d/limits", pid, pid);
	core->rlimits = arena_alloc(a, RLIM_NLIMITS * sizeof(*core->rlimits));
	if (!core->rlimits)
		return -ENOMEM;
	for (unsigned int i = 0; i < RLIM_NLIMITS; i++) {
		RlimitEntry *e = arena_alloc(a, sizeof(*e));

		if (!e)
			return -ENOMEM;
		rlimit_entry__init(e);
		e->resource = i;
		e->cur = rl[i].rlim_cur;
		e->max = rl[i].rlim_max;
		core->rlimits[core->n_rlimits++] = e;
	}
	return 0;
}

static int read_link(struct arena *a, pid_t pid, const char *what, char **ret)
{
	_cleanup_free_ char *s = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	r = readlink_malloc(AT_FDCWD, path, &s);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its %s", pid, what);
	if (strstr(s, " (deleted)"))
		return pr_err("pid %d: its %s '%s' was deleted", pid, what, s), -ENOENT;
	*ret = arena_strdup(a, s);
	return *ret ? 0 : -ENOMEM;
}

static int dump_fs_and_misc(struct arena *a, struct task *task, const struct proc_status *st,
			    TaskCoreEntry *core)
{
	_cleanup_free_ char *pers = NULL;
	struct proc_stat ps;
	uint64_t v;
	char path[64];
	int r;

	core->arch = arch_kind();
	core->umask = st->umask;
	snprintf(path, sizeof(path), "/proc/%d/personality", task->pid);
	r = read_file_at(AT_FDCWD, path, &pers, NULL);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its personality", task->pid);
	pers[strcspn(pers, "\n")] = '\0';
	r = safe_atou64(pers, 16, &v);
	if (r < 0)
		return pr_err_errno(r, "pid %d: personality '%s'", task->pid, pers);
	core->personality = (uint32_t)v;
	r = read_link(a, task->pid, "cwd", &core->cwd);
	if (r < 0)
		return r;
	r = read_link(a, task->pid, "root", &core->root);
	if (r < 0)
		return r;
	r = proc_parse_stat(task->pid, &ps);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its stat", task->pid);
	core->has_exit_signal = true;
	core->exit_signal = (uint32_t)ps.exit_signal;
	return 0;
}

int dump_task_core(struct arena *a, struct task *task, const struct proc_status *st, TaskCoreEntry *core)
{
	struct infect inf;
	int r;

	core->has_stopped = true;
	core->stopped = task->threads[0].was_stopped;
	r = dump_creds(a, st, core);
	if (r < 0)
		return r;
	r = dump_fs_and_misc(a, task, st, core);
	if (r < 0)
		return r;
	r = dump_rlimits(a, task->pid, core);
	if (r < 0)
		return r;
	r = dump_threads(a, task, core);
	if (r < 0)
		return r;
	r = dump_siginfo_queue(a, task->pid, true, &core->shared_pending, &core->n_shared_pending);
	if (r < 0)
		return r;
	r = procattr_dump(a, task, core);
	if (r < 0)
		return r;
	r = seccomp_dump(a, task, st, core);
	if (r < 0)
		return r;
	r = infect_begin(&inf, task->pid, task->gate);
	if (r < 0)
		return r;
	r = dump_sigactions(a, &inf, task->scratch, st, core);
	if (r == 0)
		r = dump_itimers(a, &inf, task->scratch, core);
	if (r == 0)
		r = dump_posix_timers(a, &inf, task->scratch, core);
	if (r == 0)
		r = dump_prctls(&inf, task->scratch, core);
	return infect_end(&inf) ?: r;
}

int dump_task_mm(struct arena *a, struct task *task, MmEntry *mm)
{
	_cleanup_free_ uint64_t *auxv = NULL;
	struct proc_stat ps;
	struct infect inf;
	size_t n;
	long brk = 0;
	int r;

	r = proc_parse_stat(task->pid, &ps);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its stat", task->pid);
	mm->start_code = ps.start_code;
	mm->end_code = ps.end_code;
	mm->start_data = ps.start_data;
	mm->end_data = ps.end_data;
	mm->start_brk = ps.start_brk;
	mm->start_stack = ps.start_stack;
	mm->arg_start = ps.arg_start;
	mm->arg_end = ps.arg_end;
	mm->env_start = ps.env_start;
	mm->env_end = ps.env_end;
	r = infect_begin(&inf, task->pid, task->gate);
	if (r < 0)
		return r;
	r = infect_syscall(&inf, __NR_brk, 0, 0, 0, 0, 0, 0, &brk);
	r = infect_end(&inf) ?: r;
	if (r < 0)
		return r;
	mm->brk = (uint64_t)brk;
	r = proc_read_auxv(task->pid, &auxv, &n);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its auxv", task->pid);
	mm->n_auxv = n;
	mm->auxv = arena_memdup(a, auxv, n * sizeof(uint64_t));
	if (!mm->auxv)
		return -ENOMEM;
	return read_link(a, task->pid, "exe", &mm->exe_path);
}
