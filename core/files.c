/* SPDX-License-Identifier: MIT */
/*
 * Dump side of open files. Regular files, directories and character devices are recorded
 * by path with their open flags and offset; the size is kept so that a restore can refuse a
 * file that changed under it. Pipes, sockets and terminals are taken to point outside the
 * tree and are recorded as external objects that the restorer hands back (--inherit-fd,
 * --shell-job).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "anonfd.h"
#include "files.h"
#include "image.h"
#include "locks.h"
#include "log.h"
#include "proc.h"

static bool is_tty_dev(dev_t rdev)
{
	unsigned int maj = major(rdev);

	/* pts (136-143), tty/console/ptmx (4, 5) per Documentation/admin-guide/devices.txt */
	return (maj >= 136 && maj <= 143) || maj == 4 || maj == 5;
}

static int fd_external(FdEntry *e, const char *link, bool tty)
{
	e->kind = FD_KIND__FD_EXTERNAL;
	e->ext_key = strdup(link);
	if (!e->ext_key)
		return -ENOMEM;
	if (tty) {
		e->has_is_tty = true;
		e->is_tty = true;
	}
	return 0;
}

int files_describe_fd(const struct task *task, int fd, FdEntry *e)
{
	_cleanup_free_ char *link = NULL;
	struct proc_fdinfo fi;
	struct stat st;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", task->pid, fd);
	r = readlink_malloc(AT_FDCWD, path, &link);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: readlink", task->pid, fd);
	if (stat(path, &st) < 0)
		return pr_perror("pid %d: fd %d: stat '%s'", task->pid, fd, link);
	r = proc_parse_fdinfo(task->pid, fd, &fi);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: reading its fdinfo", task->pid, fd);
	e->fd = (uint32_t)fd;
	e->flags = fi.flags;
	e->has_pos = e->has_mode = e->has_dev = e->has_ino = true;
	e->pos = fi.pos;
	e->mode = st.st_mode;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	if (S_ISFIFO(st.st_mode) && !strncmp(link, "pipe:[", 6)) {
		/* Internal or external is decided for the whole tree: pipes_dump(). */
		e->kind = FD_KIND__FD_PIPE;
		e->has_pipe_id = true;
		e->pipe_id = st.st_ino;
		e->ext_key = TAKE_PTR(link);
		return 0;
	}
	if (S_ISSOCK(st.st_mode) && !strncmp(link, "socket:[", 8)) {
		/* A socketpair held at both ends in the tree or not is decided by unixsk_dump(). */
		e->kind = FD_KIND__FD_UNIX;
		e->has_sk_id = true;
		e->sk_id = st.st_ino;
		e->ext_key = TAKE_PTR(link);
		return 0;
	}
	/* FIFOs, eventfd, timerfd, signalfd, epoll, inotify: anonfd.c */
	r = anonfd_describe(task->pid, fd, link, &st, e);
	if (r != 0)
		return r < 0 ? r : 0;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return fd_external(e, link, false);
	if (S_ISCHR(st.st_mode) && is_tty_dev(st.st_rdev))
		return fd_external(e, link, true);
	if (link[0] != '/')
		return pr_err("pid %d: fd %d: %s: not supported yet", task->pid, fd, link), -ENOTSUP;
	/* A regular file deleted while open is saved with the image: shmem_note_fds(). */
	if (strlen(link) > 10 && !strcmp(link + strlen(link) - 10, " (deleted)") && !S_ISREG(st.st_mode))
		return pr_err("pid %d: fd %d: '%s': files deleted while open are not supported yet",
			      task->pid, fd, link),
		       -ENOTSUP;
	if (S_ISREG(st.st_mode)) {
		e->kind = FD_KIND__FD_REG;
		e->has_size = e->has_mtime_ns = true;
		e->size = (uint64_t)st.st_size;
		e->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	} else if (S_ISDIR(st.st_mode)) {
		e->kind = FD_KIND__FD_DIR;
	} else if (S_ISCHR(st.st_mode)) {
		e->kind = FD_KIND__FD_CHR;
		e->has_rdev = true;
		e->rdev = st.st_rdev;
	} else {
		return pr_err("pid %d: fd %d: '%s': this kind of file is not supported yet", task->pid, fd,
			      link),
		       -ENOTSUP;
	}
	e->path = TAKE_PTR(link);
	return 0;
}

int files_collect(const struct task *task, struct fd_list *ret)
{
	_cleanup_free_ int *fds = NULL;
	size_t n;
	int r;

	r = proc_list_fds(task->pid, &fds, &n);
	if (r < 0)
		return pr_err_errno(r, "pid %d: listing its fds", task->pid);
	ret->v = calloc(n ?: 1, sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		FdEntry *e = calloc(1, sizeof(*e));

		if (!e)
			return -ENOMEM;
		fd_entry__init(e);
		ret->v[ret->n++] = e;
		r = files_describe_fd(task, fds[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

int files_write(int dirfd, const struct task *task, const struct fd_list *l)
{
	struct img *img;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "fdinfo-%d.img", task->ns_pid);
	r = img_create(dirfd, name, IMG_FDINFO, &img);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l->n && r >= 0; i++)
		r = img_write_msg(img, &l->v[i]->base);
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

void files_free(struct fd_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]->path);
		free(l->v[i]->ext_key);
		locks_free(l->v[i]);
		free(l->v[i]);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
