/* SPDX-License-Identifier: MIT */
/*
 * Dump side of shared memory objects and deleted files (see shmem.h). The content is read
 * from a file of the object itself, never through a task's mapping, so that nothing is
 * faulted in: /proc/PID/map_files/START-END for a mapping (needs CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN, proc(5)), /proc/PID/fd/N for an fd; only the ranges lseek(2) SEEK_DATA
 * reports are read (on tmpfs that includes pages in swap). A System V segment has no
 * read(2): it is attached read-only here, and its pages that are all zeroes are skipped.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include "image.h"
#include "log.h"
#include "shmem.h"

#define CHUNK	(1u << 20)
#define PAGE_SZ 4096u

struct shmem_obj {
	ShmemEntry e;
	uint64_t dev, ino; /* identity, with e.kind (a SysV segment: dev 0, ino its shmid) */
};

bool shmem_is_sysv_path(const char *path)
{
	/* "/SYSV%08x", the key in hex (ipc/shm.c newseg()) */
	return path && strlen(path) == 13 && !strncmp(path, "/SYSV", 5) &&
	       strspn(path + 5, "0123456789abcdef") == 8;
}

static struct shmem_obj *obj_find(const struct shmem_set *s, ShmemKind kind, uint64_t dev, uint64_t ino)
{
	bool sysv = kind == SHMEM_KIND__SHM_SYSV;

	for (size_t i = 0; i < s->n; i++)
		if ((s->v[i].e.kind == SHMEM_KIND__SHM_SYSV) == sysv && s->v[i].dev == dev &&
		    s->v[i].ino == ino)
			return &s->v[i];
	return NULL;
}

static struct shmem_obj *obj_add(struct shmem_set *s, ShmemKind kind, uint64_t dev, uint64_t ino)
{
	struct shmem_obj *o;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct shmem_obj *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	o = &s->v[s->n++];
	memset(o, 0, sizeof(*o));
	shmem_entry__init(&o->e);
	o->e.id = s->n;
	o->e.kind = kind;
	o->dev = dev;
	o->ino = ino;
	o->e.has_dev = o->e.has_ino = true;
	o->e.dev = dev;
	o->e.ino = ino;
	return o;
}

static int put_chunk(struct shmem_set *s, struct shmem_obj *o, uint64_t off, const void *buf, size_t len)
{
	ShmemChunk c = SHMEM_CHUNK__INIT;
	int r;

	if (!s->data) {
		r = img_create(s->dirfd, "shmdata.img", IMG_SHMDATA, &s->data);
		if (r < 0)
			return r;
	}
	c.id = o->e.id;
	c.offset = off;
	c.data.data = (uint8_t *)buf;
	c.data.len = len;
	r = img_write_msg(s->data, &c.base);
	if (r < 0)
		return r;
	o->e.has_data_bytes = true;
	o->e.data_bytes += len;
	s->bytes += len;
	return 0;
}

/* Copy [start, end) of fd, in chunks. */
static int dump_range(struct shmem_set *s, struct shmem_obj *o, int fd, uint8_t *buf, uint64_t start,
		      uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		size_t len = (size_t)MIN(end - a, (uint64_t)CHUNK);
		int r = pread_all(fd, buf, len, (off_t)a);

		if (r < 0)
			return pr_err_errno(r, "reading shared object '%s'", o->e.name ?: "anonymous");
		r = put_chunk(s, o, a, buf, len);
		if (r < 0)
			return r;
		a += len;
	}
	return 0;
}

/* The data ranges of fd up to size: SEEK_DATA/SEEK_HOLE (lseek(2)), all of it without them. */
static int dump_fd_content(struct shmem_set *s, struct shmem_obj *o, int fd)
{
	_cleanup_free_ uint8_t *buf = malloc(CHUNK);
	uint64_t size = o->e.size, off = 0;

	if (!buf)
		return -ENOMEM;
	while (off < size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;
		int r;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0 && errno != EINVAL)
			return pr_perror("SEEK_DATA in shared object '%s'", o->e.name ?: "anonymous");
		if (d < 0)
			return dump_range(s, o, fd, buf, off, size);
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return pr_perror("SEEK_HOLE in shared object '%s'", o->e.name ?: "anonymous");
		r = dump_range(s, o, fd, buf, (uint64_t)d, MIN((uint64_t)h, size));
		if (r < 0)
			return r;
		off = (uint64_t)h;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/* A segment is read through an attachment of ours; pages of zeroes are holes. */
static int dump_sysv_content(struct shmem_set *s, struct shmem_obj *o)
{
	uint8_t *p = shmat((int)o->e.sysv_id, NULL, SHM_RDONLY);
	uint64_t run_start = 0;
	size_t run = 0;
	int r = 0;

	if (p == (void *)-1)
		return pr_perror("attaching System V segment %u to read it", o->e.sysv_id);
	for (uint64_t a = 0; a < o->e.size && r == 0; a += PAGE_SZ) {
		size_t len = (size_t)MIN(o->e.size - a, (uint64_t)PAGE_SZ);

		if (all_zero(p + a, len)) {
			if (run)
				r = put_chunk(s, o, run_start, p + run_start, run);
			run = 0;
			continue;
		}
		if (!run)
			run_start = a;
		run += len;
		if (run >= CHUNK) {
			r = put_chunk(s, o, run_start, p + run_start, run);
			run = 0;
		}
	}
	if (r == 0 && run)
		r = put_chunk(s, o, run_start, p + run_start, run);
	shmdt(p);
	return r;
}

static int note_sysv(struct shmem_set *s, pid_t pid, const struct proc_vma *v, struct shmem_obj **ret)
{
	struct shmid_ds ds;
	struct shmem_obj *o = obj_find(s, SHMEM_KIND__SHM_SYSV, 0, v->ino);

	if (o) {
		*ret = o;
		return 0;
	}
	if (v->ino > INT32_MAX || shmctl((int)v->ino, IPC_STAT, &ds) < 0)
		return pr_perror("pid %d: System V segment %" PRIu64 " mapped at %#" PRIx64, pid, v->ino,
				 v->start);
	o = obj_add(s, SHMEM_KIND__SHM_SYSV, 0, v->ino);
	if (!o)
		return -ENOMEM;
	o->e.size = ds.shm_segsz;
	o->e.has_mode = o->e.has_uid = o->e.has_gid = true;
	o->e.mode = ds.shm_perm.mode & 0777;
	o->e.uid = ds.shm_perm.uid;
	o->e.gid = ds.shm_perm.gid;
	o->e.has_sysv_key = o->e.has_sysv_id = o->e.has_sysv_removed = true;
	o->e.sysv_key = ds.shm_perm.__key;
	o->e.sysv_id = (uint32_t)v->ino;
	o->e.sysv_removed = !!(ds.shm_perm.mode & SHM_DEST);
	*ret = o;
	return dump_sysv_content(s, o);
}

/* name: the path without " (deleted)", as proc_vma and fd_entry give it. */
static int note_file(struct shmem_set *s, const char *what, const char *procpath, const char *name,
		     ShmemKind kind, struct shmem_obj **ret)
{
	_cleanup_close_ int fd = open(procpath, O_RDONLY | O_CLOEXEC);
	struct shmem_obj *o;
	struct stat st;
	int seals;

	if (fd < 0 && (errno == EPERM || errno == EACCES))
		return pr_perror("%s: opening '%s' needs CAP_CHECKPOINT_RESTORE", what, procpath);
	if (fd < 0 || fstat(fd, &st) < 0)
		return pr_perror("%s: '%s'", what, procpath);
	o = obj_find(s, kind, st.st_dev, st.st_ino);
	if (o) {
		*ret = o;
		return 0;
	}
	o = obj_add(s, kind, st.st_dev, st.st_ino);
	if (!o)
		return -ENOMEM;
	o->e.size = (uint64_t)st.st_size;
	o->e.has_mode = o->e.has_uid = o->e.has_gid = true;
	o->e.mode = st.st_mode & 07777;
	o->e.uid = st.st_uid;
	o->e.gid = st.st_gid;
	if (kind != SHMEM_KIND__SHM_ANON) {
		o->e.name = strdup(kind == SHMEM_KIND__SHM_MEMFD ? name + 7 : name);
		if (!o->e.name)
			return -ENOMEM;
	}
	if (kind == SHMEM_KIND__SHM_MEMFD && (seals = fcntl(fd, F_GET_SEALS)) >= 0) {
		o->e.has_seals = true;
		o->e.seals = (uint32_t)seals;
	}
	*ret = o;
	return dump_fd_content(s, o, fd);
}

static bool is_memfd(const char *path)
{
	return !strncmp(path, "/memfd:", 7);
}

static int note_vma(struct shmem_set *s, pid_t pid, const struct proc_vma *pv, VmaEntry *e)
{
	struct shmem_obj *o = NULL;
	char what[96], procpath[96];
	ShmemKind kind;
	int r;

	if (e->kind == VMA_KIND__VMA_SYSV_SHM) {
		r = note_sysv(s, pid, pv, &o);
	} else {
		if (e->kind == VMA_KIND__VMA_ANON_SHARED)
			kind = SHMEM_KIND__SHM_ANON;
		else if ((e->kind == VMA_KIND__VMA_FILE_SHARED || e->kind == VMA_KIND__VMA_FILE_PRIVATE) &&
			 pv->deleted)
			kind = is_memfd(pv->path) ? SHMEM_KIND__SHM_MEMFD : SHMEM_KIND__SHM_GHOST;
		else
			return 0;
		snprintf(what, sizeof(what), "pid %d: mapping %#" PRIx64 "-%#" PRIx64, pid, pv->start,
			 pv->end);
		snprintf(procpath, sizeof(procpath), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
			 pv->start, pv->end);
		r = note_file(s, what, procpath, pv->path ?: "", kind, &o);
	}
	if (r < 0)
		return r;
	e->has_shmem_id = true;
	e->shmem_id = o->e.id;
	return 0;
}

int shmem_note_vmas(struct shmem_set *s, pid_t pid, const struct proc_vma *pv, size_t n, MmEntry *mm)
{
	if (n != mm->n_vmas)
		return pr_err("pid %d: mappings changed while being read", pid), -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		int r = note_vma(s, pid, &pv[i], mm->vmas[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int note_fd(struct shmem_set *s, const struct task *task, FdEntry *e)
{
	static const char sfx[] = " (deleted)";
	char what[64], procpath[64];
	struct shmem_obj *o = NULL;
	struct stat st;
	size_t len;
	int r;

	if (e->kind != FD_KIND__FD_REG || !e->path)
		return 0;
	snprintf(procpath, sizeof(procpath), "/proc/%d/fd/%u", task->pid, e->fd);
	if (stat(procpath, &st) < 0)
		return pr_perror("pid %d: fd %u: stat", task->pid, e->fd);
	if (st.st_nlink)
		return 0;
	/* Unlinked: the kernel's name for it ends in " (deleted)" (d_path(3)); drop that. */
	len = strlen(e->path);
	if (len > sizeof(sfx) - 1 && !strcmp(e->path + len - (sizeof(sfx) - 1), sfx))
		e->path[len - (sizeof(sfx) - 1)] = '\0';
	snprintf(what, sizeof(what), "pid %d: fd %u", task->pid, e->fd);
	r = note_file(s, what, procpath, e->path,
		      is_memfd(e->path) ? SHMEM_KIND__SHM_MEMFD : SHMEM_KIND__SHM_GHOST, &o);
	if (r < 0)
		return r;
	e->has_shmem_id = true;
	e->shmem_id = o->e.id;
	return 0;
}

int shmem_note_fds(struct shmem_set *s, const struct pstree *tree, const struct fd_list *fds)
{
	for (size_t i = 0; i < tree->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++) {
			int r = note_fd(s, tree->tasks[i], fds[i].v[k]);

			if (r < 0)
				return r;
		}
	return 0;
}

int shmem_write(struct shmem_set *s)
{
	struct img *img;
	int r = 0;

	if (s->data) {
		r = img_close(s->data);
		s->data = NULL;
		if (r < 0)
			return r;
	}
	r = img_create(s->dirfd, "shmem.img", IMG_SHMEM, &img);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n && r >= 0; i++)
		r = img_write_msg(img, &s->v[i].e.base);
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

void shmem_set_free(struct shmem_set *s)
{
	if (s->data)
		img_discard(s->data);
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].e.name);
	free(s->v);
	memset(s, 0, sizeof(*s));
	s->dirfd = -EBADF;
}
