/* SPDX-License-Identifier: MIT */
/*
 * Restore side of what was queued at unix sockets of unixsk-sk.img: bytes and records are
 * sent again, and the messages that carried files (scm_entry) carry them again
 * (SCM_RIGHTS, unix(7)): the files of scm.img, each opened like an fd of the tree
 * (rst_open_fd) by the task that makes the sockets, which rst_scm_place() counts as one more
 * holder of each: a pipe or a file shared with fds of the tree is made by a common ancestor
 * of them all, before the sockets; a file only in flight is opened right before it is sent.
 * A stream is sent in pieces, each message with files on its own, so that a reader gets the
 * files after the same bytes as before; the bytes between them may join (they did already).
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "image.h"
#include "log.h"
#include "rst.h"

#define MAX_FILES 253 /* SCM_MAX_FD */

static bool scm_ok(const struct rst_tree *t, const UnixSkEntry *e)
{
	uint64_t end = 0;

	for (size_t i = 0; i < e->n_scm; i++) {
		const ScmEntry *m = e->scm[i];

		if (!m->n_files || m->n_files > MAX_FILES)
			return false;
		for (size_t k = 0; k < m->n_files; k++)
			if (m->files[k] >= t->n_scm)
				return false;
		/* in queue order, each within what is queued */
		if (e->type == SOCK_STREAM ? (!m->has_len || !m->len || m->at < end || m->at > e->data.len ||
					      m->len > e->data.len - m->at)
					   : (m->has_len || m->at < end || m->at >= e->n_dgrams))
			return false;
		end = m->at + (e->type == SOCK_STREAM ? m->len : 1);
	}
	return true;
}

static int check_entry(const struct rst_tree *t, size_t i)
{
	const FdEntry *e = t->scm[i];

	if (e->fd != i || e->has_shmem_id || e->n_locks || e->kind == FD_KIND__FD_EXTERNAL ||
	    e->kind == FD_KIND__FD_FIFO || e->kind == FD_KIND__FD_EPOLL)
		return pr_err("'scm.img': bad record for file %zu", i), -EBADMSG;
	return rst_check_fd(t, 0, e);
}

int rst_scm_load(struct rst_tree *t)
{
	int r = img_read_all(t->dirfd, "scm.img", IMG_SCM, (ProtobufCMessage ***)&t->scm, &t->n_scm);

	if (r == -ENOENT)
		return 0; /* images of an older ckpt */
	for (size_t i = 0; i < t->n_scm && r == 0; i++)
		r = check_entry(t, i);
	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		if (!scm_ok(t, t->unixsk[i].se))
			return pr_err("'unixsk-sk.img': bad files in flight at socket %" PRIu64,
				      t->unixsk[i].se->id),
			       -EBADMSG;
	return r;
}

void rst_scm_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_scm; i++)
		protobuf_c_message_free_unpacked(&t->scm[i]->base, NULL);
	free(t->scm);
	t->scm = NULL;
	t->n_scm = 0;
}

/* The task that makes the sockets holds every file in flight too, for as long as it sends them. */
int rst_scm_place(struct rst_tree *t)
{
	int s = t->unixsk_creator;

	if (t->n_scm && s < 0)
		return pr_err("'scm.img': files in flight, but no socket of the tree"), -EBADMSG;
	for (size_t i = 0; i < t->n_scm; i++) {
		const FdEntry *e = t->scm[i];
		struct rst_pipe *p;
		struct rst_unix *u;
		int r;

		if (e->kind == FD_KIND__FD_PIPE) {
			p = rst_find_pipe(t, e->pipe_id);
			p->creator = rst_lca(t, p->creator, s);
		} else if (e->kind == FD_KIND__FD_UNIX) {
			u = rst_find_unix(t, e->sk_id, NULL);
			if (u)
				u->creator = rst_lca(t, u->creator, s);
		} else if (e->has_file_id) {
			r = rst_note_file(t, s, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static int open_files(const struct rst_tree *t, const ScmEntry *m, int *fds)
{
	uint32_t pid = t->tasks[t->unixsk_creator].pe->pid;

	for (size_t i = 0; i < m->n_files; i++) {
		fds[i] = rst_open_fd(t, pid, t->scm[m->files[i]]);
		if (fds[i] < 0) {
			int r = fds[i];

			close_all(fds, i);
			return r;
		}
	}
	return 0;
}

struct sender {
	const struct rst_tree *t;
	uint64_t id;
	int fd;
	struct sockaddr_un sa;
	socklen_t alen; /* 0: to the peer */
};

/* len bytes (one record, or a piece of a stream) and m's files with the first byte sent. */
static int send_piece(const struct sender *s, const uint8_t *data, size_t len, const ScmEntry *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FILES)];
		struct cmsghdr align;
	} ctl;
	int fds[MAX_FILES], r = m ? open_files(s->t, m, fds) : 0;
	size_t off = 0;

	if (r < 0)
		return r;
	do {
		struct iovec iov = {(void *)(data + off), len - off};
		struct msghdr mh = {.msg_name = s->alen ? (void *)&s->sa : NULL,
				    .msg_namelen = s->alen,
				    .msg_iov = &iov,
				    .msg_iovlen = 1};
		ssize_t k;

		if (m && off == 0) {
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_files);
			CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
			CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int) * m->n_files);
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * m->n_files);
		}
		k = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = pr_perror("socket %" PRIu64 ": queueing %zu bytes again%s", s->id, len,
				      m ? " with their files" : "");
			break;
		}
		off += (size_t)k;
	} while (off < len);
	if (m)
		close_all(fds, m->n_files); /* they are in flight now */
	return r;
}

static int send_stream(const struct sender *s, const UnixSkEntry *e)
{
	uint64_t pos = 0;
	int r = 0;

	for (size_t i = 0; i < e->n_scm && r == 0; i++) {
		const ScmEntry *m = e->scm[i];

		if (m->at > pos)
			r = send_piece(s, e->data.data + pos, m->at - pos, NULL);
		if (r == 0)
			r = send_piece(s, e->data.data + m->at, m->len, m);
		pos = m->at + m->len;
	}
	if (r == 0 && pos < e->data.len)
		r = send_piece(s, e->data.data + pos, e->data.len - pos, NULL);
	return r;
}

static int send_records(const struct sender *s, const UnixSkEntry *e)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; i < e->n_dgrams && r == 0; i++) {
		const ScmEntry *m = k < e->n_scm && e->scm[k]->at == i ? e->scm[k++] : NULL;

		r = send_piece(s, e->dgrams[i].data, e->dgrams[i].len, m);
	}
	return r;
}

int rst_unixsk_requeue(const struct rst_tree *t, const UnixSkEntry *e, int from,
		       const ProtobufCBinaryData *name)
{
	struct sender s = {.t = t, .id = e->id, .fd = from, .sa = {.sun_family = AF_UNIX}};
	size_t total = e->data.len + 1024;
	int want, old = 0, r;
	socklen_t sl = sizeof(old);

	if (name) {
		memcpy(s.sa.sun_path, name->data, name->len);
		s.alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name->len);
	}
	for (size_t i = 0; i < e->n_dgrams; i++)
		total += e->dgrams[i].len + 1024;
	want = (int)MIN(total * 2 + 65536, (size_t)INT_MAX / 2);
	/* What is sent counts against the sender's SO_SNDBUF until it is read (unix(7)). */
	if (getsockopt(from, SOL_SOCKET, SO_SNDBUF, &old, &sl) < 0 ||
	    setsockopt(from, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		if (setsockopt(from, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0)
			return pr_perror("socket %" PRIu64 ": SO_SNDBUF", e->id);
	r = e->type == SOCK_STREAM ? send_stream(&s, e) : send_records(&s, e);
	old /= 2;
	if (setsockopt(from, SOL_SOCKET, SO_SNDBUF, &old, sizeof(old)) < 0 && r == 0)
		r = pr_perror("socket %" PRIu64 ": SO_SNDBUF", e->id);
	return r;
}
