/* SPDX-License-Identifier: MIT */
/*
 * Dump side of FIFOs. A FIFO is a pipe whose inode has a path (fifo(7)): its buffer is read
 * the way pipes.c reads a pipe's, with tee(2), which does not consume it. When the tree holds
 * a read end we tee from a copy of it (pidfd_getfd(2)); when it holds only write ends we
 * open the FIFO once more through /proc/PID/fd/N, O_RDONLY | O_NONBLOCK (which never blocks
 * and joins the same pipe while it is open), tee, and close it again.
 *
 * The restore (rst-fifo.c) opens the FIFO O_RDWR, which does not block (fifo(7)), puts the
 * data back once, and opens every fd of the tree through that one with its own flags.
 */
#include <fcntl.h>
#include "fifo.h"
#include "fifo.pb-c.h"
#include "image.h"
#include "log.h"
#include "pipes.h"

/* A readable fd of the tree on the FIFO of e, else any: its task's index and fd. */
static void pick_end(const struct pstree *t, const struct fd_list *fds, const FdEntry *e, size_t *ret_i,
		     const FdEntry **ret_e)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++) {
			const FdEntry *o = fds[i].v[k];

			if (o->kind != FD_KIND__FD_FIFO || o->dev != e->dev || o->ino != e->ino)
				continue;
			if (!*ret_e || (o->flags & O_ACCMODE) != O_WRONLY) {
				*ret_i = i;
				*ret_e = o;
			}
			if ((o->flags & O_ACCMODE) != O_WRONLY)
				return;
		}
}

static int open_end(pid_t pid, const FdEntry *e, bool readable)
{
	char path[64];
	int fd;

	if (readable)
		return pipes_grab_fd(pid, (int)e->fd);
	snprintf(path, sizeof(path), "/proc/%d/fd/%u", pid, e->fd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("pid %d: fd %u: opening FIFO '%s' to read its data", pid, e->fd, e->path);
	return fd;
}

static int write_fifo(struct img *img, const struct pstree *t, const struct fd_list *fds, const FdEntry *e)
{
	FifoEntry fe = FIFO_ENTRY__INIT;
	_cleanup_free_ uint8_t *data = NULL;
	_cleanup_close_ int fd = -EBADF;
	const FdEntry *end = NULL;
	size_t ti = 0, len = 0;
	bool readable;
	int r;

	pick_end(t, fds, e, &ti, &end);
	readable = (end->flags & O_ACCMODE) != O_WRONLY;
	fd = open_end(t->tasks[ti]->pid, end, readable);
	if (fd < 0)
		return fd;
	/* opened again by us when no read end is in the tree: readable either way */
	r = pipes_peek_fd(fd, true, &fe.size, &data, &len);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %u: reading the data of FIFO '%s'", t->tasks[ti]->pid,
				    end->fd, e->path);
	fe.id = e->ino;
	fe.dev = e->dev;
	fe.path = e->path;
	fe.has_data = true;
	fe.data.data = data;
	fe.data.len = len;
	return img_write_msg(img, &fe.base);
}

/* Was an earlier fd of the tree on the same FIFO? */
static bool seen(const struct fd_list *fds, size_t ti, size_t fk)
{
	const FdEntry *e = fds[ti].v[fk];

	for (size_t i = 0; i <= ti; i++)
		for (size_t k = 0; k < (i == ti ? fk : fds[i].n); k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_FIFO && fds[i].v[k]->dev == e->dev &&
			    fds[i].v[k]->ino == e->ino)
				return true;
	return false;
}

int fifo_dump(int dirfd, const struct pstree *t, const struct fd_list *fds)
{
	struct img *img;
	int r = img_create(dirfd, "fifo.img", IMG_FIFO, &img);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->nr_tasks && r >= 0; i++)
		for (size_t k = 0; k < fds[i].n && r >= 0; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_FIFO && !seen(fds, i, k))
				r = write_fifo(img, t, fds, fds[i].v[k]);
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}
