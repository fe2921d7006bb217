/* SPDX-License-Identifier: MIT */
/*
 * Dump side of file locks (--file-locks). /proc/PID/fdinfo/FD lists, on "lock:" lines, the
 * locks held through that fd: flock and OFD locks of its open file description, and the POSIX
 * locks its task owns that were taken through this very file (fs/locks.c, show_fd_locks).
 * /proc/locks lists every lock of the system in the same format; a file locked in the tree
 * whose /proc/locks lines outnumber the tree's own locks is locked from outside too.
 */
#include <fcntl.h>
#include "locks.h"
#include "log.h"

int locks_parse_line(const char *line, struct lock_line *ret)
{
	_cleanup_free_ char *buf = strdup(line);
	char *tok[9], *save = NULL;
	size_t n = 0;
	uint64_t v;

	if (!buf)
		return -ENOMEM;
	for (char *p = strtok_r(buf, " \t\n", &save); p && n < ARRAY_SIZE(tok);
	     p = strtok_r(NULL, " \t\n", &save))
		tok[n++] = p;
	/* "1:" KIND MODE TYPE PID MAJ:MIN:INO START END; a waiter has "->" before KIND */
	if (n >= 2 && !strcmp(tok[1], "->"))
		return 1;
	if (n != 8 || strlen(tok[1]) >= sizeof(ret->kind) || strlen(tok[5]) >= sizeof(ret->devino))
		return bad_input("lock line '%s'", line);
	*ret = (struct lock_line){};
	strcpy(ret->kind, tok[1]);
	strcpy(ret->devino, tok[5]);
	if (strcmp(tok[3], "READ") && strcmp(tok[3], "WRITE"))
		return bad_input("lock line '%s': type", line);
	ret->write = !strcmp(tok[3], "WRITE");
	if (safe_atou64(tok[4][0] == '-' ? tok[4] + 1 : tok[4], 10, &v) < 0 || v > INT32_MAX)
		return bad_input("lock line '%s': pid", line);
	ret->pid = tok[4][0] == '-' ? -(int64_t)v : (int64_t)v;
	if (safe_atou64(tok[6], 10, &ret->start) < 0)
		return bad_input("lock line '%s': start", line);
	if (!strcmp(tok[7], "EOF"))
		ret->end = UINT64_MAX;
	else if (safe_atou64(tok[7], 10, &ret->end) < 0 || ret->end < ret->start)
		return bad_input("lock line '%s': end", line);
	return 0;
}

/* A lock of the tree, once per holder: the owning task for POSIX, the open file otherwise. */
struct tree_lock {
	struct lock_line l;
	int64_t owner;
	const FdEntry *e;
	pid_t pid;
};

struct lock_set {
	struct tree_lock *v;
	size_t n;
};

static int set_add(struct lock_set *s, const struct tree_lock *tl)
{
	struct tree_lock *nv;

	for (size_t i = 0; i < s->n; i++) {
		const struct lock_line *a = &s->v[i].l, *b = &tl->l;

		if (s->v[i].owner == tl->owner && !strcmp(a->kind, b->kind) &&
		    !strcmp(a->devino, b->devino) && a->write == b->write && a->start == b->start &&
		    a->end == b->end)
			return 0;
	}
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	s->v = nv;
	s->v[s->n++] = *tl;
	return 0;
}

static int add_entry(FdEntry *e, const struct lock_line *l, FileLockKind kind)
{
	FileLockEntry *fl = calloc(1, sizeof(*fl)), **nv;

	if (!fl)
		return -ENOMEM;
	nv = realloc(e->locks, (e->n_locks + 1) * sizeof(*nv));
	if (!nv) {
		free(fl);
		return -ENOMEM;
	}
	e->locks = nv;
	file_lock_entry__init(fl);
	fl->kind = kind;
	fl->write = l->write;
	fl->has_start = fl->has_len = true;
	fl->start = l->start;
	fl->len = l->end == UINT64_MAX ? 0 : l->end - l->start + 1;
	e->locks[e->n_locks++] = fl;
	return 0;
}

static int fd_locks(const struct task *task, FdEntry *e, struct lock_set *s)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%u", task->pid, e->fd);
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %u: reading its fdinfo", task->pid, e->fd);
	for (char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		struct tree_lock tl = {.e = e, .pid = task->pid};
		FileLockKind kind;
		char *nl;

		if (strncmp(l, "lock:", 5))
			continue;
		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		r = locks_parse_line(l + 5, &tl.l);
		if (nl)
			*nl = '\n';
		if (r == 1)
			continue;
		if (r < 0)
			return pr_err("pid %d: fd %u: a lock line of its fdinfo is not understood", task->pid,
				      e->fd),
			       -EINVAL;
		if (!strcmp(tl.l.kind, "POSIX"))
			kind = FILE_LOCK_KIND__FL_POSIX;
		else if (!strcmp(tl.l.kind, "FLOCK"))
			kind = FILE_LOCK_KIND__FL_FLOCK;
		else if (!strcmp(tl.l.kind, "OFDLCK"))
			kind = FILE_LOCK_KIND__FL_OFD;
		else
			return pr_err("pid %d: fd %u: holds a %s: not supported", task->pid, e->fd,
				      tl.l.kind),
			       -ENOTSUP;
		if (!e->has_file_id || !e->path)
			return pr_err("pid %d: fd %u: a lock on this kind of file is not supported",
				      task->pid, e->fd),
			       -ENOTSUP;
		tl.owner = kind == FILE_LOCK_KIND__FL_POSIX ? -(int64_t)task->pid : (int64_t)e->file_id;
		r = add_entry(e, &tl.l, kind);
		if (r == 0)
			r = set_add(s, &tl);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool tree_has_pid(const struct pstree *t, int64_t pid)
{
	for (size_t i = 0; i < t->nr_tasks; i++)
		if (t->tasks[i]->pid == pid)
			return true;
	return false;
}

static size_t count_tree(const struct lock_set *s, const struct lock_line *l)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += !strcmp(s->v[i].l.devino, l->devino) && !strcmp(s->v[i].l.kind, l->kind);
	return n;
}

static const struct tree_lock *on_file(const struct lock_set *s, const char *devino)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].l.devino, devino))
			return &s->v[i];
	return NULL;
}

static int refuse_outside(const struct tree_lock *in, const struct lock_line *l)
{
	char holder[32] = "";

	if (l->pid > 0)
		snprintf(holder, sizeof(holder), " of pid %" PRId64, l->pid);
	return pr_err("pid %d: fd %u: '%s' is also locked outside the tree (a %s %s lock%s): its "
		      "restore would conflict with it; not supported",
		      in->pid, in->e->fd, in->e->path, l->write ? "WRITE" : "READ", l->kind, holder),
	       -ENOTSUP;
}

/* Every /proc/locks line on a file the tree locks must be one of the tree's locks. */
static int check_outside(const struct pstree *t, const struct lock_set *s)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/locks", &buf, NULL);

	if (r < 0)
		return pr_err_errno(r, "reading /proc/locks");
	for (char *l = buf, *nl; l && *l; l = nl ? nl + 1 : NULL) {
		struct lock_line ll;
		const struct tree_lock *in;
		size_t mine = 0, all = 0;

		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		if (locks_parse_line(l, &ll) != 0 || !(in = on_file(s, ll.devino)))
			continue;
		if (!strcmp(ll.kind, "POSIX") && !tree_has_pid(t, ll.pid))
			return refuse_outside(in, &ll);
		if (!strcmp(ll.kind, "POSIX"))
			continue;
		/* flock and OFD locks: count this file's lines of that kind against the tree's. */
		mine = count_tree(s, &ll);
		for (char *m = buf; m < l; m += strlen(m) + 1) {
			struct lock_line o;

			all += locks_parse_line(m, &o) == 0 && !strcmp(o.devino, ll.devino) &&
			       !strcmp(o.kind, ll.kind);
		}
		if (all + 1 > mine)
			return refuse_outside(in, &ll);
	}
	return 0;
}

int locks_dump(const struct pstree *t, struct fd_list *fds)
{
	struct lock_set s = {};
	int r = 0;

	for (size_t i = 0; i < t->nr_tasks && r == 0; i++)
		for (size_t k = 0; k < fds[i].n && r == 0 && !t->tasks[i]->zombie; k++)
			r = fd_locks(t->tasks[i], fds[i].v[k], &s);
	if (r == 0 && s.n)
		r = check_outside(t, &s);
	free(s.v);
	return r;
}

void locks_free(FdEntry *e)
{
	for (size_t i = 0; i < e->n_locks; i++)
		free(e->locks[i]);
	free(e->locks);
	e->locks = NULL;
	e->n_locks = 0;
}
