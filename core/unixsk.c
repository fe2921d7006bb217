/* SPDX-License-Identifier: MIT */
/*
 * Dump side of unix socketpairs. Which sockets are unix ones, their peers and names come
 * from one NETLINK_SOCK_DIAG dump request (sock_diag(7), linux/unix_diag.h). The queued bytes
 * are read without consuming them: a copy of the end taken with pidfd_getfd(2) is read with
 * MSG_PEEK, which leaves the receive queue as it was (recv(2)).
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include "image.h"
#include "log.h"
#include "pipes.h"
#include "unixsk.h"

struct sk_diag {
	uint64_t ino, peer; /* peer 0: not connected */
	uint8_t type;
	bool named;
};

/* The first fd of the tree that holds a socket. */
struct sk_ref {
	uint64_t ino;
	pid_t pid;
	int fd;
	uint32_t flags;
	const struct sk_diag *d;
};

struct sk_list {
	struct sk_diag *v;
	size_t n;
};

static int diag_add(struct sk_list *l, const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct sk_diag d = {.ino = m->udiag_ino, .type = m->udiag_type}, *nv;

	if (len < 0)
		return pr_err("sock_diag: short unix record"), -EBADMSG;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_NAME)
			d.named = true;
		else if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			d.peer = *(const uint32_t *)RTA_DATA(a);
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n++] = d;
	return 0;
}

/* One reply datagram: > 0 once NLMSG_DONE is seen. */
static int diag_parse(struct sk_list *l, const void *buf, ssize_t n)
{
	int len = (int)n, r;

	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			return pr_err_errno(e->error ?: -EPROTO, "sock_diag: unix sockets");
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		r = diag_add(l, h);
		if (r < 0)
			return r;
	}
	return 0;
}

static int diag_dump(struct sk_list *l)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = {.nlmsg_len = sizeof(req),
		      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.r = {.sdiag_family = AF_UNIX,
		      .udiag_states = ~0u,
		      .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME},
	};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	_cleanup_close_ int sk = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_cleanup_free_ char *buf = malloc(32768);
	int r = 0;

	if (sk < 0)
		return pr_perror("socket(NETLINK_SOCK_DIAG)");
	if (!buf)
		return -ENOMEM;
	if (sendto(sk, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return pr_perror("sock_diag: sending the request for unix sockets");
	while (r == 0) {
		ssize_t n = recv(sk, buf, 32768, 0);

		if (n < 0)
			return pr_perror("sock_diag: reading the unix sockets");
		if (n == 0)
			return pr_err("sock_diag: unix socket list ends early"), -EPROTO;
		r = diag_parse(l, buf, n);
	}
	return r < 0 ? r : 0;
}

static const struct sk_diag *find_diag(const struct sk_list *l, uint64_t ino)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ino == ino)
			return &l->v[i];
	return NULL;
}

static struct sk_ref *find_ref(struct sk_ref *v, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ino == ino)
			return &v[i];
	return NULL;
}

static int collect(const struct pstree *t, const struct fd_list *fds, struct sk_ref **ret, size_t *ret_n)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++) {
			const FdEntry *e = fds[i].v[k];
			struct sk_ref *nv;

			if (e->kind != FD_KIND__FD_UNIX || find_ref(*ret, *ret_n, e->sk_id))
				continue;
			nv = realloc(*ret, (*ret_n + 1) * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			*ret = nv;
			nv[(*ret_n)++] = (struct sk_ref){.ino = e->sk_id,
							 .pid = t->tasks[i]->pid,
							 .fd = (int)e->fd,
							 .flags = e->flags};
		}
	return 0;
}

/* A socket that is not half of a socketpair held in the tree: whatever the restorer hands in. */
static void make_external(struct fd_list *fds, size_t n_tasks, uint64_t ino)
{
	for (size_t i = 0; i < n_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_UNIX && fds[i].v[k]->sk_id == ino)
				fds[i].v[k]->kind = FD_KIND__FD_EXTERNAL;
}

static bool is_internal(const struct sk_ref *s, struct sk_ref *v, size_t n)
{
	const struct sk_diag *peer;

	if (!s->d || s->d->named || !s->d->peer || !find_ref(v, n, s->d->peer))
		return false;
	peer = find_ref(v, n, s->d->peer)->d;
	return peer && !peer->named && peer->peer == s->ino && peer->type == s->d->type;
}

/* Refuse what the queue holds beyond plain bytes; close any fds the peek handed us. */
static int check_cmsgs(const struct sk_ref *s, struct msghdr *mh)
{
	bool any = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		any = true;
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(c))[i]);
	}
	if (any || (mh->msg_flags & MSG_CTRUNC))
		return pr_err("pid %d: fd %d: queued file descriptors are not supported yet", s->pid, s->fd),
		       -ENOTSUP;
	return 0;
}

/* recv(MSG_PEEK) into a buffer doubled until the whole queue fits. */
static int peek_stream(const struct sk_ref *s, int fd, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char ctl[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred))];
	socklen_t sl = sizeof(int);
	int size = 0;
	ssize_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &sl) < 0)
		return pr_perror("pid %d: fd %d: SO_RCVBUF", s->pid, s->fd);
	for (size = MAX(size, 4096);; size *= 2) {
		struct iovec iov;
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
		uint8_t *nb = realloc(buf, (size_t)size);
		int r;

		if (!nb)
			return -ENOMEM;
		buf = nb;
		iov = (struct iovec){buf, (size_t)size};
		n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno != EAGAIN)
			return pr_perror("pid %d: fd %d: peeking at its queued data", s->pid, s->fd);
		r = n >= 0 ? check_cmsgs(s, &mh) : 0;
		if (r < 0)
			return r;
		if (n < size || size > (1 << 29))
			break;
	}
	*ret_len = n < 0 ? 0 : (size_t)n;
	*ret_data = TAKE_PTR(buf);
	return 0;
}

/* What end s has queued to read. Datagrams are refused: their boundaries are not kept yet. */
static int peek_end(const struct sk_ref *s, uint8_t **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = pipes_grab_fd(s->pid, s->fd);
	socklen_t sl = sizeof(int);
	int off = -1;
	char c;

	*ret_data = NULL;
	*ret_len = 0;
	if (fd < 0)
		return fd;
	/* With a peek offset set, MSG_PEEK would start there and move it (socket(7)). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, &sl) == 0 && off >= 0)
		return pr_err("pid %d: fd %d: SO_PEEK_OFF is not supported yet", s->pid, s->fd), -ENOTSUP;
	if (s->d->type == SOCK_STREAM)
		return peek_stream(s, fd, ret_data, ret_len);
	/* A zero-length datagram counts too: recv returns 0 for it, -EAGAIN for an empty queue. */
	if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
		return pr_err("pid %d: fd %d: queued datagrams are not supported yet", s->pid, s->fd),
		       -ENOTSUP;
	if (errno != EAGAIN)
		return pr_perror("pid %d: fd %d: peeking at its queue", s->pid, s->fd);
	return 0;
}

static int write_pair(struct img *img, const struct sk_ref *a, const struct sk_ref *b)
{
	UnixPairEntry ue = UNIX_PAIR_ENTRY__INIT;
	_cleanup_free_ uint8_t *da = NULL, *db = NULL;
	int r;

	r = peek_end(a, &da, &ue.data_a.len);
	if (r == 0)
		r = peek_end(b, &db, &ue.data_b.len);
	if (r < 0)
		return r;
	ue.id_a = a->ino;
	ue.id_b = b->ino;
	ue.type = a->d->type;
	ue.has_flags_a = ue.has_flags_b = true;
	ue.flags_a = a->flags;
	ue.flags_b = b->flags;
	ue.has_data_a = ue.data_a.len > 0;
	ue.data_a.data = da;
	ue.has_data_b = ue.data_b.len > 0;
	ue.data_b.data = db;
	return img_write_msg(img, &ue.base);
}

static int write_pairs(int dirfd, struct sk_ref *v, size_t n)
{
	struct img *img;
	int r = img_create(dirfd, "unixsk.img", IMG_UNIX, &img);

	if (r < 0)
		return r;
	/* Each pair once, from its end with the lower inode. */
	for (size_t i = 0; i < n && r >= 0; i++)
		if (v[i].d->peer > v[i].ino)
			r = write_pair(img, &v[i], find_ref(v, n, v[i].d->peer));
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

int unixsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds)
{
	_cleanup_free_ struct sk_ref *v = NULL;
	struct sk_list l = {};
	size_t n = 0, k = 0;
	int r;

	r = collect(t, fds, &v, &n);
	if (r == 0 && n)
		r = diag_dump(&l);
	for (size_t i = 0; i < n && r == 0; i++)
		v[i].d = find_diag(&l, v[i].ino);
	/*
	 * Keep only the sockets whose peer is held too; the rest go out as external fds. The kept
	 * set holds the peer of each of its sockets, so compacting it in place loses none.
	 */
	for (size_t i = 0; i < n && r == 0; i++)
		if (!is_internal(&v[i], v, n))
			make_external(fds, t->nr_tasks, v[i].ino);
	for (size_t i = 0; i < n && r == 0; i++)
		if (is_internal(&v[i], v, n))
			v[k++] = v[i];
	if (r == 0)
		r = write_pairs(dirfd, v, k);
	free(l.v);
	return r;
}
