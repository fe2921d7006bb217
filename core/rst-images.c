/* SPDX-License-Identifier: MIT */
/*
 * Restore, step one: read every image and check it before anything is created. Images are
 * untrusted input: every pid, address, offset and length is checked here, so that the later
 * steps can rely on them.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "image.h"
#include "infect.h"
#include "log.h"
#include "memcheck.h"
#include "proc.h"
#include "rst.h"
#include "procattr.h"
#include "seccomp.h"

#define PAGE_SZ	 4096ull
#define USER_TOP (1ull << 56) /* above any user address of a 4- or 5-level x86_64 or arm64 mm */

int rst_task_index(const struct rst_tree *t, uint32_t ns_pid)
{
	for (size_t i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].pe->pid == ns_pid)
			return (int)i;
	return -1;
}

static int load_inventory(struct rst_tree *t)
{
	char why[256] = "";
	int r;

	r = img_read_one(t->dirfd, "inventory.img", IMG_INVENTORY, (ProtobufCMessage **)&t->inv);
	if (r < 0)
		return r;
	if (t->inv->format_version > CKPT_IMG_VERSION)
		return pr_err("'inventory.img': format version %u is newer than this ckpt supports (%u)",
			      t->inv->format_version, CKPT_IMG_VERSION),
		       -EPROTO;
	if (t->inv->arch != arch_kind())
		return pr_err("images were dumped on another architecture than %s", arch_name()), -ENOEXEC;
	r = arch_cpu_compatible(t->inv, why, sizeof(why));
	if (r < 0)
		return pr_err("cannot restore on this CPU: %s", why), r;
	if (t->inv->has_pages_written && t->inv->pages_written < UINT64_MAX / PAGE_SZ)
		return memcheck_room_for(t->inv->pages_written * PAGE_SZ);
	return 0;
}

static int load_pstree(struct rst_tree *t)
{
	int r = img_read_all(t->dirfd, "pstree.img", IMG_PSTREE, (ProtobufCMessage ***)&t->pstree,
			     &t->n_pstree);

	if (r < 0)
		return r;
	if (!t->n_pstree)
		return pr_err("'pstree.img': holds no task"), -EBADMSG;
	return 0;
}

/* Pids unique and > 0, root first, every parent before its children, threads[0] == pid. */
static int check_pstree(struct rst_tree *t)
{
	t->tasks = calloc(t->n_pstree, sizeof(*t->tasks));
	if (!t->tasks)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_pstree; i++) {
		PstreeEntry *pe = t->pstree[i];
		struct rst_task *task = &t->tasks[i];

		if (!pe->pid || pe->pid > INT32_MAX || rst_task_index(t, pe->pid) >= 0)
			return pr_err("'pstree.img': bad or repeated pid %u", pe->pid), -EBADMSG;
		if (pe->zombie ? (pe->n_threads || !i)
			       : (!pe->n_threads || pe->threads[0] != pe->pid || pe->n_threads > 65536))
			return pr_err("'pstree.img': pid %u: bad thread list", pe->pid), -EBADMSG;
		task->pe = pe;
		task->parent = i ? rst_task_index(t, pe->ppid) : -1;
		t->n_tasks++;
		if (i && task->parent < 0)
			return pr_err("'pstree.img': pid %u: parent %u is not dumped before it", pe->pid,
				      pe->ppid),
			       -EBADMSG;
	}
	if (t->tasks[0].pe->pid != t->inv->root_pid)
		return pr_err("'pstree.img' does not start with the root pid %u", t->inv->root_pid), -EBADMSG;
	return 0;
}

/* Can the kernel recreate each task's session and group the way we create tasks? */
static int check_sessions(const struct rst_tree *t)
{
	bool shell = t->opts->shell_job;

	for (size_t i = 0; i < t->n_tasks; i++) {
		const PstreeEntry *pe = t->tasks[i].pe;
		const PstreeEntry *pp = i ? t->tasks[t->tasks[i].parent].pe : NULL;
		bool sid_ok = pe->sid == pe->pid || (pp && pp->sid == pe->sid) || (!pp && shell);
		bool pgid_ok =
			rst_task_index(t, pe->pgid) >= 0 || (shell && pe->pgid == t->tasks[0].pe->pgid);

		if (!pp && pe->sid != pe->pid && !shell)
			return pr_err("the root %u was not a session leader when dumped; restore with "
				      "--shell-job",
				      pe->pid),
			       -EINVAL;
		if (!sid_ok || !pgid_ok)
			return pr_err("pid %u: session %u / group %u cannot be recreated yet", pe->pid,
				      pe->sid, pe->pgid),
			       -ENOTSUP;
	}
	return 0;
}

static bool group_allowed(const struct ckpt_restore_opts *o, uint32_t g)
{
	if (g == o->owner_gid)
		return true;
	for (size_t i = 0; i < o->n_owner_groups; i++)
		if (o->owner_groups[i] == g)
			return true;
	return false;
}

/* check_owner: never more than the job's owner had (see ckpt_restore_opts). */
static int check_creds_owner(const struct rst_tree *t, uint32_t pid, const CredsEntry *c)
{
	const struct ckpt_restore_opts *o = t->opts;
	uint32_t u = o->owner_uid, g = o->owner_gid;

	if (!o->check_owner)
		return 0;
	if (c->uid != u || c->euid != u || c->suid != u || c->fsuid != u)
		return pr_err("pid %u: its uids %u/%u/%u/%u are not the job owner's %u: refused", pid, c->uid,
			      c->euid, c->suid, c->fsuid, u),
		       -EPERM;
	if (c->gid != g || c->egid != g || c->sgid != g || c->fsgid != g)
		return pr_err("pid %u: its gids %u/%u/%u/%u are not the job owner's %u: refused", pid, c->gid,
			      c->egid, c->sgid, c->fsgid, g),
		       -EPERM;
	for (size_t i = 0; i < c->n_groups; i++)
		if (!group_allowed(o, c->groups[i]))
			return pr_err("pid %u: group %u is not one of the job owner's: refused", pid,
				      c->groups[i]),
			       -EPERM;
	if (u != 0 && (c->cap_eff || c->cap_prm || c->cap_inh || (c->has_cap_amb && c->cap_amb)))
		return pr_err("pid %u: holds capabilities its owner %u has not: refused", pid, u), -EPERM;
	return 0;
}

static int check_saved_owner(const struct rst_tree *t)
{
	for (size_t i = 0; t->opts->check_owner && i < t->n_saved; i++)
		if (t->saved[i].uid != t->opts->owner_uid)
			return pr_err("saved file '%s' belongs to uid %u, not to the job owner %u: refused",
				      t->saved[i].path, t->saved[i].uid, t->opts->owner_uid),
			       -EPERM;
	return 0;
}

static int load_core(struct rst_tree *t, struct rst_task *task)
{
	char name[64], why[256] = "";
	TaskCoreEntry *c;
	int r;

	snprintf(name, sizeof(name), "core-%u.img", task->pe->pid);
	r = img_read_one(t->dirfd, name, IMG_CORE, (ProtobufCMessage **)&task->core);
	if (r < 0)
		return r;
	c = task->core;
	if (c->arch != arch_kind() || c->n_threads != task->pe->n_threads)
		return pr_err("'%s': does not match pstree.img", name), -EBADMSG;
	for (size_t i = 0; i < c->n_threads; i++) {
		if (c->threads[i]->tid != task->pe->threads[i])
			return pr_err("'%s': thread %zu is %u, pstree.img says %u", name, i,
				      c->threads[i]->tid, task->pe->threads[i]),
			       -EBADMSG;
		r = arch_thread_validate(c->threads[i], why, sizeof(why));
		if (r < 0)
			return pr_err("'%s': thread %u: %s", name, c->threads[i]->tid, why), r;
	}
	for (size_t i = 0; i < c->n_sigactions; i++)
		if (c->sigactions[i]->sig < 1 || c->sigactions[i]->sig > 64)
			return pr_err("'%s': bad signal number %u", name, c->sigactions[i]->sig), -EBADMSG;
	if (!c->cwd || !c->root || c->cwd[0] != '/' || c->root[0] != '/')
		return pr_err("'%s': bad cwd or root", name), -EBADMSG;
	return check_creds_owner(t, task->pe->pid, c->creds);
}

static int file_size_matches(const char *what, uint32_t pid, const char *path, uint64_t size, bool reg)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return pr_perror("pid %u: %s '%s'", pid, what, path);
	if (reg && !S_ISREG(st.st_mode))
		return pr_err("pid %u: %s '%s' is no longer a regular file", pid, what, path), -EINVAL;
	if (reg && (uint64_t)st.st_size != size)
		return pr_err("pid %u: %s '%s' changed size since the dump (%" PRIu64 " -> %" PRIu64
			      " bytes)",
			      pid, what, path, size, (uint64_t)st.st_size),
		       -ESTALE;
	return 0;
}

static int own_vdso_sum(uint64_t *ret)
{
	struct proc_vma *v = NULL;
	size_t n = 0;
	int r = proc_parse_smaps(getpid(), &v, &n);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (v[i].path && !strcmp(v[i].path, "[vdso]")) {
			*ret = img_checksum((const void *)(uintptr_t)v[i].start, v[i].end - v[i].start);
			r = 0;
		}
	proc_vmas_free(v, n);
	return r;
}

static int check_vmas(uint32_t pid, const char *name, const MmEntry *mm)
{
	uint64_t prev_end = 0, sum = 0;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		int r;

		if (v->kind == VMA_KIND__VMA_VSYSCALL)
			continue; /* the fixed kernel page above user space; not restored, not checked */
		if (v->start < prev_end || v->end <= v->start || v->end > USER_TOP ||
		    (v->start | v->end) % PAGE_SZ || v->pgoff % PAGE_SZ)
			return pr_err("'%s': bad mapping %#" PRIx64 "-%#" PRIx64, name, v->start, v->end),
			       -EBADMSG;
		prev_end = v->end;
		if (v->has_shmem_id)
			continue; /* from an object of shmem.img: rst_shmem_load() */
		if (v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) {
			if (!v->path || v->path[0] != '/')
				return pr_err("'%s': file mapping without a path", name), -EBADMSG;
			r = file_size_matches("mapped file", pid, v->path, v->file_size, true);
			if (r < 0)
				return r;
		}
	}
	if (mm->has_vdso_sum && mm->vdso_sum.len == sizeof(sum)) {
		uint64_t want;
		int r = own_vdso_sum(&sum);

		memcpy(&want, mm->vdso_sum.data, sizeof(want));
		if (r < 0 || sum != want)
			return pr_err("pid %u: the [vdso] of this kernel differs from the dumped one; "
				      "restore on a node "
				      "running the same kernel",
				      pid),
			       -ENOEXEC;
	}
	return 0;
}

static int load_mm(struct rst_tree *t, struct rst_task *task)
{
	char name[64];
	int r;

	snprintf(name, sizeof(name), "mm-%u.img", task->pe->pid);
	r = img_read_one(t->dirfd, name, IMG_MM, (ProtobufCMessage **)&task->mm);
	if (r < 0)
		return r;
	if (task->mm->n_auxv % 2 || task->mm->n_auxv > 512)
		return pr_err("'%s': bad auxv", name), -EBADMSG;
	if (!task->mm->exe_path || task->mm->exe_path[0] != '/')
		return pr_err("'%s': no executable path", name), -EBADMSG;
	return check_vmas(task->pe->pid, name, task->mm);
}

int rst_inherited_file(const struct rst_tree *t, const FdEntry *e)
{
	if (e->kind != FD_KIND__FD_REG || !e->path)
		return -1;
	for (size_t i = 0; i < t->opts->n_inherit_fds; i++) {
		const char *k = t->opts->inherit_fds[i].key;

		if (!strncmp(k, "file:", 5) && !strcmp(k + 5, e->path))
			return (int)i;
	}
	return -1;
}

static bool is_saved(const struct rst_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n_saved; i++)
		if (!strcmp(t->saved[i].path, path))
			return true;
	return false;
}

int rst_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	if (e->fd > (1u << 20))
		return pr_err("pid %u: fd %u: out of range", pid, e->fd), -EBADMSG;
	switch (e->kind) {
	case FD_KIND__FD_REG:
		if (!e->path || !e->has_size || !e->has_pos)
			return pr_err("pid %u: fd %u: incomplete record", pid, e->fd), -EBADMSG;
		if (e->has_shmem_id)
			return 0; /* deleted, saved in shmem.img: rst_shmem_load() */
		/* handed in, or put back as it was before the tree is built */
		if (rst_inherited_file(t, e) >= 0 || is_saved(t, e->path))
			return 0;
		return file_size_matches("file", pid, e->path, e->size, true);
	case FD_KIND__FD_DIR:
	case FD_KIND__FD_CHR:
		if (!e->path || e->path[0] != '/')
			return pr_err("pid %u: fd %u: incomplete record", pid, e->fd), -EBADMSG;
		return file_size_matches("file", pid, e->path, 0, false);
	case FD_KIND__FD_PIPE:
		if (!e->has_pipe_id || !rst_find_pipe(t, e->pipe_id))
			return pr_err("pid %u: fd %u: its pipe is missing from 'pipes.img'", pid, e->fd),
			       -EBADMSG;
		return 0;
	case FD_KIND__FD_FIFO:
	case FD_KIND__FD_EVENTFD:
	case FD_KIND__FD_TIMERFD:
	case FD_KIND__FD_SIGNALFD:
	case FD_KIND__FD_EPOLL:
	case FD_KIND__FD_INOTIFY:
		return rst_anonfd_check_fd(t, pid, e); /* rst-anonfd.c */
	case FD_KIND__FD_UNIX:
		if (!e->has_sk_id || (!rst_find_unix(t, e->sk_id, NULL) && !rst_unixsk_find(t, e->sk_id)))
			return pr_err("pid %u: fd %u: its socket is missing from 'unixsk.img'", pid, e->fd),
			       -EBADMSG;
		return 0;
	case FD_KIND__FD_INET:
		if (!e->has_sk_id || !rst_inetsk_find(t, e->sk_id))
			return pr_err("pid %u: fd %u: its socket is missing from 'inetsk.img'", pid, e->fd),
			       -EBADMSG;
		return 0;
	case FD_KIND__FD_EXTERNAL:
		if (!e->ext_key)
			return pr_err("pid %u: fd %u: incomplete record", pid, e->fd), -EBADMSG;
		for (size_t i = 0; i < t->opts->n_inherit_fds; i++)
			if (!strcmp(t->opts->inherit_fds[i].key, e->ext_key))
				return 0;
		if (e->is_tty && t->opts->shell_job && t->shell_tty >= 0)
			return 0;
		return pr_err("pid %u: fd %u: '%s' was outside the tree; hand it in with --inherit-fd "
			      "fd[N]:%s%s",
			      pid, e->fd, e->ext_key, e->ext_key, e->is_tty ? " or use --shell-job" : ""),
		       -EINVAL;
	default:
		return pr_err("pid %u: fd %u: unknown kind %d", pid, e->fd, e->kind), -EBADMSG;
	}
}

static int load_fds(struct rst_tree *t, struct rst_task *task)
{
	char name[64];
	int r;

	snprintf(name, sizeof(name), "fdinfo-%u.img", task->pe->pid);
	r = img_read_all(t->dirfd, name, IMG_FDINFO, (ProtobufCMessage ***)&task->fds, &task->n_fds);
	for (size_t i = 0; i < task->n_fds && r == 0; i++)
		r = rst_check_fd(t, task->pe->pid, task->fds[i]);
	return r;
}

static const VmaEntry *vma_holding(const MmEntry *mm, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->start <= start && end <= mm->vmas[i]->end)
			return mm->vmas[i];
	return NULL;
}

static int check_pagemap_entry(const struct rst_task *task, const char *name, const PagemapEntry *pe)
{
	uint64_t len = (uint64_t)pe->nr_pages * PAGE_SZ;
	const VmaEntry *v;

	if (pe->flags != PAGEMAP_FLAG__PE_PRESENT || !pe->has_offset || !pe->has_checksum || !pe->nr_pages)
		return pr_err("'%s': unsupported page entry at %#" PRIx64, name, pe->vaddr), -EBADMSG;
	v = vma_holding(task->mm, pe->vaddr, pe->vaddr + len);
	if (pe->vaddr % PAGE_SZ || !v ||
	    (v->kind != VMA_KIND__VMA_ANON_PRIVATE && v->kind != VMA_KIND__VMA_FILE_PRIVATE))
		return pr_err("'%s': pages at %#" PRIx64 " are outside any private mapping", name, pe->vaddr),
		       -EBADMSG;
	if (pe->offset % PAGE_SZ || pe->offset < CKPT_IMG_PAGES_DATA_OFF || pe->offset > task->pages_len ||
	    len > task->pages_len - pe->offset)
		return pr_err("'pages-%u.img': truncated (pages at %#" PRIx64 " missing)", task->pe->pid,
			      pe->vaddr),
		       -EBADMSG;
	if (img_checksum(task->pages + pe->offset, len) != pe->checksum)
		return pr_err("'pages-%u.img': checksum mismatch for pages at %#" PRIx64, task->pe->pid,
			      pe->vaddr),
		       -EBADMSG;
	return 0;
}

static int map_pages_file(struct rst_tree *t, struct rst_task *task)
{
	struct img *img;
	struct stat st;
	char name[64];
	void *p;
	int r;

	snprintf(name, sizeof(name), "pages-%u.img", task->pe->pid);
	r = img_open(t->dirfd, name, IMG_PAGES, &img);
	if (r < 0)
		return r;
	if (fstat(img_fd(img), &st) < 0) {
		r = pr_perror("'%s'", name);
		img_close(img);
		return r;
	}
	task->pages_len = (size_t)st.st_size;
	p = mmap(NULL, task->pages_len, PROT_READ, MAP_PRIVATE, img_fd(img), 0);
	img_close(img);
	if (p == MAP_FAILED)
		return pr_perror("mapping '%s'", name);
	task->pages = p;
	return 0;
}

static int load_pagemap(struct rst_tree *t, struct rst_task *task)
{
	char name[64];
	int r;

	r = map_pages_file(t, task);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "pagemap-%u.img", task->pe->pid);
	r = img_read_all(t->dirfd, name, IMG_PAGEMAP, (ProtobufCMessage ***)&task->pm, &task->n_pm);
	if (r < 0)
		return r;
	if (!task->n_pm)
		return pr_err("'%s': holds no header", name), -EBADMSG;
	/* Record 0 is the head; the entries follow it. */
	protobuf_c_message_free_unpacked(&task->pm[0]->base, NULL);
	memmove(task->pm, task->pm + 1, --task->n_pm * sizeof(*task->pm));
	for (size_t i = 0; i < task->n_pm && r == 0; i++)
		r = check_pagemap_entry(task, name, task->pm[i]);
	return r;
}

struct rst_pipe *rst_find_pipe(const struct rst_tree *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_pipes; i++)
		if (t->pipes[i].pe->id == id)
			return &t->pipes[i];
	return NULL;
}

static int load_pipes(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r = img_read_all(t->dirfd, "pipes.img", IMG_PIPES, &v, &n);

	if (r < 0)
		return r;
	t->pipes = calloc(n ?: 1, sizeof(*t->pipes));
	if (!t->pipes) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	/* From here rst_free() owns every record, checked or not. */
	for (size_t i = 0; i < n; i++)
		t->pipes[t->n_pipes++] =
			(struct rst_pipe){.pe = (PipeEntry *)v[i], .creator = -1, .fd_rd = -1, .fd_wr = -1};
	for (size_t i = 0; i < n; i++) {
		const PipeEntry *pe = t->pipes[i].pe;

		if (rst_find_pipe(t, pe->id) != &t->pipes[i] || pe->size < 4096 || pe->size > (1u << 30) ||
		    (pe->has_data && pe->data.len > pe->size))
			return pr_err("'pipes.img': bad record for pipe %" PRIu64, pe->id), -EBADMSG;
	}
	return 0;
}

struct rst_unix *rst_find_unix(const struct rst_tree *t, uint64_t id, int *ret_end)
{
	for (size_t i = 0; i < t->n_unix; i++) {
		const UnixPairEntry *ue = t->unix_pairs[i].ue;

		if (ue->id_a != id && ue->id_b != id)
			continue;
		if (ret_end)
			*ret_end = ue->id_a == id ? 0 : 1;
		return &t->unix_pairs[i];
	}
	return NULL;
}

static bool unix_entry_ok(const struct rst_tree *t, const struct rst_unix *u)
{
	const UnixPairEntry *ue = u->ue;

	if (ue->id_a == ue->id_b || rst_find_unix(t, ue->id_a, NULL) != u ||
	    rst_find_unix(t, ue->id_b, NULL) != u)
		return false;
	if (ue->type != SOCK_STREAM && ue->type != SOCK_DGRAM && ue->type != SOCK_SEQPACKET)
		return false;
	/* Only a stream keeps queued bytes; at most what a receive buffer can hold. */
	if ((ue->has_data_a || ue->has_data_b) && ue->type != SOCK_STREAM)
		return false;
	return (!ue->has_data_a || ue->data_a.len <= (1u << 30)) &&
	       (!ue->has_data_b || ue->data_b.len <= (1u << 30));
}

static int load_unix(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r = img_read_all(t->dirfd, "unixsk.img", IMG_UNIX, &v, &n);

	if (r < 0)
		return r;
	t->unix_pairs = calloc(n ?: 1, sizeof(*t->unix_pairs));
	if (!t->unix_pairs) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	/* From here rst_free() owns every record, checked or not. */
	for (size_t i = 0; i < n; i++)
		t->unix_pairs[t->n_unix++] =
			(struct rst_unix){.ue = (UnixPairEntry *)v[i], .creator = -1, .fd = {-1, -1}};
	for (size_t i = 0; i < n; i++)
		if (!unix_entry_ok(t, &t->unix_pairs[i]))
			return pr_err("'unixsk.img': bad record for sockets %" PRIu64 " and %" PRIu64,
				      t->unix_pairs[i].ue->id_a, t->unix_pairs[i].ue->id_b),
			       -EBADMSG;
	return 0;
}

static bool is_ancestor(const struct rst_tree *t, int a, int b)
{
	for (; b >= 0; b = t->tasks[b].parent)
		if (a == b)
			return true;
	return false;
}

static struct rst_file *find_file(const struct rst_tree *t, uint32_t id)
{
	for (size_t i = 0; i < t->n_files; i++)
		if (t->files[i].id == id)
			return &t->files[i];
	return NULL;
}

struct rst_file *rst_shared_file(const struct rst_tree *t, const FdEntry *e)
{
	struct rst_file *f = e->has_file_id ? find_file(t, e->file_id) : NULL;

	return f && f->holders > 1 ? f : NULL;
}

int rst_lca(const struct rst_tree *t, int a, int b)
{
	if (a < 0)
		return b;
	while (!is_ancestor(t, a, b))
		a = t->tasks[a].parent;
	return a;
}

int rst_note_file(struct rst_tree *t, int task, const FdEntry *e)
{
	struct rst_file *f = find_file(t, e->file_id), *v;

	if (f) {
		if (f->fe->kind != e->kind || strcmp(f->fe->path, e->path))
			return pr_err("fdinfo: file %u is '%s' and '%s'", e->file_id, f->fe->path, e->path),
			       -EBADMSG;
		f->holders++;
		f->creator = rst_lca(t, f->creator, task);
		return 0;
	}
	v = realloc(t->files, (t->n_files + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->files = v;
	t->files[t->n_files++] =
		(struct rst_file){.fe = e, .id = e->file_id, .creator = task, .holders = 1, .fd = -1};
	return 0;
}

/* Who creates each pipe, socketpair and shared file, and the fd numbers free in every task. */
static int place_pipes(struct rst_tree *t)
{
	int top = 3, r;

	for (size_t i = 0; i < t->n_tasks; i++)
		for (size_t k = 0; k < t->tasks[i].n_fds; k++) {
			const FdEntry *e = t->tasks[i].fds[k];
			struct rst_unix *u;
			struct rst_pipe *p;

			top = MAX(top, (int)e->fd + 1);
			if (e->has_file_id && e->kind != FD_KIND__FD_PIPE &&
			    e->kind != FD_KIND__FD_EXTERNAL) {
				r = rst_note_file(t, (int)i, e);

				if (r < 0)
					return r;
			}
			if (e->kind == FD_KIND__FD_PIPE) {
				p = rst_find_pipe(t, e->pipe_id);
				p->creator = rst_lca(t, p->creator, (int)i);
			} else if (e->kind == FD_KIND__FD_UNIX) {
				u = rst_find_unix(t, e->sk_id, NULL);
				if (u)
					u->creator = rst_lca(t, u->creator, (int)i);
				else
					t->unixsk_creator = rst_lca(t, t->unixsk_creator, (int)i);
			} else if (e->kind == FD_KIND__FD_INET) {
				t->inetsk_creator = rst_lca(t, t->inetsk_creator, (int)i);
			}
		}
	t->pipe_fd_base = top;
	r = rst_scm_place(t); /* files in flight in unix sockets */
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_pipes; i++)
		if (t->pipes[i].creator < 0)
			return pr_err("'pipes.img': pipe %" PRIu64 " is held by no task", t->pipes[i].pe->id),
			       -EBADMSG;
	for (size_t i = 0; i < t->n_unix; i++)
		if (t->unix_pairs[i].creator < 0)
			return pr_err("'unixsk.img': socket %" PRIu64 " is held by no task",
				      t->unix_pairs[i].ue->id_a),
			       -EBADMSG;
	return 0;
}

int rst_load(struct rst_tree *t, int dirfd)
{
	int r;

	t->dirfd = dirfd;
	r = load_inventory(t);
	if (r < 0)
		return r;
	r = load_pstree(t);
	if (r < 0)
		return r;
	r = check_pstree(t);
	if (r < 0)
		return r;
	r = check_sessions(t);
	if (r < 0)
		return r;
	r = load_pipes(t);
	if (r < 0)
		return r;
	r = load_unix(t);
	if (r == 0)
		r = rst_unixsk_load(t);
	if (r == 0)
		r = rst_inetsk_load(t);
	if (r == 0)
		r = rst_anonfd_load(t);
	if (r < 0)
		return r;
	r = savedfiles_load(dirfd, &t->saved, &t->n_saved);
	if (r < 0)
		return r;
	r = check_saved_owner(t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_tasks; i++) {
		struct rst_task *task = &t->tasks[i];

		if (task->pe->zombie)
			continue; /* nothing but its pstree record */
		r = load_core(t, task);
		if (r == 0)
			r = load_mm(t, task);
		if (r == 0)
			r = load_fds(t, task);
		if (r == 0)
			r = load_pagemap(t, task);
		if (r < 0)
			return r;
		task->host_tids = calloc(task->pe->n_threads, sizeof(pid_t));
		if (!task->host_tids)
			return -ENOMEM;
	}
	r = rst_scm_load(t);
	if (r == 0)
		r = rst_shmem_load(t);
	if (r < 0)
		return r;
	r = procattr_validate(t);
	if (r == 0)
		r = seccomp_validate(t);
	if (r == 0)
		r = rst_locks_validate(t);
	if (r < 0)
		return r;
	r = place_pipes(t);
	return r < 0 ? r : rst_anonfd_place(t);
}

void rst_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		struct rst_task *task = &t->tasks[i];

		if (task->core)
			protobuf_c_message_free_unpacked(&task->core->base, NULL);
		if (task->mm)
			protobuf_c_message_free_unpacked(&task->mm->base, NULL);
		for (size_t k = 0; k < task->n_fds; k++)
			protobuf_c_message_free_unpacked(&task->fds[k]->base, NULL);
		for (size_t k = 0; k < task->n_pm; k++)
			protobuf_c_message_free_unpacked(&task->pm[k]->base, NULL);
		free(task->fds);
		free(task->pm);
		free(task->host_tids);
		if (task->pages)
			munmap((void *)task->pages, task->pages_len);
	}
	for (size_t i = 0; i < t->n_pstree; i++)
		protobuf_c_message_free_unpacked(&t->pstree[i]->base, NULL);
	for (size_t i = 0; i < t->n_pipes; i++)
		protobuf_c_message_free_unpacked(&t->pipes[i].pe->base, NULL);
	free(t->pipes);
	for (size_t i = 0; i < t->n_unix; i++)
		protobuf_c_message_free_unpacked(&t->unix_pairs[i].ue->base, NULL);
	free(t->unix_pairs);
	rst_unixsk_free(t);
	rst_scm_free(t);
	rst_inetsk_free(t);
	free(t->files);
	rst_shmem_free(t);
	rst_anonfd_free(t);
	savedfiles_free(t->saved, t->n_saved);
	free(t->pstree);
	free(t->tasks);
	if (t->inv)
		protobuf_c_message_free_unpacked(&t->inv->base, NULL);
	memset(t, 0, sizeof(*t));
}
