/* SPDX-License-Identifier: MIT */
/*
 * Files in flight: fds queued in unix sockets of the tree with SCM_RIGHTS (unix(7)). Peeking
 * at a queue installs them as fds of the dumper (unixsk-queue.c); each open file description
 * is kept once (kcmp(2) KCMP_FILE), described like any fd (files_describe_fd) and handed to
 * the file modules as an fd of one more task, the dumper itself (scm_tree): a pipe end in
 * flight is an end of a pipe of pipes.img, a file shares the file_id of the fds of the tree
 * on the same description, a socket is one of the tree's by its inode. A file in flight that
 * no task holds any more is dumped on its own the same way.
 *
 * At restore each message is sent again with its files (rst-unixsk-queue.c) by the task that
 * makes the sockets. Refused, naming the socket the file is queued at: files outside the
 * tree (a terminal, a pipe or socket with an end outside), FIFOs, epoll instances, files
 * deleted while open, memfds, and unix sockets that no task holds or whose own queue holds
 * files (they would have to be dumped in flight, recursively).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <linux/kcmp.h>
#include "image.h"
#include "log.h"
#include "syscalls.h"
#include "unixsk.h"

void scm_init(struct scm_set *s, struct fd_list *fl)
{
	*s = (struct scm_set){.fl = fl};
	s->self.pid = getpid();
}

static int note_carrier(struct scm_set *s, uint64_t ino)
{
	uint64_t *nv;

	for (size_t i = 0; i < s->n_carriers; i++)
		if (s->carriers[i] == ino)
			return 0;
	nv = realloc(s->carriers, (s->n_carriers + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	s->carriers = nv;
	nv[s->n_carriers++] = ino;
	return 0;
}

/* An earlier file in flight with the same open file description as our fd, or -1. */
static ssize_t seen(const struct scm_set *s, int fd)
{
	for (size_t i = 0; i < s->fl->n; i++)
		if (sys_kcmp(s->self.pid, s->self.pid, KCMP_FILE, (unsigned long)fd, s->fl->v[i]->fd) == 0)
			return (ssize_t)i;
	return -1;
}

/* Keep our fd (closed by scm_close) as a new file in flight, and describe it. */
static int add(struct scm_set *s, const struct sk_ref *at, int fd)
{
	FdEntry **nv = realloc(s->fl->v, (s->fl->n + 1) * sizeof(*nv));
	struct sk_ref *nf = nv ? realloc(s->from, (s->fl->n + 1) * sizeof(*nf)) : NULL;
	FdEntry *e = nf ? calloc(1, sizeof(*e)) : NULL;
	int r;

	if (nv)
		s->fl->v = nv;
	if (nf)
		s->from = nf;
	if (!e) {
		close(fd);
		return -ENOMEM;
	}
	fd_entry__init(e);
	e->fd = (uint32_t)fd;
	s->from[s->fl->n] = *at;
	s->fl->v[s->fl->n++] = e;
	r = files_describe_fd(&s->self, fd, e);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %d: a file queued at its unix socket cannot be dumped",
				    at->pid, at->fd);
	return 0;
}

int scm_take(struct scm_set *s, const struct sk_ref *at, int fd, uint32_t *ret_id)
{
	ssize_t i = seen(s, fd);
	int r = note_carrier(s, at->ino);

	*ret_id = (uint32_t)(i >= 0 ? (size_t)i : s->fl->n);
	if (r < 0 || i >= 0) {
		close(fd);
		return r;
	}
	return add(s, at, fd);
}

int scm_tree(struct scm_set *s, const struct pstree *t, struct pstree *ret)
{
	*ret = *t;
	ret->tasks = malloc((t->nr_tasks + 1) * sizeof(*ret->tasks));
	if (!ret->tasks)
		return -ENOMEM;
	memcpy(ret->tasks, t->tasks, t->nr_tasks * sizeof(*ret->tasks));
	ret->tasks[ret->nr_tasks++] = &s->self;
	return 0;
}

static bool in_tree(const struct pstree *t, const struct fd_list *fds, const FdEntry *e)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_UNIX && fds[i].v[k]->sk_id == e->sk_id)
				return true;
	return false;
}

static bool is_carrier(const struct scm_set *s, uint64_t ino)
{
	for (size_t i = 0; i < s->n_carriers; i++)
		if (s->carriers[i] == ino)
			return true;
	return false;
}

/* Why the file in flight e cannot be sent again, or NULL. */
static const char *why_not(const struct scm_set *s, const struct pstree *t, const struct fd_list *fds,
			   const FdEntry *e)
{
	struct stat st;

	switch (e->kind) {
	case FD_KIND__FD_EXTERNAL:
		return "a file outside the tree";
	case FD_KIND__FD_FIFO:
		return "a FIFO";
	case FD_KIND__FD_EPOLL:
		return "an epoll instance";
	case FD_KIND__FD_UNIX:
		if (!in_tree(t, fds, e))
			return "a socket not dumped with the tree (no task holds it, its peer is "
			       "outside, or it is not a unix one)";
		if (is_carrier(s, e->sk_id))
			return "a unix socket whose own queue holds file descriptors";
		return NULL;
	case FD_KIND__FD_REG:
		if (fstat((int)e->fd, &st) == 0 && st.st_nlink == 0)
			return "a file deleted while open, or a memfd";
		return NULL;
	default:
		return NULL;
	}
}

int scm_check(const struct scm_set *s, const struct pstree *t, const struct fd_list *fds)
{
	for (size_t i = 0; i < s->fl->n; i++) {
		const FdEntry *e = s->fl->v[i];
		const char *why = why_not(s, t, fds, e);

		if (why)
			return pr_err("pid %d: fd %d: queued at its unix socket, in flight: %s (%s): not "
				      "supported",
				      s->from[i].pid, s->from[i].fd, why,
				      e->path ?: e->ext_key ?: "?"),
			       -ENOTSUP;
	}
	return 0;
}

int scm_write(int dirfd, struct scm_set *s)
{
	struct img *img;
	int r = img_create(dirfd, "scm.img", IMG_SCM, &img);

	if (r < 0)
		return r;
	/* In the image an entry's fd is its index, which the messages refer to. */
	for (size_t i = 0; i < s->fl->n && r >= 0; i++) {
		FdEntry e = *s->fl->v[i];

		e.fd = (uint32_t)i;
		r = img_write_msg(img, &e.base);
	}
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

void scm_close(struct scm_set *s)
{
	for (size_t i = 0; s->fl && i < s->fl->n; i++)
		close((int)s->fl->v[i]->fd);
	free(s->from);
	free(s->carriers);
	s->from = NULL;
	s->carriers = NULL;
}
