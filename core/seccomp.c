/* SPDX-License-Identifier: MIT */
/*
 * Seccomp. The mode of each thread is the "Seccomp:" field of its status (proc(5)). A
 * filter chain is read oldest first with PTRACE_SECCOMP_GET_FILTER (index 0 is the first
 * filter installed: get_nth_filter() in kernel/seccomp.c counts from the oldest) and its
 * flags with PTRACE_SECCOMP_GET_METADATA (ptrace(2)); both need CAP_SYS_ADMIN and a stopped
 * tracee.
 *
 * Injected syscalls go through the filters like any other, and a filter may kill the task
 * for one of them: every thread of a filtered task is given PTRACE_O_SUSPEND_SECCOMP
 * (CAP_SYS_ADMIN) for as long as we trace it, on both sides. At restore the filters are
 * installed before the credentials, while the task still has the restorer's privilege
 * (seccomp(2) needs no_new_privs or CAP_SYS_ADMIN), and with the filters suspended the
 * credential syscalls that follow cannot be blocked by them.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include "infect.h"
#include "log.h"
#include "seccomp.h"
#include "syscalls.h"

#define MAX_FILTERS	  512
#define MAX_INSNS	  4096 /* BPF_MAXINSNS */
#define CAP_SYS_ADMIN_BIT 21
#define DUMP_OPTS	  (PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)
#define RESTORE_OPTS \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP)

/* linux/ptrace.h, which does not mix with glibc's sys/ptrace.h */
struct sc_metadata {
	uint64_t filter_off;
	uint64_t flags;
};

struct sc_filter {
	struct sock_filter *insns;
	size_t n;
	uint32_t flags;
};

struct sc_chain {
	struct sc_filter v[MAX_FILTERS]; /* oldest first */
	size_t n;
};

static void chain_free(struct sc_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].insns);
	c->n = 0;
}

static int read_filter(pid_t pid, pid_t tid, unsigned long idx, struct sc_filter *f)
{
	struct sc_metadata md = {.filter_off = idx};
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, idx, NULL);

	if (n < 0)
		return -errno;
	if (n == 0 || n > MAX_INSNS)
		return pr_err("pid %d: thread %d: seccomp filter %lu has %ld instructions", pid, tid, idx, n),
		       -EINVAL;
	f->insns = calloc((size_t)n, sizeof(*f->insns));
	if (!f->insns)
		return -ENOMEM;
	f->n = (size_t)n;
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, idx, f->insns) != n)
		return pr_perror("pid %d: thread %d: PTRACE_SECCOMP_GET_FILTER", pid, tid);
	if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) < 0)
		return pr_perror("pid %d: thread %d: PTRACE_SECCOMP_GET_METADATA", pid, tid);
	f->flags = (uint32_t)(md.flags & SECCOMP_FILTER_FLAG_LOG);
	return 0;
}

static int read_chain(pid_t pid, pid_t tid, struct sc_chain *c)
{
	for (c->n = 0; c->n < MAX_FILTERS; c->n++) {
		int r = read_filter(pid, tid, c->n, &c->v[c->n]);

		if (r == -ENOENT)
			return 0;
		if (r < 0) {
			c->n++;
			if (r == -EPERM || r == -EACCES || r == -EINVAL)
				return pr_err_errno(r,
						    "pid %d: thread %d: seccomp filter: not supported "
						    "(reading it needs CAP_SYS_ADMIN)",
						    pid, tid);
			return r == -ENOMEM ? r
					    : pr_err_errno(r, "pid %d: thread %d: seccomp filter", pid, tid);
		}
	}
	return pr_err("pid %d: thread %d: more than %d seccomp filters: not supported", pid, tid,
		      MAX_FILTERS),
	       -ENOTSUP;
}

static bool chains_equal(const struct sc_chain *a, const struct sc_chain *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].n != b->v[i].n || a->v[i].flags != b->v[i].flags ||
		    memcmp(a->v[i].insns, b->v[i].insns, a->v[i].n * sizeof(struct sock_filter)))
			return false;
	return true;
}

static int thread_mode(pid_t tid, int *ret)
{
	struct proc_status st = {};
	int r = proc_parse_status(tid, &st);

	if (r < 0)
		return r;
	*ret = st.seccomp;
	proc_status_free(&st);
	return 0;
}

/* Every thread filtered like the main thread; all of them suspended. */
static int check_threads(const struct task *task)
{
	struct sc_chain *first = calloc(2, sizeof(*first)), *other = first ? first + 1 : NULL;
	int r = first ? 0 : -ENOMEM;

	for (size_t i = 0; i < task->nr_threads && r == 0; i++) {
		pid_t tid = task->threads[i].tid;

		if (ptrace(PTRACE_SETOPTIONS, tid, 0, DUMP_OPTS) < 0)
			r = pr_perror("pid %d: thread %d: seccomp filter: not supported (suspending it for "
				      "the dump needs CAP_SYS_ADMIN)",
				      task->pid, tid);
		if (r == 0)
			r = read_chain(task->pid, tid, i ? other : first);
		if (r == 0 && i && !chains_equal(first, other))
			r = (pr_err("pid %d: thread %d: seccomp filter: threads with different filters are "
				    "not supported",
				    task->pid, tid),
			     -ENOTSUP);
		if (i && other)
			chain_free(other);
	}
	if (first)
		chain_free(first);
	free(first);
	return r;
}

int seccomp_check(const struct task *task)
{
	int mode0 = 0, r;

	for (size_t i = 0; i < task->nr_threads; i++) {
		int mode;

		r = thread_mode(task->threads[i].tid, &mode);
		if (r < 0)
			return pr_err_errno(r, "pid %d: thread %d: reading its status", task->pid,
					    task->threads[i].tid);
		if (mode == SECCOMP_MODE_STRICT)
			return pr_err("pid %d: thread %d: seccomp strict mode: not supported", task->pid,
				      task->threads[i].tid),
			       -ENOTSUP;
		if (i == 0)
			mode0 = mode;
		else if (mode != mode0)
			return pr_err("pid %d: thread %d: seccomp filter: threads with different filters are "
				      "not supported",
				      task->pid, task->threads[i].tid),
			       -ENOTSUP;
	}
	return mode0 == SECCOMP_MODE_FILTER ? check_threads(task) : 0;
}

int seccomp_dump(struct arena *a, const struct task *task, const struct proc_status *st, TaskCoreEntry *core)
{
	struct sc_chain *c;
	SeccompEntry *e;
	int r;

	if (st->seccomp != SECCOMP_MODE_FILTER)
		return 0;
	c = calloc(1, sizeof(*c));
	e = arena_alloc(a, sizeof(*e));
	r = c && e ? read_chain(task->pid, task->pid, c) : -ENOMEM;
	if (r == 0) {
		seccomp_entry__init(e);
		e->mode = SECCOMP_MODE_FILTER;
		e->filters = arena_alloc(a, (c->n ?: 1) * sizeof(*e->filters));
		r = e->filters ? 0 : -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < c->n; i++) {
		const struct sc_filter *f = &c->v[i];
		SeccompFilterEntry *fe = arena_alloc(a, sizeof(*fe));

		if (!fe)
			r = -ENOMEM;
		else {
			seccomp_filter_entry__init(fe);
			fe->insns.len = f->n * sizeof(*f->insns);
			fe->insns.data = arena_memdup(a, f->insns, fe->insns.len);
			fe->has_flags = true;
			fe->flags = f->flags;
			e->filters[e->n_filters++] = fe;
			r = fe->insns.data ? 0 : -ENOMEM;
		}
	}
	if (r == 0)
		core->seccomp = e;
	if (c)
		chain_free(c);
	free(c);
	return r;
}

/* ---- restore ---------------------------------------------------------------------- */

static int validate_one(uint32_t pid, const SeccompEntry *e)
{
	size_t total = 0;

	if (e->mode != SECCOMP_MODE_FILTER || !e->n_filters || e->n_filters > MAX_FILTERS)
		return pr_err("'core-%u.img': bad seccomp record", pid), -EBADMSG;
	for (size_t i = 0; i < e->n_filters; i++) {
		const SeccompFilterEntry *f = e->filters[i];
		size_t n = f->insns.len / sizeof(struct sock_filter);

		if (f->insns.len % sizeof(struct sock_filter) || !n || n > MAX_INSNS ||
		    (f->has_flags && (f->flags & ~(uint32_t)SECCOMP_FILTER_FLAG_LOG)))
			return pr_err("'core-%u.img': bad seccomp filter %zu", pid, i), -EBADMSG;
		total += n + 4; /* the kernel's MAX_INSNS_PER_PATH accounting */
	}
	if (total > 32768)
		return pr_err("'core-%u.img': seccomp filters too long", pid), -EBADMSG;
	return 0;
}

int seccomp_validate(const struct rst_tree *t)
{
	struct proc_status st = {};
	bool admin;
	int r = proc_parse_status(getpid(), &st);

	if (r < 0)
		return pr_err_errno(r, "reading our own status");
	admin = st.cap_eff & (1ull << CAP_SYS_ADMIN_BIT);
	proc_status_free(&st);
	for (size_t i = 0; i < t->n_tasks; i++) {
		const TaskCoreEntry *c = t->tasks[i].core;

		if (!c || !c->seccomp)
			continue;
		r = validate_one(t->tasks[i].pe->pid, c->seccomp);
		if (r < 0)
			return r;
		if (!admin)
			return pr_err("pid %u: seccomp filter: restoring it needs CAP_SYS_ADMIN, which the "
				      "restorer lacks: refused",
				      t->tasks[i].pe->pid),
			       -EPERM;
	}
	return 0;
}

static int install_one(struct rst_inject *in, const SeccompFilterEntry *f, bool tsync)
{
	size_t len = ALIGN_UP(f->insns.len, 4096);
	struct {
		uint16_t len;
		uint16_t pad[3];
		uint64_t filter;
	} prog = {(uint16_t)(f->insns.len / sizeof(struct sock_filter)), {0}, 0};
	uint64_t flags = (f->has_flags ? f->flags : 0) | (tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0), p;
	long addr, ret = 0;
	int r;

	r = rst_syscall_ok(in, "mmap (seccomp filter)", __NR_mmap, 0, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0, &addr);
	if (r < 0)
		return r;
	prog.filter = (uint64_t)addr;
	r = task_mem_write(in->tid, (uint64_t)addr, f->insns.data, f->insns.len);
	if (r == 0)
		r = rst_put_data(in, 0, &prog, sizeof(prog), &p);
	if (r == 0)
		r = rst_syscall_ok(in, "seccomp(SECCOMP_SET_MODE_FILTER)", __NR_seccomp,
				   SECCOMP_SET_MODE_FILTER, flags, p, 0, 0, 0, &ret);
	/* With TSYNC, a positive return is the thread that could not be synchronised. */
	if (r == 0 && ret > 0)
		r = (pr_err("thread %d: seccomp filter: thread %ld could not be synchronised", in->tid, ret),
		     -EBUSY);
	return rst_syscall_ok(in, "munmap (seccomp filter)", __NR_munmap, (uint64_t)addr, len, 0, 0, 0, 0,
			      NULL)
		       ?: r;
}

int seccomp_restore(struct rst_inject *in, const struct rst_task *task)
{
	const SeccompEntry *e = task->core->seccomp;
	int r = 0;

	if (!e)
		return 0;
	for (size_t i = 0; i < task->pe->n_threads; i++)
		if (ptrace(PTRACE_SETOPTIONS, task->host_tids[i], 0, RESTORE_OPTS) < 0)
			return pr_perror("pid %u: thread %d: suspending seccomp (PTRACE_O_SUSPEND_SECCOMP)",
					 task->pe->pid, task->host_tids[i]);
	for (size_t i = 0; i < e->n_filters && r == 0; i++)
		r = install_one(in, e->filters[i], task->pe->n_threads > 1);
	return r;
}
