/* SPDX-License-Identifier: MIT */
/*
 * Dump side of unix sockets. Which sockets are unix ones, their peers, names, queues and
 * listeners' queues come from one NETLINK_SOCK_DIAG dump request (sock_diag(7),
 * linux/unix_diag.h). Plain stream socketpairs go to unixsk.img here, the rest to
 * unixsk-sk.img (unixsk-bound.c). Queued data is read without consuming it: a copy of the
 * socket taken with pidfd_getfd(2) is read with MSG_PEEK, which leaves the receive queue as
 * it was (recv(2)).
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

static void diag_attr(struct sk_diag *d, const struct rtattr *a)
{
	size_t len = RTA_PAYLOAD(a);

	switch (a->rta_type) {
	case UNIX_DIAG_NAME:
		d->name_len = (uint32_t)MIN(len, sizeof(d->name));
		memcpy(d->name, RTA_DATA(a), d->name_len);
		break;
	case UNIX_DIAG_PEER:
		if (len >= sizeof(uint32_t)) {
			d->peer = *(const uint32_t *)RTA_DATA(a);
			d->has_peer = true;
		}
		break;
	case UNIX_DIAG_SHUTDOWN:
		if (len >= 1)
			d->shutdown = *(const uint8_t *)RTA_DATA(a);
		break;
	case UNIX_DIAG_RQLEN:
		if (len >= sizeof(struct unix_diag_rqlen)) {
			const struct unix_diag_rqlen *q = RTA_DATA(a);

			d->rqueue = q->udiag_rqueue;
			d->wqueue = q->udiag_wqueue;
		}
		break;
	case UNIX_DIAG_VFS:
		if (len >= sizeof(struct unix_diag_vfs)) {
			d->vfs_ino = ((const struct unix_diag_vfs *)RTA_DATA(a))->udiag_vfs_ino;
			d->vfs_dev = ((const struct unix_diag_vfs *)RTA_DATA(a))->udiag_vfs_dev;
			d->has_vfs = true;
		}
		break;
	}
}

static int diag_add(struct sk_list *l, const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	struct sk_diag d = {.ino = m->udiag_ino, .type = m->udiag_type, .state = m->udiag_state}, *nv;

	if (len < 0)
		return pr_err("sock_diag: short unix record"), -EBADMSG;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		diag_attr(&d, a);
		if (a->rta_type == UNIX_DIAG_ICONS && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
			d.n_icons = RTA_PAYLOAD(a) / sizeof(uint32_t);
			d.icons = malloc(d.n_icons * sizeof(uint32_t));
			if (!d.icons)
				return -ENOMEM;
			memcpy(d.icons, RTA_DATA(a), d.n_icons * sizeof(uint32_t));
		}
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(d.icons);
		return -ENOMEM;
	}
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
		      .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_ICONS |
				    UDIAG_SHOW_RQLEN},
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

const struct sk_diag *unixsk_find_diag(const struct sk_list *l, uint64_t ino)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ino == ino)
			return &l->v[i];
	return NULL;
}

struct sk_ref *unixsk_find_ref(struct sk_ref *v, size_t n, uint64_t ino)
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

			if (e->kind != FD_KIND__FD_UNIX || unixsk_find_ref(*ret, *ret_n, e->sk_id))
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
void unixsk_make_external(struct fd_list *fds, size_t n_tasks, uint64_t ino)
{
	for (size_t i = 0; i < n_tasks; i++)
		for (size_t k = 0; k < fds[i].n; k++)
			if (fds[i].v[k]->kind == FD_KIND__FD_UNIX && fds[i].v[k]->sk_id == ino)
				fds[i].v[k]->kind = FD_KIND__FD_EXTERNAL;
}

/* A stream socketpair held at both ends, neither shut down: unixsk.img. */
static bool is_plain_pair(const struct sk_ref *s, struct sk_ref *v, size_t n)
{
	const struct sk_ref *p;
	const struct sk_diag *peer;

	if (!s->d || s->d->name_len || !s->d->peer || s->d->type != SOCK_STREAM || s->d->shutdown)
		return false;
	p = unixsk_find_ref(v, n, s->d->peer);
	peer = p ? p->d : NULL;
	return peer && !peer->name_len && peer->peer == s->ino && peer->type == s->d->type && !peer->shutdown;
}

static int write_pair_entry(struct img *img, const struct sk_ref *a, const struct sk_ref *b,
			    const struct sk_queue *qa, const struct sk_queue *qb, UnixPairEntry *ue)
{
	ue->id_a = a->ino;
	ue->id_b = b->ino;
	ue->type = a->d->type;
	ue->has_flags_a = ue->has_flags_b = true;
	ue->flags_a = a->flags;
	ue->flags_b = b->flags;
	ue->has_data_a = qa->len > 0;
	ue->data_a = (ProtobufCBinaryData){qa->len, qa->data};
	ue->has_data_b = qb->len > 0;
	ue->data_b = (ProtobufCBinaryData){qb->len, qb->data};
	return img_write_msg(img, &ue->base);
}

/* A pair with files in flight goes to unixsk-sk.img instead (a->plain, b->plain cleared). */
static int write_pair(struct img *img, struct sk_ref *a, struct sk_ref *b, struct scm_set *scm)
{
	UnixPairEntry ue = UNIX_PAIR_ENTRY__INIT;
	struct sk_queue qa = {}, qb = {};
	int r;

	r = unixsk_peek_queue(a, scm, &qa);
	if (r == 0)
		r = unixsk_peek_queue(b, scm, &qb);
	if (r == 0 && (qa.n_scm || qb.n_scm))
		a->plain = b->plain = false;
	else if (r == 0)
		r = write_pair_entry(img, a, b, &qa, &qb, &ue);
	unixsk_queue_free(&qa);
	unixsk_queue_free(&qb);
	return r;
}

static int write_pairs(int dirfd, struct sk_ref *v, size_t n, struct scm_set *scm)
{
	struct img *img;
	int r = img_create(dirfd, "unixsk.img", IMG_UNIX, &img);

	if (r < 0)
		return r;
	/* Each pair once, from its end with the lower inode. */
	for (size_t i = 0; i < n && r >= 0; i++)
		if (v[i].plain && v[i].d->peer > v[i].ino)
			r = write_pair(img, &v[i], unixsk_find_ref(v, n, v[i].d->peer), scm);
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

static void diag_free(struct sk_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].icons);
	free(l->v);
}

int unixsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds, bool ext_unix_sk, struct scm_set *scm)
{
	_cleanup_free_ struct sk_ref *v = NULL, *rest = NULL;
	struct sk_list l = {};
	size_t n = 0, m = 0;
	int r;

	r = collect(t, fds, &v, &n);
	if (r == 0 && n)
		r = diag_dump(&l);
	rest = calloc(n ?: 1, sizeof(*rest));
	if (!rest)
		r = -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		v[i].d = unixsk_find_diag(&l, v[i].ino);
	for (size_t i = 0; i < n && r == 0; i++)
		v[i].plain = is_plain_pair(&v[i], v, n);
	/* Plain stream pairs go to unixsk.img, the rest (pairs with files in flight too) to unixsk-sk.img. */
	if (r == 0)
		r = write_pairs(dirfd, v, n, scm);
	for (size_t i = 0; i < n && r == 0; i++)
		if (!v[i].plain)
			rest[m++] = v[i];
	if (r == 0)
		r = unixsk_bound_dump(dirfd, t, fds, &l, rest, m, ext_unix_sk, scm);
	diag_free(&l);
	return r;
}
