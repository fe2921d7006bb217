/* SPDX-License-Identifier: MIT */
/*
 * Restore side of unixsk-sk.img: unix sockets other than plain stream socketpairs. They are
 * all made by one task, the nearest common ancestor of their holders, before it forks its
 * children (which inherit them), in steps: sockets (a pair of unnamed sockets connected to
 * each other is a socketpair(2)), names bound again, datagrams queued at named sockets sent
 * from a socket of ours, listen(2), then connections in record order: each accepted
 * connection is connect(2)ed to its listener and accept(2)ed at once, the clients pending on
 * a listener come last in the order of its queue, so that they wait there as they did. Then
 * what was queued on connections, sent again by the peer, and shutdown(2) states.
 *
 * Before anything is created, rst_unixsk_load() checks the names: a path held by a socket
 * nobody listens on any more is unlinked when the socket is bound, a path held by anything
 * else, or a name a live socket has, is refused; so is a peer outside the tree
 * (--ext-unix-sk) that is gone.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "image.h"
#include "log.h"
#include "rst.h"

#define NAME_MAX_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

static socklen_t addr_of(const ProtobufCBinaryData *name, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	memcpy(sa->sun_path, name->data, name->len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name->len);
}

/* "/path" or "@abstract", for messages. */
static const char *name_str(const ProtobufCBinaryData *name, char *buf, size_t size)
{
	const char *p = (const char *)name->data;

	if (name->len && p[0] == '\0')
		snprintf(buf, size, "@%.*s", (int)(name->len - 1), p + 1);
	else
		snprintf(buf, size, "%.*s", (int)strnlen(p, name->len), p);
	return buf;
}

struct rst_unixsk *rst_unixsk_find(const struct rst_tree *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_unixsk; i++)
		if (t->unixsk[i].se->id == id)
			return &t->unixsk[i];
	return NULL;
}

/*
 * A relative name (dir set) is bound, probed and connected to from the directory it was bound
 * in (unix(7)): *ret_old is where to come back to with leave_dir (-EBADF: nothing changed).
 */
static int enter_dir(const UnixSkEntry *e, int *ret_old)
{
	_cleanup_close_ int old = -EBADF;

	*ret_old = -EBADF;
	if (!e || !e->dir)
		return 0;
	old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old < 0)
		return pr_perror("socket %" PRIu64 ": opening the current directory", e->id);
	if (chdir(e->dir) < 0)
		return pr_perror("socket %" PRIu64 ": entering '%s', where it was bound", e->id, e->dir);
	*ret_old = TAKE_FD(old);
	return 0;
}

static int leave_dir(int old, int r)
{
	if (old < 0)
		return r;
	if (fchdir(old) < 0 && r >= 0)
		r = pr_perror("going back to the directory the restore runs in");
	close(old);
	return r;
}

/* 1: a socket is bound at name now; 0: nothing is (or only a stale socket file). */
static int probe_name(const ProtobufCBinaryData *name)
{
	_cleanup_close_ int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa;
	socklen_t len = addr_of(name, &sa);

	if (sk < 0)
		return pr_perror("socket(AF_UNIX)");
	/* A datagram socket: connecting one to a listener queues nothing there (EPROTOTYPE). */
	if (connect(sk, (struct sockaddr *)&sa, len) == 0)
		return 1;
	return errno == ECONNREFUSED || errno == ENOENT ? 0 : 1;
}

static int check_name_here(const UnixSkEntry *e)
{
	char buf[NAME_MAX_LEN + 2];
	struct stat st;
	int r;

	if (e->name.data[0] != '\0' && lstat((const char *)e->name.data, &st) == 0 && !S_ISSOCK(st.st_mode))
		return pr_err("socket %" PRIu64
			      ": '%s' is taken by something else than a socket: cannot bind "
			      "it again",
			      e->id, name_str(&e->name, buf, sizeof(buf))),
		       -EEXIST;
	r = probe_name(&e->name);
	if (r < 0)
		return r;
	if (r > 0)
		return pr_err("socket %" PRIu64 ": '%s' is in use by a live socket: cannot bind it again",
			      e->id, name_str(&e->name, buf, sizeof(buf))),
		       -EADDRINUSE;
	return 0;
}

static int check_name(const UnixSkEntry *e)
{
	int old, r = enter_dir(e, &old);

	if (r == 0)
		r = check_name_here(e);
	return leave_dir(old, r);
}

static int check_ext_peer(const UnixSkEntry *e)
{
	char buf[NAME_MAX_LEN + 2];
	int r = probe_name(&e->ext_peer);

	if (r < 0)
		return r;
	if (r == 0)
		return pr_err("socket %" PRIu64
			      ": its peer outside the tree, '%s', is gone: cannot connect it "
			      "again",
			      e->id, name_str(&e->ext_peer, buf, sizeof(buf))),
		       -ECONNREFUSED;
	return 0;
}

static bool name_ok(const ProtobufCBinaryData *n, const char *dir)
{
	/* a path ends in its NUL, an abstract name starts with one; a relative one has its dir */
	return n->len >= 2 && n->len <= NAME_MAX_LEN &&
	       (n->data[0] == '\0' || ((n->data[0] == '/') == !dir && (!dir || dir[0] == '/') &&
				       memchr(n->data, '\0', n->len) == n->data + n->len - 1));
}

static bool entry_ok(const struct rst_tree *t, const UnixSkEntry *e)
{
	const struct rst_unixsk *p = e->has_peer ? rst_unixsk_find(t, e->peer) : NULL;
	const struct rst_unixsk *l = e->has_pending_on ? rst_unixsk_find(t, e->pending_on)
				     : e->has_accepted_from && e->accepted_from
					     ? rst_unixsk_find(t, e->accepted_from)
					     : NULL;
	size_t total = 0;

	if (e->type != SOCK_STREAM && e->type != SOCK_DGRAM && e->type != SOCK_SEQPACKET)
		return false;
	if ((e->has_name && !name_ok(&e->name, e->dir)) ||
	    (e->has_ext_peer && !name_ok(&e->ext_peer, NULL)) || (e->dir && !e->has_name))
		return false;
	if ((e->has_peer && (!p || p->se->type != e->type)) ||
	    (e->has_pending_on && (!l || !l->se->listening)) ||
	    (e->has_accepted_from && e->accepted_from && (!l || !l->se->listening || !l->se->has_name)))
		return false;
	/* what each kind of socket can be */
	if ((e->listening && (e->type == SOCK_DGRAM || !e->has_name || e->has_peer)) ||
	    (e->has_accepted_from && (!e->has_peer || e->has_name)) || (e->has_ext_peer && e->has_peer) ||
	    (e->type == SOCK_DGRAM && e->has_peer && !p->se->has_name &&
	     !(p->se->has_peer && p->se->peer == e->id)))
		return false;
	if ((e->has_data && e->type != SOCK_STREAM) || (e->n_dgrams && e->type == SOCK_STREAM) ||
	    e->n_dgrams > 65536 || e->data.len > (1u << 30))
		return false;
	for (size_t i = 0; i < e->n_dgrams; i++)
		total += e->dgrams[i].len;
	return total <= (1u << 30);
}

int rst_unixsk_load(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r = img_read_all(t->dirfd, "unixsk-sk.img", IMG_UNIXSK, &v, &n);

	t->unixsk_creator = -1;
	if (r == -ENOENT)
		return 0; /* images of an older ckpt */
	if (r < 0)
		return r;
	t->unixsk = calloc(n ?: 1, sizeof(*t->unixsk));
	if (!t->unixsk) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		t->unixsk[t->n_unixsk++] = (struct rst_unixsk){.se = (UnixSkEntry *)v[i], .fd = -1};
	for (size_t i = 0; i < n; i++) {
		const UnixSkEntry *e = t->unixsk[i].se;

		if (rst_unixsk_find(t, e->id) != &t->unixsk[i] || !entry_ok(t, e))
			return pr_err("'unixsk-sk.img': bad record for socket %" PRIu64, e->id), -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		const UnixSkEntry *e = t->unixsk[i].se;

		r = e->has_name ? check_name(e) : 0;
		if (r == 0 && e->has_ext_peer)
			r = check_ext_peer(e);
		if (r < 0)
			return r;
	}
	return 0;
}

void rst_unixsk_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_unixsk; i++)
		protobuf_c_message_free_unpacked(&t->unixsk[i].se->base, NULL);
	free(t->unixsk);
	t->unixsk = NULL;
	t->n_unixsk = 0;
}

size_t rst_unixsk_fds(const struct rst_tree *t, int *keep)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_unixsk; i++)
		if (t->unixsk[i].fd >= 0)
			keep[n++] = t->unixsk[i].fd;
	return n;
}

/* ---- the creator's side ---- */

struct mk {
	struct rst_tree *t;
	int *gone; /* [n_unixsk]: the other end of a peer_gone socket, until its data is in */
};

static int sk_fd(const struct mk *m, uint64_t id)
{
	const struct rst_unixsk *u = rst_unixsk_find(m->t, id);

	return u ? u->fd : -1;
}

static bool is_pair(const struct rst_tree *t, const UnixSkEntry *e)
{
	const struct rst_unixsk *p = e->has_peer ? rst_unixsk_find(t, e->peer) : NULL;

	return p && !e->has_name && !p->se->has_name && p->se->has_peer && p->se->peer == e->id &&
	       !e->has_accepted_from && !p->se->has_accepted_from;
}

static int make_sockets(struct mk *m)
{
	for (size_t i = 0; i < m->t->n_unixsk; i++) {
		struct rst_unixsk *u = &m->t->unixsk[i];
		const UnixSkEntry *e = u->se;
		int sv[2];

		if (e->has_accepted_from || u->fd >= 0)
			continue; /* made by accept(), or the second end of a socketpair */
		if (is_pair(m->t, e) || e->peer_gone) {
			if (socketpair(AF_UNIX, (int)e->type | SOCK_CLOEXEC, 0, sv) < 0)
				return pr_perror("socket %" PRIu64 ": socketpair", e->id);
			u->fd = sv[0];
			if (e->peer_gone)
				m->gone[i] = sv[1];
			else
				rst_unixsk_find(m->t, e->peer)->fd = sv[1];
			continue;
		}
		u->fd = socket(AF_UNIX, (int)e->type | SOCK_CLOEXEC, 0);
		if (u->fd < 0)
			return pr_perror("socket %" PRIu64 ": socket(AF_UNIX)", e->id);
	}
	return 0;
}

static int bind_here(const struct rst_unixsk *u)
{
	const UnixSkEntry *e = u->se;
	char buf[NAME_MAX_LEN + 2];
	const char *path = (const char *)e->name.data;
	struct sockaddr_un sa;
	socklen_t len = addr_of(&e->name, &sa);
	struct stat st;

	/* checked at load: a socket file nobody is bound to any more */
	if (path[0] != '\0' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0)
		return pr_perror("socket %" PRIu64 ": removing the stale '%s'", e->id, path);
	if (bind(u->fd, (struct sockaddr *)&sa, len) < 0)
		return pr_perror("socket %" PRIu64 ": binding '%s'", e->id,
				 name_str(&e->name, buf, sizeof(buf)));
	if (path[0] != '\0' && e->has_mode &&
	    (lchown(path, e->uid, e->gid) < 0 || chmod(path, (mode_t)e->mode) < 0))
		return pr_perror("socket %" PRIu64 ": owner and mode of '%s'", e->id, path);
	return 0;
}

static int bind_one(const struct rst_unixsk *u)
{
	int old, r = enter_dir(u->se, &old);

	if (r == 0)
		r = bind_here(u);
	return leave_dir(old, r);
}

/* Datagrams queued at named sockets, sent before anything connects (a connected one takes them from its peer
 * only). */
static int queue_named_dgrams(struct mk *m)
{
	for (size_t i = 0; i < m->t->n_unixsk; i++) {
		const UnixSkEntry *e = m->t->unixsk[i].se;
		_cleanup_close_ int tmp = -EBADF;

		if (e->type != SOCK_DGRAM || !e->n_dgrams || !e->has_name || is_pair(m->t, e))
			continue;
		tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (tmp < 0)
			return pr_perror("socket(AF_UNIX)");
		int old, r = enter_dir(e, &old);

		if (r == 0)
			r = rst_unixsk_requeue(m->t, e, tmp, &e->name);
		r = leave_dir(old, r);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Connect to name, from the directory of the socket (to) whose name it is, if relative. */
static int connect_to(uint64_t id, int fd, const ProtobufCBinaryData *name, const UnixSkEntry *to)
{
	char buf[NAME_MAX_LEN + 2];
	struct sockaddr_un sa;
	socklen_t len = addr_of(name, &sa);
	int old, r = enter_dir(to, &old);

	if (r == 0 && connect(fd, (struct sockaddr *)&sa, len) < 0)
		r = pr_perror("socket %" PRIu64 ": connecting to '%s'", id, name_str(name, buf, sizeof(buf)));
	return leave_dir(old, r);
}

/* An accepted socket: its client connects to the listener (or a stand-in for a gone one). */
static int make_accepted(struct mk *m, struct rst_unixsk *u)
{
	const UnixSkEntry *e = u->se;
	const struct rst_unixsk *l = e->accepted_from ? rst_unixsk_find(m->t, e->accepted_from) : NULL;
	_cleanup_close_ int tmp = -EBADF;
	int lfd = l ? l->fd : -1, r;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sa);
	ProtobufCBinaryData name;

	if (!l) {
		/* autobind (unix(7)): an abstract name of the kernel's choice */
		tmp = socket(AF_UNIX, (int)e->type | SOCK_CLOEXEC, 0);
		if (tmp < 0 || bind(tmp, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
		    listen(tmp, 1) < 0 || getsockname(tmp, (struct sockaddr *)&sa, &len) < 0)
			return pr_perror("socket %" PRIu64 ": a listener in place of the gone one", e->id);
		pr_warn("socket %" PRIu64 ": its listener is gone: the connection gets another address",
			e->id);
		lfd = tmp;
		name = (ProtobufCBinaryData){len - offsetof(struct sockaddr_un, sun_path),
					     (uint8_t *)sa.sun_path};
	}
	r = connect_to(e->id, sk_fd(m, e->peer), l ? &l->se->name : &name, l ? l->se : NULL);
	if (r < 0)
		return r;
	u->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (u->fd < 0)
		return pr_perror("socket %" PRIu64 ": accepting its connection again", e->id);
	return 0;
}

static int connect_one(struct mk *m, struct rst_unixsk *u)
{
	const UnixSkEntry *e = u->se;
	const struct rst_unixsk *p = e->has_peer ? rst_unixsk_find(m->t, e->peer) : NULL;

	if (e->has_accepted_from)
		return make_accepted(m, u);
	if (e->has_pending_on) {
		const UnixSkEntry *l = rst_unixsk_find(m->t, e->pending_on)->se;

		return connect_to(e->id, u->fd, &l->name, l);
	}
	if (e->has_ext_peer)
		return connect_to(e->id, u->fd, &e->ext_peer, NULL);
	/* a datagram socket connected to a named one; streams: made by their accepted end */
	if (p && e->type == SOCK_DGRAM && !is_pair(m->t, e))
		return connect_to(e->id, u->fd, &p->se->name, p->se);
	return 0;
}

static int queue_on_connections(struct mk *m)
{
	for (size_t i = 0; i < m->t->n_unixsk; i++) {
		const UnixSkEntry *e = m->t->unixsk[i].se;
		int from = e->peer_gone ? m->gone[i] : e->has_peer ? sk_fd(m, e->peer) : -1, r = 0;

		if ((e->has_data && e->data.len) ||
		    (e->n_dgrams && (e->type == SOCK_SEQPACKET || !e->has_name || is_pair(m->t, e))))
			r = rst_unixsk_requeue(m->t, e, from, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int finish_one(struct mk *m, size_t i)
{
	struct rst_unixsk *u = &m->t->unixsk[i];
	const UnixSkEntry *e = u->se;
	uint32_t sh = e->has_shutdown ? e->shutdown & 3 : 0;
	int fd;

	if (sh && !e->listening && shutdown(u->fd, sh == 3 ? SHUT_RDWR : sh == 1 ? SHUT_RD : SHUT_WR) < 0)
		return pr_perror("socket %" PRIu64 ": shutdown", e->id);
	if (e->has_flags && fcntl(u->fd, F_SETFL, (int)e->flags) < 0)
		return pr_perror("socket %" PRIu64 ": F_SETFL", e->id);
	fd = fcntl(u->fd, F_DUPFD_CLOEXEC, m->t->pipe_fd_base);
	if (fd < 0)
		return pr_perror("socket %" PRIu64 ": moving it above fd %d", e->id, m->t->pipe_fd_base);
	close(u->fd);
	u->fd = fd;
	return 0;
}

static int unlink_gone(const UnixSkEntry *e)
{
	int old, r = enter_dir(e, &old);

	if (r == 0 && unlink((const char *)e->name.data) < 0)
		r = pr_perror("socket %" PRIu64 ": unlinking its path", e->id);
	return leave_dir(old, r);
}

static int create_all(struct mk *m)
{
	struct rst_tree *t = m->t;
	int r = make_sockets(m);

	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		if (t->unixsk[i].se->has_name && !t->unixsk[i].se->has_accepted_from)
			r = bind_one(&t->unixsk[i]);
	if (r == 0)
		r = queue_named_dgrams(m);
	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		if (t->unixsk[i].se->listening && listen(t->unixsk[i].fd, (int)t->unixsk[i].se->backlog) < 0)
			r = pr_perror("socket %" PRIu64 ": listen", t->unixsk[i].se->id);
	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		r = connect_one(m, &t->unixsk[i]);
	if (r == 0)
		r = queue_on_connections(m);
	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		r = finish_one(m, i);
	/* a path unlinked after bind at the dump is unlinked again, now that all have connected */
	for (size_t i = 0; i < t->n_unixsk && r == 0; i++)
		if (t->unixsk[i].se->name_gone)
			r = unlink_gone(t->unixsk[i].se);
	return r;
}

int rst_unixsk_create(struct rst_tree *t, size_t idx)
{
	struct mk m = {.t = t};
	int r;

	if (!t->n_unixsk || t->unixsk_creator != (int)idx)
		return 0;
	m.gone = malloc(t->n_unixsk * sizeof(int));
	if (!m.gone)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_unixsk; i++)
		m.gone[i] = -1;
	r = create_all(&m);
	for (size_t i = 0; i < t->n_unixsk; i++)
		if (m.gone[i] >= 0)
			close(m.gone[i]);
	free(m.gone);
	return r;
}
