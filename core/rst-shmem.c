/* SPDX-License-Identifier: MIT */
/*
 * Restore of shared memory objects and deleted files (shmem.img, shmdata.img). The restorer
 * makes each object once, before the tree: anonymous shared memory is a shared anonymous
 * mapping of ours reopened through /proc/self/map_files (so that it is "/dev/zero (deleted)"
 * again, as for CRIU), a memfd is memfd_create(2)d with its name, a deleted file becomes an
 * O_TMPFILE in the directory it was in (a memfd when that directory is gone), a System V
 * segment is shmget(2) again, under the same shmid when /proc/sys/kernel/shm_next_id lets
 * us choose it. The pages go in, then the seals (F_SEAL_FUTURE_WRITE and F_SEAL_SEAL only
 * once every task has mapped it: they forbid the writable shared mappings made before).
 *
 * The object fds sit above every fd number of the tree, so every task inherits them at the
 * same number: fds on deleted files are opened again from them (/proc/self/fd/N, a new open
 * file with the dumped flags and offset), mappings are mmap(2)ed from them by injection, and
 * the injection closes them once the task's mappings are in place.
 */
#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include "image.h"
#include "log.h"
#include "rst.h"
#include "syscalls.h"

#define PAGE_SZ	 4096ull
#define MAX_SIZE (1ull << 46)

struct rst_shmem {
	ShmemEntry *se;
	int fd;		   /* anon, memfd, ghost: ours, at the same number in every task */
	int sysv_id;	   /* a segment we made, or -1 */
	uint8_t *sysv_map; /* our attachment while filling it */
	uint64_t filled;   /* bytes of shmdata.img put in */
	bool sysv_kept;	   /* a keyed segment that was still there: never removed by us */
};

static struct rst_shmem *find(const struct rst_tree *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_shmem; i++)
		if (t->shmem[i].se->id == id)
			return &t->shmem[i];
	return NULL;
}

static int check_entry(const struct rst_tree *t, const struct rst_shmem *o)
{
	const ShmemEntry *se = o->se;

	if (!se->id || find(t, se->id) != o || se->size > MAX_SIZE)
		return -EBADMSG;
	switch (se->kind) {
	case SHMEM_KIND__SHM_ANON:
		return se->size ? 0 : -EBADMSG;
	case SHMEM_KIND__SHM_MEMFD:
		return se->name && strlen(se->name) <= 249 ? 0 : -EBADMSG;
	case SHMEM_KIND__SHM_GHOST:
		return se->name && se->name[0] == '/' ? 0 : -EBADMSG;
	case SHMEM_KIND__SHM_SYSV:
		return se->has_sysv_id && se->has_sysv_key && se->sysv_id <= INT32_MAX && se->size ? 0
												   : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

/* Which object kinds a mapping of this kind may come from. */
static bool vma_kind_fits(VmaKind vk, ShmemKind sk)
{
	switch (vk) {
	case VMA_KIND__VMA_ANON_SHARED:
		return sk == SHMEM_KIND__SHM_ANON;
	case VMA_KIND__VMA_SYSV_SHM:
		return sk == SHMEM_KIND__SHM_SYSV;
	case VMA_KIND__VMA_FILE_SHARED:
	case VMA_KIND__VMA_FILE_PRIVATE:
		return sk == SHMEM_KIND__SHM_MEMFD || sk == SHMEM_KIND__SHM_GHOST;
	default:
		return false;
	}
}

static int check_vma_refs(const struct rst_tree *t, const struct rst_task *task)
{
	const VmaEntry *prev = NULL;

	for (size_t i = 0; i < task->mm->n_vmas; prev = task->mm->vmas[i++]) {
		const VmaEntry *v = task->mm->vmas[i];
		const struct rst_shmem *o = v->has_shmem_id ? find(t, v->shmem_id) : NULL;

		if (!v->has_shmem_id &&
		    (v->kind == VMA_KIND__VMA_ANON_SHARED || v->kind == VMA_KIND__VMA_SYSV_SHM))
			return pr_err("'mm-%u.img': shared memory at %#" PRIx64 " without its object",
				      task->pe->pid, v->start),
			       -EBADMSG;
		if (!v->has_shmem_id)
			continue;
		if (!o || !vma_kind_fits(v->kind, o->se->kind))
			return pr_err("'mm-%u.img': mapping %#" PRIx64 ": object %" PRIu64
				      " missing from 'shmem.img'",
				      task->pe->pid, v->start, v->shmem_id),
			       -EBADMSG;
		/* A segment is attached whole: a piece past its start continues the one before. */
		if (v->kind == VMA_KIND__VMA_SYSV_SHM && v->pgoff &&
		    (!prev || !prev->has_shmem_id || prev->shmem_id != v->shmem_id || prev->end != v->start ||
		     prev->pgoff + (prev->end - prev->start) != v->pgoff))
			return pr_err("pid %u: System V segment %u is attached in part at %#" PRIx64
				      ", which is not supported yet",
				      task->pe->pid, o->se->sysv_id, v->start),
			       -ENOTSUP;
	}
	return 0;
}

static int check_refs(const struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct rst_task *task = &t->tasks[i];
		int r;

		if (task->pe->zombie)
			continue;
		r = check_vma_refs(t, task);
		if (r < 0)
			return r;
		for (size_t k = 0; k < task->n_fds; k++) {
			const FdEntry *e = task->fds[k];
			const struct rst_shmem *o = e->has_shmem_id ? find(t, e->shmem_id) : NULL;

			if (e->has_shmem_id &&
			    (e->kind != FD_KIND__FD_REG || !o ||
			     (o->se->kind != SHMEM_KIND__SHM_MEMFD && o->se->kind != SHMEM_KIND__SHM_GHOST)))
				return pr_err("'fdinfo-%u.img': fd %u: object %" PRIu64
					      " missing from 'shmem.img'",
					      task->pe->pid, e->fd, e->shmem_id),
				       -EBADMSG;
		}
	}
	return 0;
}

int rst_shmem_load(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r;

	if (faccessat(t->dirfd, "shmem.img", F_OK, 0) == 0) {
		r = img_read_all(t->dirfd, "shmem.img", IMG_SHMEM, &v, &n);
		if (r < 0)
			return r;
	} else if (errno != ENOENT) {
		return pr_perror("'shmem.img'");
	}
	t->shmem = calloc(n ?: 1, sizeof(*t->shmem));
	if (!t->shmem) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	/* From here rst_shmem_free() owns every record, checked or not. */
	for (size_t i = 0; i < n; i++)
		t->shmem[t->n_shmem++] =
			(struct rst_shmem){.se = (ShmemEntry *)v[i], .fd = -1, .sysv_id = -1};
	for (size_t i = 0; i < n; i++)
		if (check_entry(t, &t->shmem[i]) < 0)
			return pr_err("'shmem.img': bad record %zu", i + 1), -EBADMSG;
	return check_refs(t);
}

static int create_anon(struct rst_shmem *o)
{
	uint64_t len = ALIGN_UP(o->se->size, PAGE_SZ);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[96];

	if (p == MAP_FAILED)
		return pr_perror("shared anonymous memory of %" PRIu64 " bytes", o->se->size);
	snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, (uintptr_t)p,
		 (uintptr_t)p + len);
	o->fd = open(path, O_RDWR | O_CLOEXEC);
	munmap(p, len);
	if (o->fd >= 0)
		return 0;
	/* map_files needs CAP_CHECKPOINT_RESTORE: a memfd holds the same, under another name. */
	pr_debug("'%s': %s; shared anonymous memory made from a memfd", path, strerror(errno));
	o->fd = memfd_create("ckpt-shared-anon", MFD_CLOEXEC);
	if (o->fd < 0 || ftruncate(o->fd, (off_t)o->se->size) < 0)
		return pr_perror("shared anonymous memory of %" PRIu64 " bytes", o->se->size);
	return 0;
}

static int create_file(struct rst_shmem *o)
{
	const ShmemEntry *se = o->se;
	mode_t mode = se->has_mode ? (mode_t)(se->mode & 07777) : 0600;

	if (se->kind == SHMEM_KIND__SHM_MEMFD) {
		o->fd = memfd_create(se->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	} else {
		_cleanup_free_ char *dir = strdup(se->name), *base = strdup(se->name);

		if (!dir || !base)
			return -ENOMEM;
		o->fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
		if (o->fd < 0)
			o->fd = memfd_create(basename(base), MFD_CLOEXEC);
	}
	if (o->fd < 0 || ftruncate(o->fd, (off_t)se->size) < 0)
		return pr_perror("%s '%s'", se->kind == SHMEM_KIND__SHM_MEMFD ? "memfd" : "deleted file",
				 se->name);
	if (se->has_mode && fchmod(o->fd, mode) < 0)
		return pr_perror("'%s': fchmod", se->name);
	if (geteuid() == 0 && se->has_uid && se->has_gid && fchown(o->fd, se->uid, se->gid) < 0)
		return pr_perror("'%s': fchown", se->name);
	return 0;
}

/* Ask for the shmid the tasks know (ipc/util.c ipc_idr_alloc(); needs CAP_SYS_ADMIN). */
static void sysv_next_id(long id)
{
	_cleanup_close_ int fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY | O_CLOEXEC);
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%ld", id);

	if (fd >= 0 && write(fd, buf, (size_t)n) < 0)
		pr_debug("shm_next_id %ld: %s", id, strerror(errno));
}

static int create_sysv(struct rst_shmem *o)
{
	const ShmemEntry *se = o->se;
	key_t key = se->sysv_removed ? IPC_PRIVATE : (key_t)se->sysv_key;
	struct shmid_ds ds;

	sysv_next_id(se->sysv_id);
	o->sysv_id = shmget(key, se->size, IPC_CREAT | IPC_EXCL | (int)(se->mode & 0777));
	sysv_next_id(-1);
	if (o->sysv_id < 0 && errno == EEXIST) {
		/* A keyed segment outlives its tasks: the one still there gets the dumped content. */
		o->sysv_id = shmget(key, se->size, 0);
		o->sysv_kept = o->sysv_id >= 0;
	}
	if (o->sysv_id < 0)
		return pr_perror("System V segment %u (key %#x): shmget", se->sysv_id, (unsigned int)key);
	if ((uint32_t)o->sysv_id != se->sysv_id)
		pr_warn("System V segment %u is %d after the restore: a task that kept its id will not find "
			"it",
			se->sysv_id, o->sysv_id);
	if (shmctl(o->sysv_id, IPC_STAT, &ds) < 0)
		return pr_perror("System V segment %d: IPC_STAT", o->sysv_id);
	ds.shm_perm.uid = se->uid;
	ds.shm_perm.gid = se->gid;
	ds.shm_perm.mode = se->mode & 0777;
	if (shmctl(o->sysv_id, IPC_SET, &ds) < 0)
		return pr_perror("System V segment %d: IPC_SET", o->sysv_id);
	o->sysv_map = shmat(o->sysv_id, NULL, 0);
	if (o->sysv_map == (void *)-1) {
		o->sysv_map = NULL;
		return pr_perror("System V segment %d: shmat", o->sysv_id);
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int put_chunk(const struct rst_tree *t, const ShmemChunk *c)
{
	struct rst_shmem *o = find(t, c->id);
	int r;

	if (!o || c->offset > o->se->size || c->data.len > o->se->size - c->offset)
		return pr_err("'shmdata.img': chunk of object %" PRIu64 " at %" PRIu64 " is out of bounds",
			      c->id, c->offset),
		       -EBADMSG;
	o->filled += c->data.len;
	if (o->sysv_map) {
		memcpy(o->sysv_map + c->offset, c->data.data, c->data.len);
		return 0;
	}
	if (o->fd < 0)
		return pr_err("'shmdata.img': data for object %" PRIu64 ", which holds none", c->id),
		       -EBADMSG;
	r = pwrite_all(o->fd, c->data.data, c->data.len, (off_t)c->offset);
	if (r < 0)
		return pr_err_errno(r, "filling shared object %" PRIu64, c->id);
	return 0;
}

static int fill_all(struct rst_tree *t)
{
	struct img *img = NULL;
	ProtobufCMessage *m;
	int r;

	if (faccessat(t->dirfd, "shmdata.img", F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = img_open(t->dirfd, "shmdata.img", IMG_SHMDATA, &img);
	if (r < 0)
		return r;
	while ((r = img_read_msg(img, &m)) == 1) {
		r = put_chunk(t, (const ShmemChunk *)m);
		protobuf_c_message_free_unpacked(m, NULL);
		if (r < 0)
			break;
	}
	img_close(img);
	for (size_t i = 0; i < t->n_shmem && r == 0; i++)
		if (t->shmem[i].filled != t->shmem[i].se->data_bytes)
			return pr_err("'shmdata.img': %" PRIu64 " bytes of object %" PRIu64 ", want %" PRIu64,
				      t->shmem[i].filled, t->shmem[i].se->id, t->shmem[i].se->data_bytes),
			       -EBADMSG;
	return r;
}

/* Seals that must wait for every task's mappings: see the top of this file. */
static uint32_t late_seals(uint32_t seals)
{
	return (seals & F_SEAL_FUTURE_WRITE) ? seals & (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) : 0;
}

static int add_seals(const struct rst_shmem *o, uint32_t seals)
{
	if (seals && fcntl(o->fd, F_ADD_SEALS, (int)seals) < 0)
		return pr_perror("memfd '%s': sealing it (%#x)", o->se->name, seals);
	return 0;
}

int rst_shmem_create(struct rst_tree *t)
{
	int r = 0;

	for (size_t i = 0; i < t->n_shmem && r == 0; i++) {
		struct rst_shmem *o = &t->shmem[i];

		if (o->se->kind == SHMEM_KIND__SHM_ANON)
			r = create_anon(o);
		else if (o->se->kind == SHMEM_KIND__SHM_SYSV)
			r = create_sysv(o);
		else
			r = create_file(o);
	}
	if (r == 0)
		r = fill_all(t);
	for (size_t i = 0; i < t->n_shmem && r == 0; i++) {
		struct rst_shmem *o = &t->shmem[i];
		int fd;

		if (o->sysv_map) {
			shmdt(o->sysv_map);
			o->sysv_map = NULL;
		}
		if (o->fd < 0)
			continue;
		if (o->se->has_seals)
			r = add_seals(o, o->se->seals & ~late_seals(o->se->seals));
		/* Above every fd of the tree: the tasks inherit it there. */
		fd = fcntl(o->fd, F_DUPFD_CLOEXEC, t->pipe_fd_base);
		if (fd < 0)
			return pr_perror("moving shared object %" PRIu64 " above fd %d", o->se->id,
					 t->pipe_fd_base);
		close(o->fd);
		o->fd = fd;
	}
	return r;
}

size_t rst_shmem_fds(const struct rst_tree *t, int *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_shmem; i++)
		if (t->shmem[i].fd >= 0)
			keep[n++] = t->shmem[i].fd;
	return n;
}

int rst_shmem_open_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	const struct rst_shmem *o = find(t, e->shmem_id);
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", o->fd);
	/* O_NOFOLLOW would refuse the /proc magic link itself (open(2), ELOOP). */
	fd = open(path, (int)(e->flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("pid %u: fd %u: opening deleted file '%s' again", pid, e->fd, e->path);
	if (e->has_pos && !(e->flags & O_PATH) && lseek(fd, (off_t)e->pos, SEEK_SET) < 0) {
		int r = pr_perror("pid %u: fd %u: seeking '%s' to %" PRIu64, pid, e->fd, e->path, e->pos);

		close(fd);
		return r;
	}
	return fd;
}

int rst_shmem_map(struct rst_inject *in, const struct rst_tree *t, const VmaEntry *v, uint32_t prot)
{
	const struct rst_shmem *o = find(t, v->shmem_id);
	uint32_t flags = v->flags & (MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN);
	uint64_t len = v->end - v->start;

	if (o->se->kind != SHMEM_KIND__SHM_SYSV)
		return rst_syscall_ok(in, "mmap of a shared object", __NR_mmap, v->start, len, prot,
				      flags | MAP_FIXED, (uint64_t)o->fd, v->pgoff, NULL);
	/* The pieces after the first were attached with it (rst_shmem_load checked that). */
	if (v->pgoff)
		return rst_syscall_ok(in, "mprotect of a System V segment", __NR_mprotect, v->start, len,
				      prot, 0, 0, 0, NULL);
	return rst_syscall_ok(in, "shmat", __NR_shmat, (uint64_t)o->sysv_id, v->start,
			      ((prot & PROT_WRITE) ? 0 : SHM_RDONLY) | ((prot & PROT_EXEC) ? SHM_EXEC : 0), 0,
			      0, 0, NULL);
}

int rst_shmem_close_in_task(struct rst_inject *in, const struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_shmem; i++) {
		int r;

		if (t->shmem[i].fd < 0)
			continue;
		r = rst_syscall_ok(in, "closing a shared object", __NR_close, (uint64_t)t->shmem[i].fd, 0, 0,
				   0, 0, 0, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int rst_shmem_finish(struct rst_tree *t, bool ok)
{
	int r = 0;

	for (size_t i = 0; i < t->n_shmem; i++) {
		struct rst_shmem *o = &t->shmem[i];

		if (o->sysv_map)
			shmdt(o->sysv_map);
		o->sysv_map = NULL;
		if (ok && o->fd >= 0 && o->se->has_seals && r == 0)
			r = add_seals(o, late_seals(o->se->seals));
		/* Removed at the dump, or made for a restore that failed: gone once detached. */
		if (o->sysv_id >= 0 && ((!ok && !o->sysv_kept) || o->se->sysv_removed) &&
		    shmctl(o->sysv_id, IPC_RMID, NULL) < 0 && r == 0)
			r = pr_perror("System V segment %d: IPC_RMID", o->sysv_id);
		o->sysv_id = -1;
		closep(&o->fd);
		o->fd = -1;
	}
	return r;
}

void rst_shmem_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_shmem; i++) {
		closep(&t->shmem[i].fd);
		protobuf_c_message_free_unpacked(&t->shmem[i].se->base, NULL);
	}
	free(t->shmem);
	t->shmem = NULL;
	t->n_shmem = 0;
}
