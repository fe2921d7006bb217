/* SPDX-License-Identifier: MIT */
/*
 * Files saved with the image. At the dump, while the tree is frozen, each regular file the
 * tree holds open under one of the save paths is read through /proc/PID/fd/N (the very file,
 * whatever its path now) and written to savedfiles.img in chunks. At restore, before the tree
 * is rebuilt, each is written back where it was, with its owner's rights only.
 */
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "image.h"
#include "log.h"
#include "savedfile.pb-c.h"
#include "savedfiles.h"
#include "util.h"

#define SAVED_CHUNK (1u << 20)

bool savedfiles_match(const char *const *save_paths, const char *path)
{
	if (!save_paths || !path || path[0] != '/')
		return false;
	for (const char *const *p = save_paths; *p; p++) {
		size_t l = strlen(*p);

		if (!l)
			continue;
		if ((*p)[l - 1] == '/' ? !strncmp(path, *p, l) : !strcmp(path, *p))
			return true;
	}
	return false;
}

/* A regular file under the save paths, not already saved through an earlier fd. */
static bool wanted(const char *const *save_paths, const struct fd_list *fds, size_t ti, size_t fi)
{
	const FdEntry *e = fds[ti].v[fi];

	if (e->kind != FD_KIND__FD_REG || !savedfiles_match(save_paths, e->path))
		return false;
	for (size_t t = 0; t <= ti; t++)
		for (size_t f = 0; f < (t == ti ? fi : fds[t].n); f++)
			if (fds[t].v[f]->kind == FD_KIND__FD_REG && !strcmp(fds[t].v[f]->path, e->path))
				return false;
	return true;
}

static int save_one(struct img *img, pid_t pid, const FdEntry *e, uint8_t *buf)
{
	SavedFileEntry se = SAVED_FILE_ENTRY__INIT;
	_cleanup_close_ int fd = -EBADF;
	char proc[64];
	struct stat st;
	int r;

	snprintf(proc, sizeof(proc), "/proc/%d/fd/%u", pid, e->fd);
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return pr_perror("pid %d: fd %u: reading '%s' to save it", pid, e->fd, e->path);
	se.path = e->path;
	se.size = (uint64_t)st.st_size;
	se.mode = st.st_mode & 07777;
	se.uid = st.st_uid;
	se.gid = st.st_gid;
	se.has_data = true;
	se.data.data = buf;
	do {
		size_t len = se.size - se.offset < SAVED_CHUNK ? se.size - se.offset : SAVED_CHUNK;

		r = pread_all(fd, buf, len, (off_t)se.offset);
		if (r < 0)
			return pr_err_errno(r, "pid %d: fd %u: reading '%s'", pid, e->fd, e->path);
		se.data.len = len;
		r = img_write_msg(img, &se.base);
		if (r < 0)
			return r;
		se.offset += len;
	} while (se.offset < se.size);
	pr_debug("saved '%s' (%" PRIu64 " bytes) with the image", e->path, se.size);
	return 0;
}

int savedfiles_dump(int dirfd, const char *const *save_paths, const struct pstree *tree,
		    const struct fd_list *fds)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct img *img = NULL;
	int r = 0;

	if (!save_paths || !save_paths[0])
		return 0;
	buf = malloc(SAVED_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (size_t t = 0; t < tree->nr_tasks && r == 0; t++)
		for (size_t f = 0; f < fds[t].n && r == 0; f++) {
			if (!wanted(save_paths, fds, t, f))
				continue;
			if (!img)
				r = img_create(dirfd, "savedfiles.img", IMG_SAVED, &img);
			if (r == 0)
				r = save_one(img, tree->tasks[t]->pid, fds[t].v[f], buf);
		}
	if (!img)
		return r;
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

void savedfiles_free(struct saved_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* One record: the next chunk of the current file, or the first of a new one. */
static int load_record(const SavedFileEntry *se, struct saved_file **v, size_t *n, uint64_t *next)
{
	struct saved_file *cur = *n ? &(*v)[*n - 1] : NULL, *nv;

	if (se->path[0] != '/' || (se->has_data ? se->data.len : 0) > SAVED_CHUNK)
		return bad_input("savedfiles.img: bad record for '%s'", se->path);
	if (cur && !strcmp(cur->path, se->path) && se->offset == *next && *next < cur->size) {
		*next += se->has_data ? se->data.len : 0;
		return *next > cur->size ? bad_input("savedfiles.img: '%s' longer than its size", se->path)
					 : 0;
	}
	if (cur && *next != cur->size)
		return bad_input("savedfiles.img: '%s' is cut short", cur->path);
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].path, se->path))
			return bad_input("savedfiles.img: '%s' saved twice", se->path);
	if (se->offset != 0)
		return bad_input("savedfiles.img: '%s' does not start at 0", se->path);
	nv = reallocarray(*v, *n + 1, sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = (struct saved_file){
		.path = strdup(se->path), .size = se->size, .mode = se->mode, .uid = se->uid, .gid = se->gid};
	if (!nv[(*n)++].path)
		return -ENOMEM;
	*next = se->has_data ? se->data.len : 0;
	return *next > se->size ? bad_input("savedfiles.img: '%s' longer than its size", se->path) : 0;
}

int savedfiles_load(int dirfd, struct saved_file **ret, size_t *ret_n)
{
	struct saved_file *v = NULL;
	ProtobufCMessage *m;
	struct img *img;
	uint64_t next = 0;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (faccessat(dirfd, "savedfiles.img", F_OK, 0) < 0)
		return errno == ENOENT ? 0 : pr_perror("'savedfiles.img'");
	r = img_open(dirfd, "savedfiles.img", IMG_SAVED, &img);
	if (r < 0)
		return r;
	while ((r = img_read_msg(img, &m)) > 0) {
		r = load_record((SavedFileEntry *)m, &v, &n, &next);
		protobuf_c_message_free_unpacked(m, NULL);
		if (r < 0)
			break;
	}
	img_discard(img);
	if (r == 0 && n && next != v[n - 1].size)
		r = bad_input("savedfiles.img: '%s' is cut short", v[n - 1].path);
	if (r < 0) {
		savedfiles_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int become_owner(const struct saved_file *f)
{
	if (geteuid() == f->uid && getegid() == f->gid)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(f->gid, f->gid, f->gid) < 0 ||
	    setresuid(f->uid, f->uid, f->uid) < 0)
		return pr_perror("'%s': taking its owner's ids %u:%u", f->path, f->uid, f->gid);
	return 0;
}

/* The child's work: write f's records into it, then cut it to its size. */
static int write_back(int dirfd, const struct saved_file *f)
{
	_cleanup_close_ int fd = -EBADF;
	struct img *img = NULL;
	ProtobufCMessage *m;
	int r;

	r = become_owner(f);
	if (r < 0)
		return r;
	umask(0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, f->mode & 0777);
	if (fd < 0)
		return pr_perror("putting back '%s'", f->path);
	r = img_open(dirfd, "savedfiles.img", IMG_SAVED, &img);
	while (r == 0 && (r = img_read_msg(img, &m)) > 0) {
		const SavedFileEntry *se = (SavedFileEntry *)m;

		r = 0;
		if (!strcmp(se->path, f->path) && se->has_data && se->data.len &&
		    pwrite(fd, se->data.data, se->data.len, (off_t)se->offset) != (ssize_t)se->data.len)
			r = pr_perror("writing '%s' at %" PRIu64, f->path, se->offset);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (img)
		img_discard(img);
	if (r == 0 && ftruncate(fd, (off_t)f->size) < 0)
		r = pr_perror("cutting '%s' to %" PRIu64 " bytes", f->path, f->size);
	if (r == 0 && fsync(fd) < 0)
		r = pr_perror("syncing '%s'", f->path);
	return r;
}

static int restore_one(int dirfd, const struct saved_file *f)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return pr_perror("fork");
	if (pid == 0)
		_exit(write_back(dirfd, f) < 0 ? 1 : 0);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pr_perror("waiting for pid %d", pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return pr_err("'%s' could not be put back as it was at the dump", f->path), -EIO;
	pr_debug("put back '%s' (%" PRIu64 " bytes)", f->path, f->size);
	return 0;
}

int savedfiles_restore(int dirfd, const struct saved_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = restore_one(dirfd, &v[i]);

		if (r < 0)
			return r;
	}
	return 0;
}
