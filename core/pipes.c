/* SPDX-License-Identifier: MIT */
/*
 * Dump side of pipes. The queued data is read without consuming it: we take a copy of the
 * read end with pidfd_getfd(2) and tee(2) its buffers into a pipe of our own, which leaves
 * the task's pipe exactly as it was (tee(2): "does not consume the data").
 */
#include <fcntl.h>
#include <poll.h>
#include <linux/kcmp.h>
#include "image.h"
#include "log.h"
#include "pipes.h"
#include "syscalls.h"

struct pipe_ref {
	uint64_t id;
	pid_t rd_pid; /* a task holding the read end, and its fd */
	int rd_fd;
	pid_t wr_pid; /* and the write end */
	int wr_fd;
	uint32_t rd_flags, wr_flags;
	bool rd, wr;
};

static struct pipe_ref *find_or_add(struct pipe_ref **v, size_t *n, uint64_t id)
{
	struct pipe_ref *nv;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].id == id)
			return &(*v)[i];
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return NULL;
	*v = nv;
	nv[*n] = (struct pipe_ref){.id = id};
	return &nv[(*n)++];
}

static int collect(const struct pstree *t, const struct fd_list *fds, struct pipe_ref **ret, size_t *ret_n)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++) {
			const FdEntry *e = fds[i].v[k];
			struct pipe_ref *p;

			if (e->kind != FD_KIND__FD_PIPE)
				continue;
			p = find_or_add(ret, ret_n, e->pipe_id);
			if (!p)
				return -ENOMEM;
			if ((e->flags & O_ACCMODE) == O_RDONLY && !p->rd) {
				p->rd = true;
				p->rd_pid = t->tasks[i]->pid;
				p->rd_fd = (int)e->fd;
				p->rd_flags = e->flags;
			} else if ((e->flags & O_ACCMODE) == O_WRONLY && !p->wr) {
				p->wr = true;
				p->wr_pid = t->tasks[i]->pid;
				p->wr_fd = (int)e->fd;
				p->wr_flags = e->flags;
			}
		}
	return 0;
}

/* One end outside the tree: the pipe goes back as whatever the restorer hands in. */
static void make_external(struct fd_list *fds, size_t n_tasks, uint64_t id)
{
	for (size_t i = 0; i < n_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_PIPE && fds[i].v[k]->pipe_id == id)
				fds[i].v[k]->kind = FD_KIND__FD_EXTERNAL;
}

int pipes_grab_fd(pid_t pid, int fd)
{
	_cleanup_close_ int pidfd = sys_pidfd_open(pid, 0);
	int r;

	if (pidfd < 0)
		return pr_err_errno(pidfd, "pid %d: pidfd_open", pid);
	r = sys_pidfd_getfd(pidfd, fd, 0);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: pidfd_getfd", pid, fd);
	return r;
}

/*
 * The tree holds one end only: is the other closed everywhere, or held outside? A read end
 * polls POLLHUP once no writer is left, a write end POLLERR once no reader is (pipe_poll()).
 */
static int other_end_closed(const struct pipe_ref *p)
{
	_cleanup_close_ int fd = pipes_grab_fd(p->rd ? p->rd_pid : p->wr_pid, p->rd ? p->rd_fd : p->wr_fd);
	struct pollfd pfd = {.fd = fd, .events = p->rd ? POLLIN : POLLOUT};

	if (fd < 0)
		return fd;
	if (poll(&pfd, 1, 0) < 0)
		return pr_perror("poll of pipe %" PRIu64, p->id);
	return !!(pfd.revents & (p->rd ? POLLHUP : POLLERR));
}

int pipes_peek_fd(int fd, bool readable, uint32_t *ret_size, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF;
	_cleanup_free_ uint8_t *buf = NULL;
	int mine[2];
	ssize_t n;
	int size, r;

	size = fcntl(fd, F_GETPIPE_SZ);
	if (size <= 0)
		return -errno;
	if (pipe2(mine, O_CLOEXEC | O_NONBLOCK) < 0)
		return pr_perror("pipe2");
	rd = mine[0];
	wr = mine[1];
	if (fcntl(wr, F_SETPIPE_SZ, size) < size)
		return pr_perror("F_SETPIPE_SZ %d", size);
	/* Only a read end can be teed; a pipe nobody reads any more keeps nothing worth saving. */
	n = readable ? tee(fd, wr, (size_t)size, SPLICE_F_NONBLOCK) : 0;
	if (n < 0 && errno != EAGAIN)
		return -errno;
	n = n < 0 ? 0 : n;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	r = n ? read_all(rd, buf, (size_t)n) : 0;
	if (r < 0)
		return pr_err_errno(r, "reading the pipe's data");
	*ret_size = (uint32_t)size;
	*ret_data = TAKE_PTR(buf);
	*ret_len = (size_t)n;
	return 0;
}

static int peek_data(const struct pipe_ref *p, uint32_t *ret_size, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	fd = p->rd ? pipes_grab_fd(p->rd_pid, p->rd_fd) : pipes_grab_fd(p->wr_pid, p->wr_fd);
	if (fd < 0)
		return fd;
	r = pipes_peek_fd(fd, p->rd, ret_size, ret_data, ret_len);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: reading the data of pipe %" PRIu64,
				    p->rd ? p->rd_pid : p->wr_pid, p->rd ? p->rd_fd : p->wr_fd, p->id);
	return 0;
}

static int write_pipe(struct img *img, const struct pipe_ref *p)
{
	PipeEntry pe = PIPE_ENTRY__INIT;
	_cleanup_free_ uint8_t *data = NULL;
	size_t len = 0;
	int r = peek_data(p, &pe.size, &data, &len);

	if (r < 0)
		return r;
	pe.id = p->id;
	pe.has_data = true;
	pe.data.data = data;
	pe.data.len = len;
	pe.has_rd_flags = pe.has_wr_flags = true;
	pe.rd_flags = p->rd_flags;
	pe.wr_flags = p->wr_flags;
	pe.has_no_writer = pe.has_no_reader = true;
	pe.no_writer = !p->wr;
	pe.no_reader = !p->rd;
	return img_write_msg(img, &pe.base);
}

int pipes_dump(int dirfd, const struct pstree *t, struct fd_list *fds)
{
	_cleanup_free_ struct pipe_ref *v = NULL;
	struct img *img;
	size_t n = 0;
	int r;

	r = collect(t, fds, &v, &n);
	if (r < 0)
		return r;
	r = img_create(dirfd, "pipes.img", IMG_PIPES, &img);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = v[i].rd && v[i].wr ? 1 : other_end_closed(&v[i]);
		if (r == 0)
			make_external(fds, t->nr_tasks, v[i].id);
		else if (r > 0)
			r = write_pipe(img, &v[i]);
	}
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

static bool is_plain_file(const FdEntry *e)
{
	/* FIFOs and anonymous-inode kinds share descriptions the same way: anonfd.c */
	return e->kind == FD_KIND__FD_REG || e->kind == FD_KIND__FD_DIR || e->kind == FD_KIND__FD_CHR ||
	       (e->kind >= FD_KIND__FD_FIFO && e->kind <= FD_KIND__FD_INOTIFY);
}

/* An earlier fd of the tree with the same open file description as (pid, e), or NULL. */
static const FdEntry *same_description(const struct pstree *t, const struct fd_list *fds, size_t ti,
				       size_t fk)
{
	const FdEntry *e = fds[ti].v[fk];

	for (size_t i = 0; i <= ti; i++)
		for (size_t k = 0; k < (i == ti ? fk : fds[i].n); k++) {
			const FdEntry *o = fds[i].v[k];

			if (!is_plain_file(o) || o->dev != e->dev || o->ino != e->ino)
				continue;
			if (sys_kcmp(t->tasks[ti]->pid, t->tasks[i]->pid, KCMP_FILE, e->fd, o->fd) == 0)
				return o;
		}
	return NULL;
}

int files_share_ids(const struct pstree *t, struct fd_list *fds)
{
	uint32_t next = 1;

	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++) {
			FdEntry *e = fds[i].v[k];
			const FdEntry *o;

			if (!is_plain_file(e))
				continue;
			o = same_description(t, fds, i, k);
			e->has_file_id = true;
			e->file_id = o ? o->file_id : next++;
		}
	return 0;
}
