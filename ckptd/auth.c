/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "auth.h"
#include "core.pb-c.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.pb-c.h"

/* Refuse: -EPERM with a reason. A failed asprintf leaves *ret_why NULL, never a stale one. */
static _printf_(2, 3) int deny(char **ret_why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_why, fmt, ap) < 0)
		*ret_why = NULL;
	va_end(ap);
	return -EPERM;
}

int peer_from_socket(int fd, struct peer *ret)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	gid_t *groups = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return pr_perror("SO_PEERCRED");
	/* SO_PEERGROUPS answers ERANGE with the size it needs. */
	len = 64 * sizeof(gid_t);
	for (int tries = 0; tries < 3; tries++) {
		gid_t *g = realloc(groups, len ?: sizeof(gid_t));

		if (!g) {
			free(groups);
			return -ENOMEM;
		}
		groups = g;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
			break;
		if (errno != ERANGE || tries == 2) {
			free(groups);
			return pr_perror("SO_PEERGROUPS");
		}
	}
	*ret = (struct peer){.pid = uc.pid,
			     .uid = uc.uid,
			     .gid = uc.gid,
			     .groups = groups,
			     .n_groups = len / sizeof(gid_t)};
	return 0;
}

int peer_copy(const struct peer *src, struct peer *ret)
{
	*ret = *src;
	ret->groups = malloc((src->n_groups ?: 1) * sizeof(gid_t));
	if (!ret->groups)
		return -ENOMEM;
	if (src->n_groups)
		memcpy(ret->groups, src->groups, src->n_groups * sizeof(gid_t));
	return 0;
}

void peer_free(struct peer *p)
{
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
}

static bool peer_has_gid(const struct peer *p, gid_t g)
{
	if (g == p->gid)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

int auth_check_path(const char *path, char **ret_why)
{
	size_t len = strlen(path);

	*ret_why = NULL;
	if (len == 0 || path[0] != '/')
		return deny(ret_why, "'%.256s' is not an absolute path", path), -EINVAL;
	if (len >= PATH_MAX)
		return deny(ret_why, "path of %zu bytes is too long", len), -EINVAL;
	for (const char *s = path; (s = strstr(s, "..")); s += 2)
		if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0'))
			return deny(ret_why, "'%s' has a '..' component", path), -EINVAL;
	return 0;
}

static const char *const id_names[4] = {"real", "effective", "saved", "filesystem"};

/* The four uids and gids of one task or thread, as /proc or an image records them. */
static int check_ids(const struct peer *p, const uint32_t uid[4], const uint32_t gid[4], const char *what,
		     char **ret_why)
{
	for (int i = 0; i < 4; i++)
		if (uid[i] != p->uid)
			return deny(ret_why, "%s has %s uid %u, you are uid %u", what, id_names[i], uid[i],
				    (unsigned int)p->uid);
	for (int i = 0; i < 4; i++)
		if (!peer_has_gid(p, gid[i]))
			return deny(ret_why, "%s has %s gid %u, which is not one of your groups", what,
				    id_names[i], gid[i]);
	return 0;
}

static int check_thread(const struct peer *p, pid_t pid, pid_t tid, char **ret_why)
{
	struct proc_status st = {};
	char what[64];
	int r = proc_parse_status(tid, &st);

	if (r < 0)
		return r;
	if (tid == pid)
		snprintf(what, sizeof(what), "pid %d", pid);
	else
		snprintf(what, sizeof(what), "thread %d of pid %d", tid, pid);
	r = check_ids(p, st.uid, st.gid, what, ret_why);
	proc_status_free(&st);
	return r;
}

/* Check pid's threads; append the children of each thread to *q. */
static int check_task(const struct peer *p, pid_t pid, pid_t **q, size_t *qn, char **ret_why)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0;
	int r = proc_list_tasks(pid, &tids, &n);

	for (size_t i = 0; r == 0 && i < n; i++) {
		_cleanup_free_ pid_t *kids = NULL;
		size_t nk = 0;
		pid_t *grown;

		r = check_thread(p, pid, tids[i], ret_why);
		if (r == 0)
			r = proc_list_children(pid, tids[i], &kids, &nk);
		if (r < 0 || !nk)
			continue;
		grown = realloc(*q, (*qn + nk) * sizeof(pid_t));
		if (!grown)
			return -ENOMEM;
		memcpy(grown + *qn, kids, nk * sizeof(pid_t));
		*q = grown;
		*qn += nk;
	}
	return r;
}

int auth_dump_tree(const struct peer *p, pid_t pid, char **ret_why)
{
	_cleanup_free_ pid_t *q = malloc(sizeof(pid_t));
	size_t qn = 1;
	int r = 0;

	*ret_why = NULL;
	if (!q)
		return -ENOMEM;
	q[0] = pid;
	/* Breadth first; a tree of a million tasks is no tree we dump. */
	for (size_t i = 0; i < qn && r == 0; i++) {
		if (i >= (1u << 20))
			return deny(ret_why, "the tree of pid %d is too large", pid);
		r = check_task(p, q[i], &q, &qn, ret_why);
		/* A descendant that ended meanwhile is not part of the tree any more. */
		if (r == -ENOENT || r == -ESRCH)
			r = i == 0 ? -ESRCH : 0;
	}
	if (r == -ESRCH && !*ret_why && asprintf(ret_why, "no process %d", pid) < 0)
		*ret_why = NULL;
	return r;
}

static int check_core(const struct peer *p, int dirfd, uint32_t pid, char **ret_why)
{
	TaskCoreEntry *core = NULL;
	CredsEntry *c;
	char name[48], what[64];
	int r;

	snprintf(name, sizeof(name), "core-%u.img", pid);
	r = img_read_one(dirfd, name, IMG_CORE, (ProtobufCMessage **)&core);
	if (r < 0)
		return r;
	c = core->creds;
	snprintf(what, sizeof(what), "task %u of the images", pid);
	r = check_ids(p, (uint32_t[]){c->uid, c->euid, c->suid, c->fsuid},
		      (uint32_t[]){c->gid, c->egid, c->sgid, c->fsgid}, what, ret_why);
	for (size_t i = 0; r == 0 && i < c->n_groups; i++)
		if (!peer_has_gid(p, c->groups[i]))
			r = deny(ret_why, "%s is in group %u, which is not one of yours", what, c->groups[i]);
	if (r == 0 && (c->cap_prm || c->cap_eff || c->cap_inh || (c->has_cap_amb && c->cap_amb)))
		r = deny(ret_why, "%s has capabilities", what);
	protobuf_c_message_free_unpacked(&core->base, NULL);
	return r;
}

int auth_image_creds(const struct peer *p, int dirfd, char **ret_why)
{
	struct img *img = NULL;
	ProtobufCMessage *m;
	unsigned int n = 0;
	int r;

	*ret_why = NULL;
	r = img_open(dirfd, "pstree.img", IMG_PSTREE, &img);
	if (r < 0)
		return r;
	while ((r = img_read_msg(img, &m)) > 0) {
		uint32_t pid = ((PstreeEntry *)m)->pid;

		protobuf_c_message_free_unpacked(m, NULL);
		n++;
		r = check_core(p, dirfd, pid, ret_why);
		if (r < 0)
			break;
	}
	img_close(img);
	if (r == 0 && n == 0)
		r = (pr_err("pstree.img holds no task"), -EBADMSG);
	return r;
}

static bool owner_ok(const struct stat *st, uid_t owner_uid)
{
	return (st->st_uid == 0 || st->st_uid == owner_uid) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int auth_image_owner(int dirfd, uid_t owner_uid, char **ret_why)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd;

	*ret_why = NULL;
	if (fstat(dirfd, &st) < 0)
		return pr_perror("stat of the images directory");
	if (!owner_ok(&st, owner_uid))
		return deny(ret_why,
			    "the images directory is owned by uid %u or writable by others: "
			    "only images written by ckptd are restored for you",
			    (unsigned int)st.st_uid);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("reopening the images directory");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l <= 4 || strcmp(de->d_name + l - 4, ".img"))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return pr_perror("stat of '%s'", de->d_name);
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !owner_ok(&st, owner_uid))
			return deny(ret_why, "image '%s' is not a file that only ckptd can write",
				    de->d_name);
	}
	return 0;
}
