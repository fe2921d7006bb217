/* SPDX-License-Identifier: MIT */
/*
 * Deleting checkpoints: retention of the newest few, stale temp dirs, a whole job. A dir is
 * renamed out of sight (.del-*) before it is emptied, and latest goes first, so a reader never
 * finds latest or a <seq> naming a half-deleted checkpoint.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "log.h"
#include "internal.h"

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool is_leftover(const char *name)
{
	return has_prefix(name, LAYOUT_TMP_PREFIX) || has_prefix(name, LAYOUT_LATEST_PREFIX) ||
	       has_prefix(name, LAYOUT_DEL_PREFIX);
}

/* Remove temp dirs, temp symlinks and half-deleted dirs untouched for LAYOUT_STALE_S. */
static void remove_stale(int dirfd, const char *what)
{
	_cleanup_closedir_ DIR *d = NULL;
	int64_t now = (int64_t)time(NULL), mtime;
	struct dirent *de;
	int r;

	d = lay_opendir(dirfd);
	if (!d) {
		pr_warn("%s: list for stale entries: %s", what, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (!is_leftover(de->d_name) || lay_newest_mtime(dirfd, de->d_name, &mtime) < 0)
			continue;
		if (mtime > now - LAYOUT_STALE_S)
			continue;
		r = lay_rm_rf(dirfd, de->d_name, 0);
		if (r < 0)
			pr_warn("%s: remove stale '%s': %s", what, de->d_name, strerror(-r));
		else
			pr_info("%s: removed stale '%s'", what, de->d_name);
	}
}

int layout_retain(struct layout *l, uint32_t job_id, unsigned keep)
{
	_cleanup_close_ int jobfd = -EBADF;
	_cleanup_free_ uint32_t *seqs = NULL;
	char name[LAYOUT_U32_NAME_MAX], what[32];
	uint32_t latest;
	int r, err = 0, deleted = 0;
	size_t n;

	if (keep < 1)
		return -EINVAL;
	r = lay_open_job(l, job_id, &jobfd);
	if (r < 0)
		return r;
	r = lay_list_committed(jobfd, &seqs, &n);
	if (r < 0)
		return pr_err_errno(r, "job %u: list checkpoints", job_id);
	latest = lay_latest_seq(jobfd, &r);
	for (size_t i = 0; n > keep && i < n - keep; i++) {
		if (seqs[i] == latest)
			continue;
		lay_u32_name(name, seqs[i]);
		r = lay_remove_dir(jobfd, name);
		if (r < 0)
			err = pr_err_errno(r, "job %u: delete checkpoint %u", job_id, seqs[i]);
		else
			deleted++;
	}
	snprintf(what, sizeof(what), "job %u", job_id);
	remove_stale(jobfd, what);
	r = lay_fsync_dir(jobfd, NULL);
	if (r < 0 && !err)
		err = pr_err_errno(r, "job %u: fsync job dir", job_id);
	return err ? err : deleted;
}

int layout_forget(struct layout *l, uint32_t job_id)
{
	_cleanup_close_ int jobfd = -EBADF;
	char name[LAYOUT_U32_NAME_MAX];
	int r;

	r = lay_open_job(l, job_id, &jobfd);
	if (r == -ENOENT)
		return 0;
	/* Not a directory (ENOTDIR, ELOOP: a symlink): nothing to unlink inside, the name goes. */
	if (r >= 0) {
		if (unlinkat(jobfd, LAYOUT_LATEST, 0) < 0 && errno != ENOENT)
			return pr_perror("job %u: unlink '%s'", job_id, LAYOUT_LATEST);
		r = lay_fsync_dir(jobfd, NULL);
		if (r < 0)
			return pr_err_errno(r, "job %u: fsync job dir", job_id);
	}
	lay_u32_name(name, job_id);
	r = lay_remove_dir(l->dirfd, name);
	if (r < 0)
		return pr_err_errno(r, "job %u: delete job dir in '%s'", job_id, l->path);
	remove_stale(l->dirfd, l->path);
	r = lay_fsync_dir(l->dirfd, NULL);
	if (r < 0)
		return pr_err_errno(r, "layout: fsync '%s'", l->path);
	return 0;
}
