/* SPDX-License-Identifier: MIT */
/*
 * Restore of FIFOs (named pipes). The nearest common ancestor of all the tasks holding a FIFO
 * opens it by path O_RDWR, which never blocks since it is a reader and a writer at once
 * (fifo(7): "under Linux, opening a FIFO for read and write will succeed both in blocking and
 * nonblocking mode"), sets its capacity and writes its data back, once. That holder sits above
 * every fd number of the tree and is inherited by the descendants; each fd of the tree is a
 * new open of /proc/self/fd/HOLDER with its own flags, which cannot block either while the
 * holder is open, and the holder is closed once a task's fds are placed. A FIFO whose path is
 * gone is refused while the images are checked.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include "fifo.pb-c.h"
#include "image.h"
#include "log.h"
#include "rst.h"

struct rst_fifo {
	FifoEntry *fe;
	int creator;
	int fd; /* the holder, in the creator and its descendants */
};

static struct rst_fifo *find(const struct rst_tree *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < t->n_fifos; i++)
		if (t->fifos[i].fe->dev == dev && t->fifos[i].fe->id == ino)
			return &t->fifos[i];
	return NULL;
}

int rst_fifo_load(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r;

	/* Images of a ckpt without FIFO support have none: no FIFO then. */
	if (faccessat(t->dirfd, "fifo.img", F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = img_read_all(t->dirfd, "fifo.img", IMG_FIFO, &v, &n);
	if (r < 0)
		return r;
	t->fifos = calloc(n ?: 1, sizeof(*t->fifos));
	if (!t->fifos) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		t->fifos[t->n_fifos++] = (struct rst_fifo){.fe = (FifoEntry *)v[i], .creator = -1, .fd = -1};
	for (size_t i = 0; i < n; i++) {
		const FifoEntry *fe = t->fifos[i].fe;

		if (find(t, fe->dev, fe->id) != &t->fifos[i] || fe->path[0] != '/' || fe->size < 4096 ||
		    fe->size > (1u << 30) || (fe->has_data && fe->data.len > fe->size))
			return pr_err("'fifo.img': bad record for FIFO '%s'", fe->path), -EBADMSG;
	}
	return 0;
}

int rst_fifo_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	struct stat st;

	if (!e->path || !e->has_dev || !e->has_ino || !find(t, e->dev, e->ino))
		return pr_err("pid %u: fd %u: its FIFO is missing from 'fifo.img'", pid, e->fd), -EBADMSG;
	if (stat(e->path, &st) < 0)
		return pr_err("pid %u: fd %u: FIFO '%s' is gone (%s): create it again (mkfifo) to restore",
			      pid, e->fd, e->path, strerror(errno)),
		       -ENOENT;
	if (!S_ISFIFO(st.st_mode))
		return pr_err("pid %u: fd %u: '%s' is no longer a FIFO", pid, e->fd, e->path), -EINVAL;
	return 0;
}

int rst_fifo_place(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_tasks; i++)
		for (size_t k = 0; k < t->tasks[i].n_fds; k++) {
			const FdEntry *e = t->tasks[i].fds[k];
			struct rst_fifo *f;

			if (e->kind != FD_KIND__FD_FIFO)
				continue;
			f = find(t, e->dev, e->ino);
			f->creator = rst_lca(t, f->creator, (int)i);
		}
	for (size_t i = 0; i < t->n_fifos; i++)
		if (t->fifos[i].creator < 0)
			return pr_err("'fifo.img': FIFO '%s' is held by no task", t->fifos[i].fe->path),
			       -EBADMSG;
	return 0;
}

static int fill(const FifoEntry *fe, int fd)
{
	int queued = 0, r;

	if (fcntl(fd, F_SETPIPE_SZ, (int)fe->size) < 0)
		return pr_perror("FIFO '%s': F_SETPIPE_SZ %u", fe->path, fe->size);
	if (!fe->has_data || !fe->data.len)
		return 0;
	/* Open elsewhere too, with data of its own: ours would come after it, not before. */
	if (ioctl(fd, FIONREAD, &queued) == 0 && queued)
		pr_warn("FIFO '%s': %d bytes were already queued in it; its %zu dumped bytes follow them",
			fe->path, queued, fe->data.len);
	r = write_all(fd, fe->data.data, fe->data.len);
	if (r < 0)
		return pr_err_errno(r, "FIFO '%s': writing its data back", fe->path);
	return 0;
}

int rst_fifo_create(struct rst_tree *t, size_t idx)
{
	for (size_t i = 0; i < t->n_fifos; i++) {
		struct rst_fifo *f = &t->fifos[i];
		_cleanup_close_ int fd = -EBADF;
		int r;

		if (f->creator != (int)idx)
			continue;
		fd = open(f->fe->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return pr_perror("FIFO '%s': opening it", f->fe->path);
		r = fill(f->fe, fd);
		if (r < 0)
			return r;
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, t->pipe_fd_base);
		if (f->fd < 0)
			return pr_perror("FIFO '%s': moving it above fd %d", f->fe->path, t->pipe_fd_base);
	}
	return 0;
}

size_t rst_fifo_fds(const struct rst_tree *t, int *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_fifos; i++)
		if (!keep)
			n++;
		else if (t->fifos[i].fd >= 0)
			keep[n++] = t->fifos[i].fd;
	return n;
}

int rst_fifo_open(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	const struct rst_fifo *f = find(t, e->dev, e->ino);
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	fd = open(path, (int)(e->flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("pid %u: fd %u: opening FIFO '%s'", pid, e->fd, e->path);
	return fd;
}

void rst_fifo_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_fifos; i++)
		protobuf_c_message_free_unpacked(&t->fifos[i].fe->base, NULL);
	free(t->fifos);
	t->fifos = NULL;
	t->n_fifos = 0;
}
