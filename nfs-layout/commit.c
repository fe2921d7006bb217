/* SPDX-License-Identifier: MIT */
/* Writing one checkpoint: begin (temp dir), commit (meta, owners, fsync, rename, latest), abort. */
#include <fcntl.h>
#include <sys/stat.h>
#include "log.h"
#include "internal.h"

/* Committed tries at most this many seqs when other writers take them (no locks on NFS). */
#define COMMIT_TRIES 8

static void ckpt_free(struct layout_ckpt *c)
{
	if (!c)
		return;
	closep(&c->tmpfd);
	closep(&c->jobfd);
	free(c->tmpname);
	free(c->path);
	free(c);
}

static void ckpt_freep(struct layout_ckpt **c)
{
	ckpt_free(*c);
}

/* One past the largest seq in use, committed or in a temp dir name (.tmp-<seq>-...). */
static int next_seq(int jobfd, uint32_t *ret)
{
	_cleanup_closedir_ DIR *d = NULL;
	uint32_t max = 0, v;
	struct dirent *de;

	d = lay_opendir(jobfd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		const char *s = de->d_name;
		_cleanup_free_ char *num = NULL;

		if (!strncmp(s, LAYOUT_TMP_PREFIX, strlen(LAYOUT_TMP_PREFIX))) {
			s += strlen(LAYOUT_TMP_PREFIX);
			num = strndup(s, strcspn(s, "-"));
			if (!num)
				return -ENOMEM;
			s = num;
		}
		if (lay_parse_seq(s, &v) == 0)
			max = MAX(max, v);
	}
	if (errno)
		return -errno;
	if (max >= UINT32_MAX - 1)
		return -EOVERFLOW;
	*ret = max + 1;
	return 0;
}

static int make_tmp(struct layout_ckpt *c)
{
	char seq[LAYOUT_U32_NAME_MAX];
	bool warned = false;
	int r;

	lay_u32_name(seq, c->seq);
	r = lay_random_name(LAYOUT_TMP_PREFIX, seq, &c->tmpname);
	if (r < 0)
		return r;
	if (mkdirat(c->jobfd, c->tmpname, 0700) < 0)
		return -errno;
	c->tmpfd = lay_open_dir(c->jobfd, c->tmpname);
	if (c->tmpfd < 0)
		return c->tmpfd;
	r = lay_set_owner_mode(c->tmpfd, c->l, 0700, &warned);
	if (r < 0)
		return r;
	if (asprintf(&c->path, "%s/%u/%s", c->l->path, c->job_id, c->tmpname) < 0)
		return -ENOMEM;
	return 0;
}

int layout_begin(struct layout *l, uint32_t job_id, struct layout_ckpt **ret)
{
	_cleanup_(ckpt_freep) struct layout_ckpt *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->l = l;
	c->job_id = job_id;
	c->jobfd = c->tmpfd = -EBADF;
	r = lay_make_job(l, job_id, &c->jobfd);
	if (r < 0)
		return r;
	r = next_seq(c->jobfd, &c->seq);
	if (r < 0)
		return pr_err_errno(r, "job %u: next checkpoint seq", job_id);
	r = make_tmp(c);
	if (r < 0) {
		if (c->tmpname)
			lay_rm_rf(c->jobfd, c->tmpname, 0);
		return pr_err_errno(r, "job %u: make temp dir for checkpoint %u", job_id, c->seq);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

const char *layout_ckpt_path(const struct layout_ckpt *c)
{
	return c->path;
}

uint32_t layout_ckpt_seq(const struct layout_ckpt *c)
{
	return c->seq;
}

void layout_abort(struct layout_ckpt *c)
{
	int r;

	if (!c)
		return;
	r = lay_rm_rf(c->jobfd, c->tmpname, 0);
	if (r < 0)
		pr_warn("job %u: remove '%s': %s", c->job_id, c->path, strerror(-r));
	ckpt_free(c);
}

/* ckpt.meta, then owners, modes and fsync of every file, then of the temp dir itself. */
static int seal_tmp(struct layout_ckpt *c, const struct layout_meta *m)
{
	bool warned = false;
	int r;

	r = lay_meta_write(c->tmpfd, m);
	if (r < 0)
		return pr_err_errno(r, "job %u: write '%s/%s'", c->job_id, c->path, LAYOUT_META_NAME);
	r = lay_fix_tree(c->tmpfd, c->l, &warned, 0);
	if (r < 0)
		return pr_err_errno(r, "job %u: seal '%s'", c->job_id, c->path);
	r = lay_set_owner_mode(c->tmpfd, c->l, 0700, &warned);
	if (r >= 0)
		r = lay_fsync_dir(c->tmpfd, NULL);
	if (r < 0)
		return pr_err_errno(r, "job %u: seal '%s'", c->job_id, c->path);
	return 0;
}

/*
 * rename(2) of a dir onto an existing non-empty dir fails (ENOTEMPTY/EEXIST), and a committed
 * dir is never empty: another writer that took our seq makes us move on to the next free one.
 */
static int rename_to_seq(struct layout_ckpt *c)
{
	char name[LAYOUT_U32_NAME_MAX];
	uint32_t next;
	int r;

	for (int tries = 0; tries < COMMIT_TRIES; tries++) {
		lay_u32_name(name, c->seq);
		if (renameat(c->jobfd, c->tmpname, c->jobfd, name) == 0)
			return lay_fsync_dir(c->jobfd, NULL);
		if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR)
			return -errno;
		r = next_seq(c->jobfd, &next);
		if (r < 0)
			return r;
		pr_warn("job %u: checkpoint %u taken meanwhile, trying %u", c->job_id, c->seq, next);
		c->seq = MAX(next, c->seq + 1);
	}
	return -EBUSY;
}

/* latest -> <seq>: a symlink made under a temp name and renamed over; never moved backwards. */
static int point_latest(struct layout_ckpt *c)
{
	_cleanup_free_ char *tmp = NULL;
	char name[LAYOUT_U32_NAME_MAX];
	int r, err;

	if (lay_latest_seq(c->jobfd, &err) > c->seq)
		return 0;
	r = lay_random_name(LAYOUT_LATEST_PREFIX, NULL, &tmp);
	if (r < 0)
		return r;
	lay_u32_name(name, c->seq);
	if (symlinkat(name, c->jobfd, tmp) < 0)
		return -errno;
	/* Tidiness only: a symlink's owner and mode grant nothing. */
	(void)fchownat(c->jobfd, tmp, c->l->uid, c->l->gid, AT_SYMLINK_NOFOLLOW);
	if (renameat(c->jobfd, tmp, c->jobfd, LAYOUT_LATEST) < 0) {
		r = -errno;
		unlinkat(c->jobfd, tmp, 0);
		return r;
	}
	return lay_fsync_dir(c->jobfd, NULL);
}

int layout_commit_seq(struct layout_ckpt *c, const struct layout_meta *m, uint32_t *ret_seq)
{
	_cleanup_(ckpt_freep) struct layout_ckpt *cc = c;
	int r;

	if (!m || m->job_id != c->job_id || !lay_reason_valid(m->reason)) {
		pr_err("job %u: commit: bad metadata (job %u, reason '%s')", c->job_id, m ? m->job_id : 0,
		       m && m->reason ? m->reason : "(null)");
		layout_abort(TAKE_PTR(cc));
		return -EINVAL;
	}
	r = seal_tmp(c, m);
	if (r >= 0) {
		r = rename_to_seq(c);
		if (r < 0)
			pr_err_errno(r, "job %u: rename '%s' to %u", c->job_id, c->path, c->seq);
	}
	if (r < 0) {
		layout_abort(TAKE_PTR(cc));
		return r;
	}
	/* Committed: from here on the checkpoint stays, even if latest cannot be moved. */
	r = point_latest(c);
	if (r < 0)
		return pr_err_errno(r, "job %u: point '%s' at %u", c->job_id, LAYOUT_LATEST, c->seq);
	pr_debug("job %u: checkpoint %u committed", c->job_id, c->seq);
	if (ret_seq)
		*ret_seq = c->seq;
	return 0;
}

int layout_commit(struct layout_ckpt *c, const struct layout_meta *m)
{
	return layout_commit_seq(c, m, NULL);
}
