/* SPDX-License-Identifier: MIT */
/*
 * Restore, step four: everything of a task that lives outside its memory, put back by
 * syscalls it runs itself: signal dispositions, timers, its process group, its threads
 * (clone3 with their tids), per-thread state, queued signals, and credentials last, since
 * they may take away the privilege the earlier steps need. Then the final registers and
 * signal masks; the trampoline is the main thread's last syscall.
 */
#include <dirent.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "infect.h"
#include "log.h"
#include "proc.h"
#include "procattr.h"
#include "rst.h"
#include "seccomp.h"
#include "seize.h"
#include "syscalls.h"

/* Offsets in the trampoline's data page for the structures passed to syscalls. */
#define D_SMALL	 0
#define D_TIDS	 1024
#define D_GROUPS 2048

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static int restore_sigactions(struct rst_inject *in, const TaskCoreEntry *c)
{
	for (size_t i = 0; i < c->n_sigactions; i++) {
		const SigactionEntry *e = c->sigactions[i];
		struct ksigaction ka = {e->handler, e->flags, e->restorer, e->mask};
		uint64_t p;
		int r;

		if (e->sig == SIGKILL || e->sig == SIGSTOP)
			continue;
		r = rst_put_data(in, D_SMALL, &ka, sizeof(ka), &p);
		if (r == 0)
			r = rst_syscall_ok(in, "rt_sigaction", __NR_rt_sigaction, e->sig, p, 0, 8, 0, 0,
					   NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int restore_itimers(struct rst_inject *in, const TaskCoreEntry *c)
{
	for (size_t i = 0; i < c->n_itimers; i++) {
		const ItimerEntry *e = c->itimers[i];
		int64_t v[4] = {(int64_t)(e->interval_us / 1000000), (int64_t)(e->interval_us % 1000000),
				(int64_t)(e->value_us / 1000000), (int64_t)(e->value_us % 1000000)};
		uint64_t p;
		int r;

		if (e->which > 2)
			return pr_err("thread %d: bad itimer %u", in->tid, e->which), -EBADMSG;
		if (!v[2] && !v[3])
			v[3] = 1; /* armed with no time left: fire at once */
		r = rst_put_data(in, D_SMALL, v, sizeof(v), &p);
		if (r == 0)
			r = rst_syscall_ok(in, "setitimer", __NR_setitimer, e->which, p, 0, 0, 0, 0, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int restore_one_timer(struct rst_inject *in, const PosixTimerEntry *e)
{
	struct {
		uint64_t value;
		int32_t signo, notify, tid, pad[11];
	} sev = {e->sigval, e->signo, e->notify, e->has_notify_tid ? e->notify_tid : 0};
	int32_t id = e->id;
	int64_t its[4] = {(int64_t)(e->interval_ns / 1000000000), (int64_t)(e->interval_ns % 1000000000),
			  (int64_t)(e->value_ns / 1000000000), (int64_t)(e->value_ns % 1000000000)};
	uint64_t psev, pid, pits;
	int r;

	r = rst_put_data(in, D_SMALL, &sev, sizeof(sev), &psev);
	if (r == 0)
		r = rst_put_data(in, D_SMALL + 128, &id, sizeof(id), &pid);
	if (r == 0)
		r = rst_put_data(in, D_SMALL + 192, its, sizeof(its), &pits);
	if (r == 0)
		r = rst_syscall_ok(in, "timer_create", __NR_timer_create, (uint64_t)e->clock, psev, pid, 0, 0,
				   0, NULL);
	if (r == 0 && (e->value_ns || e->interval_ns))
		r = rst_syscall_ok(in, "timer_settime", __NR_timer_settime, (uint64_t)e->id, 0, pits, 0, 0, 0,
				   NULL);
	return r;
}

static int restore_posix_timers(struct rst_inject *in, const TaskCoreEntry *c)
{
	int r = 0;

	if (!c->n_posix_timers)
		return 0;
	/* Linux 6.15: timer_create() then takes the id to use from *timerid. */
	r = rst_syscall_ok(in, "prctl(PR_TIMER_CREATE_RESTORE_IDS)", __NR_prctl, PR_TIMER_CREATE_RESTORE_IDS,
			   PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0, NULL);
	for (size_t i = 0; i < c->n_posix_timers && r == 0; i++)
		r = restore_one_timer(in, c->posix_timers[i]);
	return rst_syscall_ok(in, "prctl(PR_TIMER_CREATE_RESTORE_IDS)", __NR_prctl,
			      PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0, NULL)
		       ?: r;
}

static int restore_process(struct rst_tree *t, struct rst_task *task, struct rst_inject *in)
{
	const TaskCoreEntry *c = task->core;
	const PstreeEntry *pe = task->pe;
	int r;

	r = restore_sigactions(in, c);
	if (r == 0)
		r = restore_itimers(in, c);
	if (r == 0)
		r = restore_posix_timers(in, c);
	if (r == 0 && pe->pgid != pe->pid && pe->sid != pe->pid && rst_task_index(t, pe->pgid) >= 0)
		r = rst_syscall_ok(in, "setpgid", __NR_setpgid, 0, pe->pgid, 0, 0, 0, 0, NULL);
	if (r == 0 && c->has_child_subreaper && c->child_subreaper)
		r = rst_syscall_ok(in, "PR_SET_CHILD_SUBREAPER", __NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0,
				   0, 0, NULL);
	return r;
}

/* The thread clone3 just made: the one tid of the task we do not know yet. */
static int find_new_thread(const struct rst_task *task, size_t known, pid_t *ret)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n;
	int r = proc_list_tasks(task->host_pid, &tids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t k = 0; k < known; k++)
			seen |= task->host_tids[k] == tids[i];
		if (!seen) {
			*ret = tids[i];
			return 0;
		}
	}
	return -ESRCH;
}

static int create_thread(struct rst_task *task, struct rst_inject *in, size_t idx)
{
	pid_t want = (pid_t)task->pe->threads[idx], tid;
	struct clone_args ca = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
	};
	uint64_t ptid, pca;
	int r, status;

	r = rst_put_data(in, D_TIDS, &want, sizeof(want), &ptid);
	if (r < 0)
		return r;
	ca.set_tid = ptid;
	ca.set_tid_size = 1;
	r = rst_put_data(in, D_SMALL, &ca, sizeof(ca), &pca);
	if (r == 0)
		r = rst_syscall_ok(in, "clone3 (thread)", __NR_clone3, pca, sizeof(ca), 0, 0, 0, 0, NULL);
	if (r < 0)
		return pr_err("pid %u: could not create thread %d", task->pe->pid, want), r;
	r = find_new_thread(task, idx, &tid);
	if (r < 0)
		return pr_err_errno(r, "pid %u: finding thread %d", task->pe->pid, want);
	/* Auto-attached by PTRACE_O_TRACECLONE: it starts in a stop, before any instruction. */
	status = seize_wait_stop(tid);
	if (status < 0)
		return pr_err_errno(status, "pid %u: thread %d did not stop", task->pe->pid, want);
	task->host_tids[idx] = tid;
	return 0;
}

static int restore_thread(struct rst_inject *in, const ThreadEntry *te, const PstreeEntry *pe)
{
	uint64_t p;
	int r = 0;

	if (te->altstack) {
		struct {
			uint64_t sp;
			int32_t flags, pad;
			uint64_t size;
		} ss = {te->altstack->sp, (int32_t)te->altstack->flags, 0, te->altstack->size};

		r = rst_put_data(in, D_SMALL, &ss, sizeof(ss), &p);
		if (r == 0)
			r = rst_syscall_ok(in, "sigaltstack", __NR_sigaltstack, p, 0, 0, 0, 0, 0, NULL);
	}
	if (r == 0 && te->has_robust_list)
		r = rst_syscall_ok(in, "set_robust_list", __NR_set_robust_list, te->robust_list,
				   te->robust_list_len, 0, 0, 0, 0, NULL);
	if (r == 0 && te->has_clear_tid_addr)
		r = rst_syscall_ok(in, "set_tid_address", __NR_set_tid_address, te->clear_tid_addr, 0, 0, 0,
				   0, 0, NULL);
	if (r == 0 && te->rseq)
		r = rst_syscall_ok(in, "rseq", __NR_rseq, te->rseq->addr, te->rseq->len, 0, te->rseq->sig, 0,
				   0, NULL);
	if (r == 0 && te->comm) {
		char comm[16] = "";

		strncpy(comm, te->comm, sizeof(comm) - 1);
		r = rst_put_data(in, D_SMALL, comm, sizeof(comm), &p);
		if (r == 0)
			r = rst_syscall_ok(in, "PR_SET_NAME", __NR_prctl, PR_SET_NAME, p, 0, 0, 0, 0, NULL);
	}
	for (size_t i = 0; i < te->n_pending && r == 0; i++) {
		int32_t sig;

		if (te->pending[i]->raw.len != 128)
			return pr_err("thread %u: bad siginfo", te->tid), -EBADMSG;
		memcpy(&sig, te->pending[i]->raw.data, sizeof(sig));
		r = rst_put_data(in, D_SMALL, te->pending[i]->raw.data, 128, &p);
		if (r == 0)
			r = rst_syscall_ok(in, "rt_tgsigqueueinfo", __NR_rt_tgsigqueueinfo, pe->pid, te->tid,
					   (uint64_t)sig, p, 0, 0, NULL);
	}
	return r;
}

static int restore_shared_pending(struct rst_inject *in, const TaskCoreEntry *c, const PstreeEntry *pe)
{
	for (size_t i = 0; i < c->n_shared_pending; i++) {
		uint64_t p;
		int32_t sig;
		int r;

		if (c->shared_pending[i]->raw.len != 128)
			return pr_err("pid %u: bad siginfo", pe->pid), -EBADMSG;
		memcpy(&sig, c->shared_pending[i]->raw.data, sizeof(sig));
		r = rst_put_data(in, D_SMALL, c->shared_pending[i]->raw.data, 128, &p);
		if (r == 0)
			r = rst_syscall_ok(in, "rt_sigqueueinfo", __NR_rt_sigqueueinfo, pe->pid,
					   (uint64_t)sig, p, 0, 0, 0, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int drop_bounding_set(struct rst_inject *in, uint64_t bnd)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (bnd & (1ull << cap))
			continue;
		int r = rst_syscall_ok(in, "PR_CAPBSET_DROP", __NR_prctl, PR_CAPBSET_DROP, (uint64_t)cap, 0,
				       0, 0, 0, NULL);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Credentials of one thread, in the order that keeps the privilege each call needs. */
static int restore_creds(struct rst_inject *in, const CredsEntry *c)
{
	struct {
		uint32_t version;
		int32_t pid;
		uint32_t d[6];
	} caps = {_LINUX_CAPABILITY_VERSION_3,
		  0,
		  {(uint32_t)c->cap_eff, (uint32_t)c->cap_prm, (uint32_t)c->cap_inh,
		   (uint32_t)(c->cap_eff >> 32), (uint32_t)(c->cap_prm >> 32), (uint32_t)(c->cap_inh >> 32)}};
	uint64_t p, pd;
	int r;

	if (c->n_groups > 65536)
		return -EBADMSG;
	r = drop_bounding_set(in, c->cap_bnd);
	if (r == 0 && c->has_securebits && c->securebits)
		r = rst_syscall_ok(in, "PR_SET_SECUREBITS", __NR_prctl, PR_SET_SECUREBITS, c->securebits, 0,
				   0, 0, 0, NULL);
	if (r == 0 && c->n_groups * sizeof(uint32_t) <= 2048)
		r = rst_put_data(in, D_GROUPS, c->groups, c->n_groups * sizeof(uint32_t), &p);
	else if (r == 0)
		r = (pr_err("thread %d: too many supplementary groups (%zu)", in->tid, c->n_groups), -E2BIG);
	if (r == 0)
		r = rst_syscall_ok(in, "setgroups", __NR_setgroups, c->n_groups, p, 0, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_syscall_ok(in, "setresgid", __NR_setresgid, c->gid, c->egid, c->sgid, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_syscall_ok(in, "setfsgid", __NR_setfsgid, c->fsgid, 0, 0, 0, 0, 0, NULL);
	/* Keep permitted capabilities across the uid change; capset then sets exactly the dumped ones. */
	if (r == 0)
		r = rst_syscall_ok(in, "PR_SET_KEEPCAPS", __NR_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_syscall_ok(in, "setresuid", __NR_setresuid, c->uid, c->euid, c->suid, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_syscall_ok(in, "setfsuid", __NR_setfsuid, c->fsuid, 0, 0, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_put_data(in, D_SMALL, &caps, sizeof(caps), &p);
	pd = p + 8;
	if (r == 0)
		r = rst_syscall_ok(in, "capset", __NR_capset, p, pd, 0, 0, 0, 0, NULL);
	if (r == 0)
		r = rst_syscall_ok(in, "PR_SET_KEEPCAPS", __NR_prctl, PR_SET_KEEPCAPS,
				   (c->has_securebits && (c->securebits & (1u << 4))) ? 1 : 0, 0, 0, 0, 0,
				   NULL);
	if (r == 0 && c->has_no_new_privs && c->no_new_privs)
		r = rst_syscall_ok(in, "PR_SET_NO_NEW_PRIVS", __NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0,
				   NULL);
	return r;
}

static int thread_inject(struct rst_inject *in, const struct rst_inject *main_in, pid_t tid)
{
	*in = *main_in;
	in->tid = tid;
	return arch_gpregs_get(tid, &in->base);
}

static int set_final(pid_t tid, const ThreadEntry *te)
{
	int r = arch_thread_restore(tid, te);

	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &te->sigmask) < 0)
		return pr_perror("thread %d: PTRACE_SETSIGMASK", tid);
	return 0;
}

int rst_state_restore(struct rst_tree *t, struct rst_task *task, struct rst_inject *in)
{
	const TaskCoreEntry *c = task->core;
	struct rst_inject th;
	int r;

	r = restore_process(t, task, in);
	for (size_t i = 1; i < c->n_threads && r == 0; i++)
		r = create_thread(task, in, i);
	for (size_t i = 0; i < c->n_threads && r == 0; i++) {
		r = i ? thread_inject(&th, in, task->host_tids[i]) : 0;
		if (r == 0)
			r = restore_thread(i ? &th : in, c->threads[i], task->pe);
		if (r == 0)
			r = procattr_restore_thread(i ? &th : in, c->threads[i]);
	}
	if (r == 0)
		r = restore_shared_pending(in, c, task->pe);
	if (r == 0)
		r = procattr_restore_oom(task);
	if (r == 0)
		r = seccomp_restore(in, task);
	for (size_t i = 0; i < c->n_threads && r == 0; i++) {
		r = i ? thread_inject(&th, in, task->host_tids[i]) : 0;
		if (r == 0)
			r = restore_creds(i ? &th : in, c->creds);
	}
	/* Cleared by any change of the euid, egid, fsuid or fsgid (PR_SET_PDEATHSIG, prctl(2)). */
	if (r == 0 && c->has_pdeath_sig && c->pdeath_sig)
		r = rst_syscall_ok(in, "PR_SET_PDEATHSIG", __NR_prctl, PR_SET_PDEATHSIG,
				   (uint64_t)c->pdeath_sig, 0, 0, 0, 0, NULL);
	if (r == 0 && c->has_dumpable && (c->dumpable == 0 || c->dumpable == 1))
		r = rst_syscall_ok(in, "PR_SET_DUMPABLE", __NR_prctl, PR_SET_DUMPABLE, (uint64_t)c->dumpable,
				   0, 0, 0, 0, NULL);
	for (size_t i = 1; i < c->n_threads && r == 0; i++)
		r = set_final(task->host_tids[i], c->threads[i]);
	if (r == 0)
		r = rst_mm_drop_tramp(in);
	if (r == 0)
		r = set_final(task->host_tids[0], c->threads[0]);
	return r;
}
