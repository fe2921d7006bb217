/* SPDX-License-Identifier: MIT */
/*
 * What is queued at a unix socket of the tree, read without consuming it: a copy of the socket
 * taken with pidfd_getfd(2) is read with MSG_PEEK, which leaves the receive queue as it was
 * (recv(2)). With SO_PEEK_OFF set, each MSG_PEEK starts where the last one ended (socket(7)):
 * the offset is set on the task's socket (ours is a copy of it) and taken off again.
 *
 * A message that carries file descriptors (SCM_RIGHTS, unix(7)) hands a peek new fds of ours
 * on the same files; scm_take() keeps them. A peek of a stream stops after the first message
 * with files (unix_stream_read_generic() in net/unix/af_unix.c), so each peek that returns
 * some ends where that message ends; where it starts is found by message_start(): its bytes
 * must be sent again with them, no more and no fewer, for a reader to get them after the
 * same bytes.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "log.h"
#include "pipes.h"
#include "unixsk.h"

#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04 /* SO_PASSPIDFD, Linux 6.5: one pidfd per message */
#endif

#define MAX_RECORD  (4u << 20)
#define MAX_RECORDS 65536u
#define MAX_STREAM  (1u << 30)
#define CTL_LEN	    (CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)))

union ctl {
	char buf[CTL_LEN];
	struct cmsghdr align;
};

struct peek {
	const struct sk_ref *s;
	struct scm_set *scm;
	int fd;
	uint8_t *buf;
	size_t size;
	union ctl ctl; /* of the peek whose files are taken; bisection probes have their own */
};

static bool is_fds(const struct cmsghdr *c)
{
	return c->cmsg_level == SOL_SOCKET && (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD);
}

static size_t n_fds(const struct cmsghdr *c)
{
	return (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
}

/* Close every fd a peek installed; > 0 when it returned SCM_RIGHTS. */
static int close_fds(struct msghdr *mh)
{
	int rights = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (!is_fds(c))
			continue;
		rights |= c->cmsg_type == SCM_RIGHTS;
		for (size_t i = 0; i < n_fds(c); i++)
			close(((int *)CMSG_DATA(c))[i]);
	}
	return rights;
}

static int set_peek_off(const struct peek *p, int off)
{
	if (setsockopt(p->fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return pr_perror("pid %d: fd %d: SO_PEEK_OFF %d", p->s->pid, p->s->fd, off);
	return 0;
}

/* One MSG_PEEK of up to len bytes from offset off: bytes (-EAGAIN: nothing queued there). */
static ssize_t peek_into(struct peek *p, int off, void *buf, size_t len, struct msghdr *mh, int extra,
			 union ctl *ctl)
{
	struct iovec iov = {buf, len};
	ssize_t n;
	int r = set_peek_off(p, off);

	if (r < 0)
		return r;
	*mh = (struct msghdr){
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl->buf, .msg_controllen = CTL_LEN};
	n = recvmsg(p->fd, mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC | extra);
	if (n < 0 && (errno == EAGAIN || errno == EFAULT))
		return -errno;
	if (n < 0)
		return pr_perror("pid %d: fd %d: peeking at its queue", p->s->pid, p->s->fd);
	return n;
}

static ssize_t peek_one(struct peek *p, int off, size_t len, struct msghdr *mh, int extra)
{
	return peek_into(p, off, p->buf, len, mh, extra, &p->ctl);
}

static int refuse_cmsg(const struct sk_ref *s, const struct cmsghdr *c, bool trunc)
{
	if (trunc)
		return pr_err("pid %d: fd %d: a queued message carries more control data than a peek can "
			      "take: not supported",
			      s->pid, s->fd),
		       -ENOTSUP;
	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
		return pr_err("pid %d: fd %d: queued messages with credentials (SO_PASSCRED, "
			      "SCM_CREDENTIALS): not supported",
			      s->pid, s->fd),
		       -ENOTSUP;
	return pr_err("pid %d: fd %d: queued messages with control data of level %d type %d: not "
		      "supported",
		      s->pid, s->fd, c->cmsg_level, c->cmsg_type),
	       -ENOTSUP;
}

static int add_file(ScmEntry *m, uint32_t id)
{
	uint32_t *nv = realloc(m->files, (m->n_files + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	m->files = nv;
	nv[m->n_files++] = id;
	return 0;
}

/*
 * The files of one peeked message, in order, to m (taken by p->scm); anything else than
 * SCM_RIGHTS is refused. Every fd the peek installed is kept or closed.
 */
static int take_files(struct peek *p, struct msghdr *mh, ScmEntry *m)
{
	int r = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		bool rights = c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS;

		if (!rights && r == 0)
			r = refuse_cmsg(p->s, c, false);
		for (size_t i = 0; is_fds(c) && i < n_fds(c); i++) {
			int fd = ((int *)CMSG_DATA(c))[i];
			uint32_t id;

			if (!rights || r < 0) {
				close(fd);
				continue;
			}
			r = scm_take(p->scm, p->s, fd, &id); /* fd is its now */
			if (r == 0)
				r = add_file(m, id);
		}
	}
	if (r == 0 && (mh->msg_flags & MSG_CTRUNC))
		r = refuse_cmsg(p->s, NULL, true);
	return r;
}

static int add_scm(struct sk_queue *q, ScmEntry **ret)
{
	ScmEntry **nv = realloc(q->scm, (q->n_scm + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	q->scm = nv;
	nv[q->n_scm] = calloc(1, sizeof(**nv));
	if (!nv[q->n_scm])
		return -ENOMEM;
	scm_entry__init(nv[q->n_scm]);
	*ret = nv[q->n_scm++];
	return 0;
}

/* A peeked message: kept in q when it carries files. */
static int note_message(struct peek *p, struct msghdr *mh, struct sk_queue *q, uint64_t at, uint64_t len)
{
	ScmEntry *m;
	int r;

	if (!CMSG_FIRSTHDR(mh) && !(mh->msg_flags & MSG_CTRUNC))
		return 0;
	r = add_scm(q, &m);
	if (r < 0) {
		close_fds(mh);
		return r;
	}
	m->at = at;
	m->has_len = p->s->d->type == SOCK_STREAM;
	m->len = len;
	r = take_files(p, mh, m);
	if (r == 0 && !m->n_files) { /* control data without files: nothing to keep */
		scm_entry__free_unpacked(m, NULL);
		q->n_scm--;
	}
	return r;
}

/*
 * Where the message with files that a peek of n bytes from off ended with starts. A peek of a
 * stream goes on past the bytes asked for to the next message with files and returns those
 * (the loop of unix_stream_read_generic() takes the next skb before it checks the size), so
 * smaller peeks do not tell. But each skb is copied whole or not at all: a peek into a buffer
 * whose byte n - 1 is the first of a page we cannot write copies every skb before that message
 * and fails on it (EFAULT when it is the first one), before it takes its files.
 */
static int message_start(struct peek *p, int off, size_t n, size_t *ret)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = ((n - 1 + pg - 1) / pg + 1) * pg;
	uint8_t *m;
	struct msghdr mh;
	union ctl ctl;
	ssize_t got;

	*ret = 0;
	if (n <= 1)
		return 0;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return pr_perror("mapping %zu bytes", len);
	if (mprotect(m + len - pg, pg, PROT_NONE) < 0) {
		munmap(m, len);
		return pr_perror("mprotect");
	}
	got = peek_into(p, off, m + len - pg - (n - 1), n, &mh, 0, &ctl);
	munmap(m, len);
	if (got == -EFAULT)
		return 0;
	if (got < 0)
		return (int)got;
	if (close_fds(&mh) || (size_t)got >= n)
		return pr_err("pid %d: fd %d: cannot find where a queued message with files starts",
			      p->s->pid, p->s->fd),
		       -EIO;
	*ret = (size_t)got;
	return 0;
}

static int grow(struct peek *p, size_t size)
{
	uint8_t *nb = realloc(p->buf, size);

	if (!nb)
		return -ENOMEM;
	p->buf = nb;
	p->size = size;
	return 0;
}

static int append(struct sk_queue *q, const uint8_t *buf, size_t n)
{
	uint8_t *nd = realloc(q->data, q->len + n + 1);

	if (!nd)
		return -ENOMEM;
	q->data = nd;
	memcpy(q->data + q->len, buf, n);
	q->len += n;
	return 0;
}

/* One peek at off: its bytes appended to q; > 0 once the queue is read to its end. */
static int stream_step(struct peek *p, struct sk_queue *q, int *off)
{
	struct msghdr mh;
	ssize_t n = peek_one(p, *off, p->size, &mh, 0);
	size_t start = 0;
	int r;

	if (n == -EAGAIN || n == 0) /* empty, or shut down for reading (reads as end of file) */
		return 1;
	if (n < 0)
		return (int)n;
	if ((size_t)n == p->size && close_fds(&mh)) /* the message may go on: peek it whole */
		return p->size >= MAX_STREAM ? -E2BIG : grow(p, p->size * 2);
	if (q->len + (size_t)n > MAX_STREAM) {
		close_fds(&mh);
		return -E2BIG;
	}
	r = append(q, p->buf, (size_t)n);
	if (r == 0 && (CMSG_FIRSTHDR(&mh) || (mh.msg_flags & MSG_CTRUNC)))
		r = message_start(p, *off, (size_t)n, &start);
	if (r < 0) {
		close_fds(&mh);
		return r;
	}
	r = note_message(p, &mh, q, (uint64_t)*off + start, (uint64_t)n - start);
	*off += (int)n;
	return r;
}

static int peek_stream(struct peek *p, struct sk_queue *q)
{
	socklen_t sl = sizeof(int);
	int size = 0, off = 0, r;

	if (getsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size, &sl) < 0)
		return pr_perror("pid %d: fd %d: SO_RCVBUF", p->s->pid, p->s->fd);
	r = grow(p, (size_t)MAX(size, 4096));
	while (r == 0)
		r = stream_step(p, q, &off);
	if (r == -E2BIG)
		return pr_err("pid %d: fd %d: more than %u bytes queued: not supported", p->s->pid, p->s->fd,
			      MAX_STREAM),
		       -ENOTSUP;
	return r < 0 ? r : 0;
}

static int add_record(struct sk_queue *q, const uint8_t *buf, size_t len)
{
	ProtobufCBinaryData *nv = realloc(q->recs, (q->n_recs + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	q->recs = nv;
	nv[q->n_recs].len = len;
	nv[q->n_recs].data = malloc(len ?: 1);
	if (!nv[q->n_recs].data)
		return -ENOMEM;
	memcpy(nv[q->n_recs].data, buf, len);
	q->n_recs++;
	return 0;
}

/* Each MSG_PEEK of a datagram or seqpacket socket returns one record (and its files). */
static int peek_records(struct peek *p, struct sk_queue *q)
{
	int r = grow(p, MAX_RECORD), off = 0;

	while (r == 0) {
		struct msghdr mh;
		ssize_t got = peek_one(p, off, MAX_RECORD, &mh, MSG_TRUNC);

		if (got == -EAGAIN)
			return 0;
		if (got < 0)
			return (int)got;
		/* Shut down for reading, an empty queue reads as end of file (0), not EAGAIN. */
		if (got == 0 && (p->s->d->shutdown & 1) && !CMSG_FIRSTHDR(&mh))
			return 0;
		if ((size_t)got > MAX_RECORD || q->n_recs >= MAX_RECORDS) {
			close_fds(&mh);
			return pr_err("pid %d: fd %d: queued datagrams beyond %u of up to %u bytes are not "
				      "supported",
				      p->s->pid, p->s->fd, MAX_RECORDS, MAX_RECORD),
			       -ENOTSUP;
		}
		r = note_message(p, &mh, q, q->n_recs, 0);
		if (r == 0)
			r = add_record(q, p->buf, (size_t)got);
		off += (int)got;
	}
	return r;
}

/* A copy of s taken with pidfd_getfd(2), refused when the task set a peek offset itself. */
static int grab_for_peek(const struct sk_ref *s)
{
	_cleanup_close_ int fd = pipes_grab_fd(s->pid, s->fd);
	socklen_t sl = sizeof(int);
	int off = -1;

	if (fd < 0)
		return fd;
	/* With a peek offset set, MSG_PEEK would start there and move it (socket(7)). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, &sl) == 0 && off >= 0)
		return pr_err("pid %d: fd %d: SO_PEEK_OFF is not supported yet", s->pid, s->fd), -ENOTSUP;
	return TAKE_FD(fd);
}

void unixsk_queue_free(struct sk_queue *q)
{
	free(q->data);
	for (size_t i = 0; i < q->n_recs; i++)
		free(q->recs[i].data);
	free(q->recs);
	for (size_t i = 0; i < q->n_scm; i++)
		scm_entry__free_unpacked(q->scm[i], NULL);
	free(q->scm);
	memset(q, 0, sizeof(*q));
}

int unixsk_peek_queue(const struct sk_ref *s, struct scm_set *scm, struct sk_queue *ret)
{
	struct peek p = {.s = s, .scm = scm, .fd = grab_for_peek(s)};
	int r;

	memset(ret, 0, sizeof(*ret));
	if (p.fd < 0)
		return p.fd;
	r = s->d->type == SOCK_STREAM ? peek_stream(&p, ret) : peek_records(&p, ret);
	if (setsockopt(p.fd, SOL_SOCKET, SO_PEEK_OFF, &(int){-1}, sizeof(int)) < 0 && r == 0)
		r = pr_perror("pid %d: fd %d: SO_PEEK_OFF", s->pid, s->fd);
	close(p.fd);
	free(p.buf);
	if (r < 0)
		unixsk_queue_free(ret);
	return r;
}
