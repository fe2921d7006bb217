/* SPDX-License-Identifier: MIT */
/*
 * Dump side of the unix sockets that are not plain stream socketpairs: bound to a path or
 * an abstract name, listening (with the clients still on its queue, which sock_diag lists
 * oldest first as UNIX_DIAG_ICONS), accepted, unconnected, datagram and seqpacket pairs,
 * connected to a peer outside the tree (--ext-unix-sk). One unix_sk_entry each in
 * unixsk-sk.img, the clients pending on a listener last, in the order of its queue, so that
 * connecting them again in record order queues them as they were.
 *
 * An accepted socket has no address of its own: getsockname(2) gives the listener's
 * (unix(7)). A named connected stream socket is taken for an accepted one when a listener
 * with that name exists (or its peer in the tree has no name: its listener is gone).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <netinet/tcp.h>
#include "image.h"
#include "log.h"
#include "unixsk.h"
#include "unixsk.pb-c.h"

#define ST_ESTABLISHED 1  /* TCP_ESTABLISHED: connected */
#define ST_LISTEN      10 /* TCP_LISTEN */

struct bound_ctx {
	const struct pstree *t;
	struct fd_list *fds;
	const struct sk_list *l;
	struct sk_ref *v;
	size_t n;
	bool ext;
	struct scm_set *scm;
	UnixSkEntry *e; /* [n], e[i] for v[i] */
	bool *keep;	/* [n]: recorded (not external) */
};

static void name_str(const uint8_t *name, uint32_t len, char *buf, size_t size)
{
	if (len && name[0] == '\0')
		snprintf(buf, size, "@%.*s", (int)(len - 1), (const char *)name + 1);
	else
		snprintf(buf, size, "%.*s", (int)strnlen((const char *)name, len), (const char *)name);
}

static const struct sk_diag *listener_named(const struct sk_list *l, const struct sk_diag *d)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct sk_diag *o = &l->v[i];

		if (o->state == ST_LISTEN && o->type == d->type && o->name_len == d->name_len &&
		    !memcmp(o->name, d->name, d->name_len) &&
		    (!d->has_vfs || !o->has_vfs || o->vfs_ino == d->vfs_ino))
			return o;
	}
	return NULL;
}

/* The listener (of the system) on whose queue socket ino waits, or NULL. */
static const struct sk_diag *pending_on(const struct sk_list *l, uint64_t ino)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < l->v[i].n_icons; k++)
			if (l->v[i].icons[k] == ino)
				return &l->v[i];
	return NULL;
}

static ssize_t idx_of(const struct bound_ctx *c, uint64_t ino)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].ino == ino)
			return (ssize_t)i;
	return -1;
}

/* Is the socket file at name (relative to dirfd) the one of socket d? */
static bool is_its_file(int dirfd, const char *name, const struct sk_diag *d, struct stat *st)
{
	/* sock_diag gives the kernel's dev_t: 12 bits of major above 20 of minor (kdev_t.h) */
	dev_t dev = makedev((unsigned int)(d->vfs_dev >> 20), (unsigned int)(d->vfs_dev & 0xfffff));

	return fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st->st_mode) && d->has_vfs &&
	       st->st_ino == d->vfs_ino && st->st_dev == dev;
}

/*
 * A relative name (unix(7): bound from the binder's cwd) is only that name in sock_diag and
 * getsockname(2): the directory is the cwd of a task of the tree where that name is this
 * socket's file (its holder's first). None: the binder moved since, or the file is gone.
 */
static int find_dir(const struct bound_ctx *c, const struct sk_ref *s, const char *name, UnixSkEntry *e,
		    struct stat *st)
{
	for (size_t i = 0; i <= c->t->nr_tasks; i++) {
		pid_t pid = i ? c->t->tasks[i - 1]->pid : s->pid;
		_cleanup_close_ int dfd = -EBADF;
		char cwd[64];
		int r;

		snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", pid);
		if ((i && c->t->tasks[i - 1]->zombie) ||
		    (dfd = open(cwd, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		if (!is_its_file(dfd, name, s->d, st))
			continue;
		r = readlink_malloc(AT_FDCWD, cwd, &e->dir);
		if (r < 0)
			return pr_err_errno(r, "pid %d: reading its cwd", pid);
		return 0;
	}
	return pr_err("pid %d: fd %d: unix socket bound to the relative path '%s', which is not its "
		      "socket file from the cwd of any task of the tree (moved since bind, or "
		      "unlinked): not supported",
		      s->pid, s->fd, name),
	       -ENOTSUP;
}

static int set_name(const struct bound_ctx *c, const struct sk_ref *s, UnixSkEntry *e)
{
	const struct sk_diag *d = s->d;
	char path[sizeof(d->name) + 1];
	struct stat st;
	int r;

	e->has_name = true;
	e->name.len = d->name_len;
	e->name.data = (uint8_t *)d->name;
	if (d->name[0] == '\0')
		return 0; /* abstract */
	name_str(d->name, d->name_len, path, sizeof(path));
	if (path[0] != '/') {
		r = find_dir(c, s, path, e, &st);
		if (r < 0)
			return r;
	} else if (!is_its_file(AT_FDCWD, path, d, &st)) {
		e->has_name_gone = e->name_gone = true;
		return 0;
	}
	e->has_mode = e->has_uid = e->has_gid = true;
	e->mode = st.st_mode & 07777;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	return 0;
}

/* A peer outside the tree: an external fd, or (--ext-unix-sk) its address. */
static int outside_peer(struct bound_ctx *c, size_t i, const struct sk_diag *peer)
{
	const struct sk_ref *s = &c->v[i];
	UnixSkEntry *e = &c->e[i];

	if (!c->ext) {
		c->keep[i] = false;
		return 0;
	}
	if (!peer || !peer->name_len)
		return pr_err("pid %d: fd %d: unix socket connected to a peer outside the tree that has no "
			      "address: not supported",
			      s->pid, s->fd),
		       -ENOTSUP;
	if (peer->name[0] != '\0' && peer->name[0] != '/')
		return pr_err("pid %d: fd %d: unix socket connected to a peer outside the tree bound to a "
			      "relative path: not supported",
			      s->pid, s->fd),
		       -ENOTSUP;
	e->has_ext_peer = true;
	e->ext_peer.len = peer->name_len;
	e->ext_peer.data = (uint8_t *)peer->name;
	return 0;
}

static int classify_stream(struct bound_ctx *c, size_t i)
{
	const struct sk_ref *s = &c->v[i];
	const struct sk_diag *d = s->d, *li = pending_on(c->l, s->ino), *pd;
	UnixSkEntry *e = &c->e[i];
	ssize_t p;

	if (li) { /* waiting on a listener's queue */
		p = idx_of(c, li->ino);
		if (d->wqueue)
			return pr_err("pid %d: fd %d: %u bytes sent on a connection not accepted yet: not "
				      "supported",
				      s->pid, s->fd, d->wqueue),
			       -ENOTSUP;
		if (p < 0)
			return outside_peer(c, i, li);
		e->has_pending_on = true;
		e->pending_on = li->ino;
		return 0;
	}
	if (d->state != ST_ESTABLISHED)
		return 0; /* unconnected */
	if (!d->peer) {
		e->has_peer_gone = e->peer_gone = true;
		return 0;
	}
	p = idx_of(c, d->peer);
	pd = unixsk_find_diag(c->l, d->peer);
	if (p < 0)
		return outside_peer(c, i, pd);
	e->has_peer = true;
	e->peer = d->peer;
	if (!d->name_len)
		return 0;
	li = listener_named(c->l, d);
	if (!li && pd && pd->name_len)
		return pr_err("pid %d: fd %d: connected named unix sockets whose listener is gone: not "
			      "supported",
			      s->pid, s->fd),
		       -ENOTSUP;
	e->has_accepted_from = true;
	e->accepted_from = li && idx_of(c, li->ino) >= 0 ? li->ino : 0;
	return 0;
}

static int classify(struct bound_ctx *c, size_t i)
{
	const struct sk_ref *s = &c->v[i];
	const struct sk_diag *d = s->d;
	UnixSkEntry *e = &c->e[i];
	int r;

	unix_sk_entry__init(e);
	c->keep[i] = true;
	if (!d)
		return pr_err("pid %d: fd %d: its unix socket is not listed by sock_diag", s->pid, s->fd),
		       -ENOENT;
	e->id = s->ino;
	e->type = d->type;
	e->has_flags = true;
	e->flags = s->flags;
	if (d->shutdown) {
		e->has_shutdown = true;
		e->shutdown = d->shutdown;
	}
	if (d->state == ST_LISTEN) {
		e->has_listening = e->has_backlog = true;
		e->listening = true;
		e->backlog = d->wqueue; /* a listener's max_ack_backlog */
	}
	if (d->type == SOCK_DGRAM) {
		if (d->has_peer && d->peer) {
			ssize_t p = idx_of(c, d->peer);

			if (p < 0)
				r = outside_peer(c, i, unixsk_find_diag(c->l, d->peer));
			else
				e->has_peer = true, e->peer = d->peer, r = 0;
			if (r < 0)
				return r;
		}
	} else if (d->state != ST_LISTEN) {
		r = classify_stream(c, i);
		if (r < 0)
			return r;
	}
	if (d->name_len && !e->has_accepted_from)
		return set_name(c, s, e);
	return 0;
}

/* Every socket a kept one refers to is kept too: it is made in the same restore. */
static int check_refs(const struct bound_ctx *c, size_t i)
{
	const UnixSkEntry *e = &c->e[i];
	uint64_t refs[3] = {e->has_peer ? e->peer : 0, e->has_accepted_from ? e->accepted_from : 0,
			    e->has_pending_on ? e->pending_on : 0};

	for (size_t k = 0; k < 3; k++) {
		ssize_t p = refs[k] ? idx_of(c, refs[k]) : 0;

		if (refs[k] && (p < 0 || !c->keep[p]))
			return pr_err("pid %d: fd %d: its unix socket is connected to one that cannot be "
				      "restored (pid %d fd %d)",
				      c->v[i].pid, c->v[i].fd, p >= 0 ? c->v[p].pid : 0,
				      p >= 0 ? c->v[p].fd : -1),
			       -ENOTSUP;
	}
	return 0;
}

/*
 * The datagrams of a datagram socket bound to a name are sent again before any connection
 * is made (rst-unixsk.c): no accepted socket exists yet to go in flight with them.
 */
static int check_early_files(const struct bound_ctx *c, size_t i)
{
	const UnixSkEntry *e = &c->e[i];

	for (size_t k = 0; e->type == SOCK_DGRAM && e->has_name && k < e->n_scm; k++)
		for (size_t f = 0; f < e->scm[k]->n_files; f++) {
			const FdEntry *fe = c->scm->fl->v[e->scm[k]->files[f]];
			ssize_t p = fe->kind == FD_KIND__FD_UNIX ? idx_of(c, fe->sk_id) : -1;

			if (p >= 0 && c->e[p].has_accepted_from)
				return pr_err("pid %d: fd %d: an accepted unix socket in flight at a "
					      "datagram "
					      "socket bound to a name: not supported",
					      c->v[i].pid, c->v[i].fd),
				       -ENOTSUP;
		}
	return 0;
}

/* Who will send what is queued at i again: refuse what no restore can queue. */
static int queue_data(struct bound_ctx *c, size_t i)
{
	const struct sk_ref *s = &c->v[i];
	UnixSkEntry *e = &c->e[i];
	bool from_peer = e->has_peer && !e->has_ext_peer, any;
	struct sk_queue q;
	int r;

	if (e->listening || e->has_pending_on)
		return 0;
	r = unixsk_peek_queue(s, c->scm, &q);
	if (r < 0)
		return r;
	e->has_data = q.len > 0;
	e->data = (ProtobufCBinaryData){q.len, q.data};
	e->dgrams = q.recs;
	e->n_dgrams = q.n_recs;
	e->scm = q.scm;
	e->n_scm = q.n_scm;
	any = e->data.len || e->n_dgrams;
	/* a datagram socket with an address gets its datagrams from a socket of ours */
	if (!any || e->peer_gone || from_peer || (e->type == SOCK_DGRAM && e->has_name))
		return check_early_files(c, i);
	return pr_err("pid %d: fd %d: data queued at a unix socket whose sender cannot be recreated: "
		      "not supported",
		      s->pid, s->fd),
	       -ENOTSUP;
}

static void entries_free(struct bound_ctx *c)
{
	for (size_t i = 0; c->e && i < c->n; i++) {
		free(c->e[i].data.data);
		for (size_t k = 0; k < c->e[i].n_dgrams; k++)
			free(c->e[i].dgrams[k].data);
		free(c->e[i].dgrams);
		for (size_t k = 0; k < c->e[i].n_scm; k++)
			scm_entry__free_unpacked(c->e[i].scm[k], NULL);
		free(c->e[i].scm);
		free(c->e[i].dir);
	}
	free(c->e);
	free(c->keep);
}

static int write_one(struct img *img, const struct bound_ctx *c, size_t i)
{
	return c->keep[i] ? img_write_msg(img, &c->e[i].base) : 0;
}

/* Pending clients last, listener by listener, in the order of each queue. */
static int write_entries(int dirfd, const struct bound_ctx *c)
{
	struct img *img;
	int r = img_create(dirfd, "unixsk-sk.img", IMG_UNIXSK, &img);

	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n && r >= 0; i++)
		if (!c->e[i].has_pending_on)
			r = write_one(img, c, i);
	for (size_t i = 0; i < c->n && r >= 0; i++)
		for (size_t k = 0; c->e[i].listening && k < c->v[i].d->n_icons && r >= 0; k++) {
			ssize_t p = idx_of(c, c->v[i].d->icons[k]);

			if (p >= 0 && c->e[p].has_pending_on)
				r = write_one(img, c, (size_t)p);
		}
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}

int unixsk_bound_dump(int dirfd, const struct pstree *t, struct fd_list *fds, const struct sk_list *l,
		      struct sk_ref *v, size_t n, bool ext_unix_sk, struct scm_set *scm)
{
	struct bound_ctx c = {.t = t, .fds = fds, .l = l, .v = v, .n = n, .ext = ext_unix_sk, .scm = scm};
	int r = 0;

	c.e = calloc(n ?: 1, sizeof(*c.e));
	c.keep = calloc(n ?: 1, sizeof(*c.keep));
	if (!c.e || !c.keep)
		r = -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = classify(&c, i);
	for (size_t i = 0; i < n && r == 0; i++)
		if (!c.keep[i])
			unixsk_make_external(fds, t->nr_tasks, v[i].ino);
	for (size_t i = 0; i < n && r == 0; i++)
		if (c.keep[i])
			r = check_refs(&c, i);
	for (size_t i = 0; i < n && r == 0; i++)
		if (c.keep[i])
			r = queue_data(&c, i);
	if (r == 0)
		r = write_entries(dirfd, &c);
	entries_free(&c);
	return r;
}
