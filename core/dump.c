/* SPDX-License-Identifier: MIT */
/*
 * ckpt_dump(): freeze a tree, write its images, then kill it, stop it or let it run.
 * The inventory is written last: a directory without one holds no checkpoint. Any failure
 * removes the images written so far and detaches from the tree, which runs on untouched.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include "anonfd.h"
#include "arena.h"
#include "dump-task.h"
#include "fifo.h"
#include "files.h"
#include "inetsk.h"
#include "pipes.h"
#include "precheck.h"
#include "savedfiles.h"
#include "unixsk.h"
#include "image.h"
#include "imgdir.h"
#include "infect.h"
#include "locks.h"
#include "log.h"
#include "mem.h"
#include "pstree.pb-c.h"
#include "seize.h"
#include "service.h"
#include "shmem.h"

struct dump_ctx {
	const struct ckpt_dump_opts *opts;
	int dirfd;
	struct pstree tree;
	struct dump_stats_acc acc;
	uint64_t t_start, t_frozen;
	struct shmem_set shm;	  /* shared memory objects and deleted files, each dumped once */
	struct inetsk_repair tcp; /* TCP sockets in repair mode until the tree is released */
};

static int tree_ns_pids(struct pstree *t)
{
	for (size_t i = 0; i < t->nr_tasks; i++) {
		struct task *task = t->tasks[i];
		struct proc_status st = {};
		int r = proc_parse_status(task->pid, &st);

		if (r < 0)
			return pr_err_errno(r, "pid %d: reading its status", task->pid);
		task->ns_pid = st.ns_pid;
		task->ns_pgid = st.ns_pgid;
		task->ns_sid = st.ns_sid;
		task->ns_ppid = task->parent ? task->parent->ns_pid : 0;
		proc_status_free(&st);
		for (size_t k = 0; k < task->nr_threads; k++) {
			r = proc_parse_status(task->threads[k].tid, &st);
			if (r < 0)
				return pr_err_errno(r, "thread %d: reading its status", task->threads[k].tid);
			task->threads[k].ns_tid = st.ns_pid;
			proc_status_free(&st);
		}
	}
	return 0;
}

static int same_pidns(const struct pstree *t)
{
	_cleanup_free_ char *root_ns = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", t->tasks[0]->pid);
	r = readlink_malloc(AT_FDCWD, path, &root_ns);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its PID namespace", t->tasks[0]->pid);
	for (size_t i = 1; i < t->nr_tasks; i++) {
		_cleanup_free_ char *ns = NULL;

		if (t->tasks[i]->zombie)
			continue; /* a zombie has no namespaces left to show */
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", t->tasks[i]->pid);
		r = readlink_malloc(AT_FDCWD, path, &ns);
		if (r < 0)
			return pr_err_errno(r, "pid %d: reading its PID namespace", t->tasks[i]->pid);
		if (strcmp(ns, root_ns))
			return pr_err("pid %d: lives in a nested PID namespace, which is not supported yet",
				      t->tasks[i]->pid),
			       -ENOTSUP;
	}
	return 0;
}

static bool in_tree(const struct pstree *t, pid_t ns_pid)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		if (t->tasks[i]->ns_pid == ns_pid)
			return true;
	return false;
}

/* Sessions and groups must be recreatable: inside the tree, or the root's own with --shell-job. */
static int check_sessions(const struct dump_ctx *ctx)
{
	const struct pstree *t = &ctx->tree;
	const struct task *root = t->tasks[0];

	for (size_t i = 0; i < t->nr_tasks; i++) {
		const struct task *task = t->tasks[i];
		bool ext_sid = !in_tree(t, task->ns_sid), ext_pgid = !in_tree(t, task->ns_pgid);

		if (!ext_sid && !ext_pgid)
			continue;
		if (ctx->opts->shell_job && task->ns_sid == root->ns_sid &&
		    (!ext_pgid || task->ns_pgid == root->ns_pgid))
			continue;
		return pr_err("pid %d: its %s %d is outside the tree; start the job with setsid, or use "
			      "--shell-job",
			      task->pid, ext_sid ? "session" : "process group",
			      ext_sid ? task->ns_sid : task->ns_pgid),
		       -ENOTSUP;
	}
	return 0;
}

static const struct proc_vma *find_named_vma(const struct proc_vma *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].path && !strcmp(v[i].path, name))
			return &v[i];
	return NULL;
}

static int write_task_images(int dirfd, const struct task *task, TaskCoreEntry *core, MmEntry *mm)
{
	char name[64];
	int r;

	snprintf(name, sizeof(name), "core-%d.img", task->ns_pid);
	r = img_write_one(dirfd, name, IMG_CORE, &core->base);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "mm-%d.img", task->ns_pid);
	return img_write_one(dirfd, name, IMG_MM, &mm->base);
}

static int vdso_checksum(struct arena *a, pid_t pid, const struct proc_vma *vdso, MmEntry *mm);

static int dump_one_task(struct dump_ctx *ctx, struct task *task, const struct fd_list *fds)
{
	struct proc_vma *vmas = NULL;
	const struct proc_vma *vdso;
	struct proc_status st = {};
	TaskCoreEntry core = TASK_CORE_ENTRY__INIT;
	MmEntry mm = MM_ENTRY__INIT;
	struct arena a = {};
	size_t n = 0;
	int r;

	r = proc_parse_status(task->pid, &st);
	if (r < 0) {
		pr_err_errno(r, "pid %d: reading its status", task->pid);
		goto out;
	}
	r = proc_parse_smaps(task->pid, &vmas, &n);
	if (r < 0) {
		pr_err_errno(r, "pid %d: reading its mappings", task->pid);
		goto out;
	}
	vdso = find_named_vma(vmas, n, "[vdso]");
	r = infect_task_prepare(task, vdso ? vdso->start : 0, vdso ? vdso->end : 0);
	if (r == 0)
		r = dump_task_core(&a, task, &st, &core);
	if (r == 0)
		r = dump_task_mm(&a, task, &mm);
	r = infect_task_finish(task) ?: r;
	if (r < 0)
		goto out;
	/* The scratch page is gone: read the mappings as the task has them. */
	proc_vmas_free(vmas, n);
	vmas = NULL;
	r = proc_parse_smaps(task->pid, &vmas, &n);
	if (r < 0) {
		pr_err_errno(r, "pid %d: reading its mappings", task->pid);
		goto out;
	}
	r = mem_collect_vmas(task->pid, vmas, n, &mm);
	if (r == 0)
		r = shmem_note_vmas(&ctx->shm, task->pid, vmas, n, &mm);
	if (r < 0)
		goto out;
	vdso = find_named_vma(vmas, n, "[vdso]");
	if (vdso) {
		r = vdso_checksum(&a, task->pid, vdso, &mm);
		if (r < 0)
			goto out;
	}
	r = mem_dump_pages(ctx->dirfd, task, &mm, &ctx->acc);
	if (r < 0)
		goto out;
	r = files_write(ctx->dirfd, task, fds);
	if (r < 0)
		goto out;
	r = write_task_images(ctx->dirfd, task, &core, &mm);
out:
	dump_task_free_threads(&core);
	mem_free_vmas(&mm);
	proc_vmas_free(vmas, n);
	proc_status_free(&st);
	arena_free(&a);
	return r;
}

static int vdso_checksum(struct arena *a, pid_t pid, const struct proc_vma *vdso, MmEntry *mm)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = vdso->end - vdso->start;
	uint64_t sum;
	int r;

	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	r = task_mem_read(pid, vdso->start, buf, len);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its [vdso]", pid);
	sum = img_checksum(buf, len);
	mm->has_vdso_sum = true;
	mm->vdso_sum.len = sizeof(sum);
	mm->vdso_sum.data = arena_memdup(a, &sum, sizeof(sum));
	return mm->vdso_sum.data ? 0 : -ENOMEM;
}

static int write_pstree(const struct dump_ctx *ctx)
{
	const struct pstree *t = &ctx->tree;
	struct img *img;
	int r;

	r = img_create(ctx->dirfd, "pstree.img", IMG_PSTREE, &img);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->nr_tasks && r >= 0; i++) {
		const struct task *task = t->tasks[i];
		PstreeEntry e = PSTREE_ENTRY__INIT;
		uint32_t tids[task->nr_threads + 1];

		e.pid = (uint32_t)task->ns_pid;
		e.ppid = (uint32_t)task->ns_ppid;
		e.pgid = (uint32_t)task->ns_pgid;
		e.sid = (uint32_t)task->ns_sid;
		for (size_t k = 0; k < task->nr_threads; k++)
			tids[k] = (uint32_t)task->threads[k].ns_tid;
		e.n_threads = task->nr_threads;
		e.threads = tids;
		if (task->zombie) {
			e.has_zombie = e.has_exit_code = true;
			e.zombie = true;
			e.exit_code = task->exit_code;
		}
		r = img_write_msg(img, &e.base);
	}
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

static int write_inventory(struct dump_ctx *ctx)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	_cleanup_free_ uint32_t *feat = NULL;
	struct utsname un;
	char host[256] = "";
	size_t nfeat = 0;
	int r;

	r = arch_cpu_features(&feat, &nfeat);
	if (r < 0)
		return r;
	uname(&un);
	gethostname(host, sizeof(host) - 1);
	inv.format_version = CKPT_IMG_VERSION;
	inv.root_pid = (uint32_t)ctx->tree.tasks[0]->ns_pid;
	inv.arch = arch_kind();
	inv.has_xfeatures = true;
	inv.xfeatures = arch_xfeatures();
	inv.n_cpu_features = nfeat;
	inv.cpu_features = feat;
	inv.kernel = un.release;
	inv.has_shell_job = true;
	inv.shell_job = ctx->opts->shell_job;
	inv.has_dump_time_ns = true;
	inv.dump_time_ns = now_ns(CLOCK_REALTIME);
	inv.hostname = host;
	inv.tool_version = CKPT_VERSION;
	inv.has_page_size = inv.has_nr_tasks = inv.has_pages_written = true;
	inv.page_size = 4096;
	inv.nr_tasks = (uint32_t)ctx->tree.nr_tasks;
	inv.pages_written = ctx->acc.pages;
	inv.has_frozen_ns = true;
	inv.frozen_ns = now_ns(CLOCK_MONOTONIC) - ctx->t_frozen;
	return img_write_one(ctx->dirfd, "inventory.img", IMG_INVENTORY, &inv.base);
}

/*
 * The file modules, on the tree with the dumper as one more task (xt, fds[n]): its fds are
 * the files in flight in the queues of unix sockets (unixsk-scm.c).
 */
static int dump_file_kinds(struct dump_ctx *ctx, struct scm_set *scm, struct fd_list *fds)
{
	struct pstree xt = {};
	int r = scm_tree(scm, &ctx->tree, &xt);

	if (r == 0)
		r = pipes_dump(ctx->dirfd, &xt, fds);
	if (r == 0)
		r = files_share_ids(&xt, fds);
	if (r == 0)
		r = scm_check(scm, &ctx->tree, fds);
	if (r == 0 && ctx->opts->file_locks)
		r = locks_dump(&ctx->tree, fds);
	if (r == 0)
		r = fifo_dump(ctx->dirfd, &xt, fds);
	if (r == 0)
		r = anonfd_dump(ctx->dirfd, &xt, fds);
	if (r == 0)
		r = shmem_note_fds(&ctx->shm, &xt, fds);
	if (r == 0)
		r = savedfiles_dump(ctx->dirfd, ctx->opts->save_paths, &xt, fds);
	if (r == 0)
		r = scm_write(ctx->dirfd, scm);
	free(xt.tasks);
	return r;
}

/* Files first, for the whole tree: whether a pipe is internal depends on every task. */
static int dump_files_and_tasks(struct dump_ctx *ctx)
{
	size_t n = ctx->tree.nr_tasks;
	struct fd_list *fds = calloc(n + 1, sizeof(*fds));
	struct scm_set scm;
	int r = fds ? 0 : -ENOMEM;

	scm_init(&scm, fds ? &fds[n] : NULL);
	for (size_t i = 0; i < n && r == 0; i++)
		if (!ctx->tree.tasks[i]->zombie)
			r = files_collect(ctx->tree.tasks[i], &fds[i]);
	if (r == 0)
		r = inetsk_dump(ctx->dirfd, &ctx->tree, fds, &ctx->tcp);
	/* Unix sockets first: peeking at their queues finds the files in flight. */
	if (r == 0)
		r = unixsk_dump(ctx->dirfd, &ctx->tree, fds, ctx->opts->ext_unix_sk, &scm);
	if (r == 0)
		r = dump_file_kinds(ctx, &scm, fds);
	scm_close(&scm);
	for (size_t i = 0; i < n && r == 0; i++) {
		r = dump_check_cancel(&ctx->acc);
		if (r == 0 && !ctx->tree.tasks[i]->zombie)
			r = dump_one_task(ctx, ctx->tree.tasks[i], &fds[i]);
	}
	for (size_t i = 0; fds && i <= n; i++)
		files_free(&fds[i]);
	free(fds);
	return r;
}

static int dump_tree(struct dump_ctx *ctx)
{
	int r;

	r = precheck_tree(&ctx->tree, ctx->opts);
	if (r < 0)
		return r;
	r = tree_ns_pids(&ctx->tree);
	if (r < 0)
		return r;
	r = same_pidns(&ctx->tree);
	if (r < 0)
		return r;
	r = check_sessions(ctx);
	if (r < 0)
		return r;
	ctx->shm.dirfd = ctx->dirfd;
	r = dump_files_and_tasks(ctx);
	if (r == 0)
		r = shmem_write(&ctx->shm);
	ctx->acc.bytes += ctx->shm.bytes;
	if (r < 0)
		return r;
	r = write_pstree(ctx);
	if (r < 0)
		return r;
	r = write_inventory(ctx);
	if (r < 0)
		return r;
	if (fsync(ctx->dirfd) < 0)
		return pr_perror("syncing the images directory");
	return 0;
}

static enum release_mode release_mode_of(const struct ckpt_dump_opts *o)
{
	if (o->leave_running)
		return RELEASE_RUN;
	return o->leave_stopped ? RELEASE_STOP : RELEASE_KILL;
}

_public_ int ckpt_dump(const struct ckpt_dump_opts *opts, struct ckpt_dump_stats *ret_stats)
{
	struct dump_ctx ctx = {.opts = opts, .dirfd = -EBADF};
	int r;

	if (!opts || opts->sz < sizeof(*opts) || !opts->images_dir)
		return pr_err("ckpt_dump: bad options"), -EINVAL;
	if (opts->leave_running && opts->leave_stopped)
		return pr_err("--leave-running and --leave-stopped exclude each other"), -EINVAL;
	if (opts->service)
		return service_dump(opts, ret_stats);
	ctx.acc.cancel = opts->cancel;
	ctx.t_start = now_ns(CLOCK_MONOTONIC);
	r = seize_check_root(opts->pid);
	if (r < 0)
		return r;
	r = imgdir_open_for_dump(opts->images_dir, &ctx.dirfd);
	if (r < 0)
		return r;
	ctx.t_frozen = now_ns(CLOCK_MONOTONIC);
	r = seize_tree(opts->pid, opts->freeze_cgroup, &ctx.tree);
	if (r < 0)
		goto out;
	r = dump_check_cancel(&ctx.acc);
	if (r < 0) {
		seize_release(&ctx.tree, RELEASE_RUN);
		goto out;
	}
	r = dump_tree(&ctx);
	if (r < 0) {
		imgdir_remove_images(ctx.dirfd);
		inetsk_release(&ctx.tcp, false);
		seize_release(&ctx.tree, RELEASE_RUN);
		goto out;
	}
	/* A killed tree's sockets close in repair mode: their peers see nothing. */
	if (release_mode_of(opts) != RELEASE_KILL)
		r = inetsk_release(&ctx.tcp, false);
	seize_release(&ctx.tree, release_mode_of(opts));
	inetsk_release(&ctx.tcp, true);
	if (r < 0)
		goto out;
	if (ret_stats) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		*ret_stats = (struct ckpt_dump_stats){
			.nr_tasks = (uint32_t)ctx.tree.nr_tasks,
			.frozen_ns = now - ctx.t_frozen,
			.total_ns = now - ctx.t_start,
			.pages_written = ctx.acc.pages,
			.bytes_written = ctx.acc.bytes,
		};
		for (size_t i = 0; i < ctx.tree.nr_tasks; i++)
			ret_stats->nr_threads += (uint32_t)ctx.tree.tasks[i]->nr_threads;
	}
	pr_info("dumped %zu task(s) of pid %d into '%s': %" PRIu64 " pages", ctx.tree.nr_tasks, opts->pid,
		opts->images_dir, ctx.acc.pages);
out:
	shmem_set_free(&ctx.shm);
	pstree_free(&ctx.tree);
	closep(&ctx.dirfd);
	return r;
}
