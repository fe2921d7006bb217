/* SPDX-License-Identifier: MIT */
/*
 * Filesystem helpers of nfs-layout. Everything goes through (dirfd, name) with O_NOFOLLOW:
 * a user may have planted a symlink, and nothing here must follow it (openat(2), unlinkat(2)).
 */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include "log.h"
#include "internal.h"

int lay_random_name(const char *prefix, const char *mid, char **ret)
{
	uint64_t r;
	char *s;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = now_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32);
	if (asprintf(&s, "%s%s%s%016" PRIx64, prefix, mid ? mid : "", mid ? "-" : "", r) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int lay_open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* fsync(2) of a directory: some filesystems refuse it (EINVAL) and have nothing to flush. */
int lay_fsync_dir(int dirfd, const char *name)
{
	_cleanup_close_ int fd = -EBADF;

	if (name) {
		fd = lay_open_dir(dirfd, name);
		if (fd < 0)
			return fd;
		dirfd = fd;
	}
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/*
 * A DIR stream of its own over dirfd: a dup would share dirfd's offset, and an earlier
 * readdir through another dup would have left it at the end.
 */
DIR *lay_opendir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

bool lay_is_dir_nofollow(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* chown to the service account (EPERM under root_squash: warn once, go on), then chmod. */
int lay_set_owner_mode(int fd, const struct layout *l, mode_t mode, bool *warned)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_uid != l->uid || st.st_gid != l->gid) && fchown(fd, l->uid, l->gid) < 0) {
		if (errno != EPERM)
			return -errno;
		if (!*warned)
			pr_warn("layout '%s': cannot chown to %u:%u (root squashed?), owner left %u:%u",
				l->path, (unsigned)l->uid, (unsigned)l->gid, (unsigned)st.st_uid,
				(unsigned)st.st_gid);
		*warned = true;
	}
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return -errno;
	return 0;
}

static int fix_entry(int dirfd, const char *name, const struct layout *l, bool *warned, unsigned depth)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return pr_err_errno(-EINVAL, "layout: '%s' in a checkpoint is neither a file nor a dir",
				    name);
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK));
	if (fd < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		r = lay_fix_tree(fd, l, warned, depth + 1);
		if (r < 0)
			return r;
	}
	r = lay_set_owner_mode(fd, l, S_ISDIR(st.st_mode) ? 0700 : 0600, warned);
	if (r < 0)
		return pr_err_errno(r, "layout: owner/mode of '%s'", name);
	if (fsync(fd) < 0 && !(S_ISDIR(st.st_mode) && errno == EINVAL))
		return pr_perror("layout: fsync '%s'", name);
	return 0;
}

/* Owner, mode and fsync of everything under dirfd (not dirfd itself). */
int lay_fix_tree(int dirfd, const struct layout *l, bool *warned, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	if (depth > LAYOUT_MAX_DEPTH)
		return pr_err_errno(-ELOOP, "layout: checkpoint nested deeper than %d", LAYOUT_MAX_DEPTH);
	d = lay_opendir(dirfd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = fix_entry(dirfd, de->d_name, l, warned, depth);
		if (r < 0)
			return r;
	}
	return errno ? -errno : 0;
}

/* Unlink every entry of the open dir fd; returns how many were removed. */
static int rm_children(int fd, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int n = 0, r;

	d = lay_opendir(fd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = lay_rm_rf(fd, de->d_name, depth + 1);
		if (r < 0)
			return r;
		n++;
	}
	return errno ? -errno : n;
}

/*
 * rm -rf without following symlinks: unlinkat() first (a symlink or file goes, whatever it
 * points at), and only what opens with O_DIRECTORY|O_NOFOLLOW is descended into. Entries that
 * vanish meanwhile are fine. NFS readdir may miss entries removed under it: retry a few times.
 */
int lay_rm_rf(int dirfd, const char *name, unsigned depth)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > LAYOUT_MAX_DEPTH)
		return -ELOOP;
	fd = lay_open_dir(dirfd, name);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	for (int tries = 0; tries < 4; tries++) {
		r = rm_children(fd, depth);
		if (r < 0)
			return r;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -errno;
	}
	return -ENOTEMPTY;
}

/* Rename name out of sight first (so nobody sees it half-deleted), then remove it. */
int lay_remove_dir(int dirfd, const char *name)
{
	_cleanup_free_ char *del = NULL;
	int r;

	r = lay_random_name(LAYOUT_DEL_PREFIX, name, &del);
	if (r < 0)
		return r;
	if (renameat(dirfd, name, dirfd, del) < 0)
		return errno == ENOENT ? 0 : -errno;
	return lay_rm_rf(dirfd, del, 0);
}

static int64_t mtime_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec;
}

/* The newest mtime of name and, for a dir, of its entries: a dump still writing is not stale. */
int lay_newest_mtime(int atfd, const char *name, int64_t *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd;

	if (fstatat(atfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*ret = mtime_of(&st);
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = lay_open_dir(atfd, name);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			*ret = MAX(*ret, mtime_of(&st));
	return 0;
}
