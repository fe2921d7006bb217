/* SPDX-License-Identifier: MIT */
/*
 * nfs-layout: open the root, write a checkpoint under a temp name and commit it, find the
 * latest one. Commit order (a crash at any point leaves latest naming a complete checkpoint):
 * ckpt.meta, fsync every file and the temp dir, rename to <seq>, fsync the job dir, symlink
 * latest under a temp name, rename it over latest, fsync the job dir. Only rename(2) atomicity
 * and close-to-open consistency are relied on, as NFS gives no more.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include "log.h"
#include "internal.h"

/* 1..UINT32_MAX-1, digits only, no leading zero. No logging: names in a listing go through it. */
static int parse_decimal(const char *s, uint32_t *ret)
{
	uint32_t v;

	if (!s || *s < '1' || *s > '9')
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (safe_atou32(s, &v) < 0 || v == UINT32_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

int layout_parse_jobid(const char *s, uint32_t *ret)
{
	if (parse_decimal(s, ret) < 0)
		return bad_input("job id '%s'", s ? s : "(null)");
	return 0;
}

int lay_parse_seq(const char *s, uint32_t *ret)
{
	return parse_decimal(s, ret);
}

void lay_u32_name(char name[LAYOUT_U32_NAME_MAX], uint32_t v)
{
	snprintf(name, LAYOUT_U32_NAME_MAX, "%" PRIu32, v);
}

static bool id_valid(uint32_t v)
{
	return v != 0 && v != UINT32_MAX;
}

/* ---- root ---- */

void layout_close(struct layout *l)
{
	if (!l)
		return;
	closep(&l->dirfd);
	free(l->path);
	free(l);
}

static void layout_closep(struct layout **l)
{
	layout_close(*l);
}

/* Owner and 0711 on the root; a root others may write to is refused (they could plant jobs). */
static int root_fix(struct layout *l)
{
	bool warned = false;
	struct stat st;
	int r;

	r = lay_set_owner_mode(l->dirfd, l, 0711, &warned);
	if (r == -EPERM)
		pr_warn("layout: cannot chmod root '%s' (not its owner)", l->path);
	else if (r < 0)
		return pr_err_errno(r, "layout: owner/mode of root '%s'", l->path);
	if (fstat(l->dirfd, &st) < 0)
		return pr_perror("layout: stat '%s'", l->path);
	if (st.st_mode & 022)
		return pr_err_errno(-EPERM, "layout: root '%s' is writable by group or others", l->path);
	return 0;
}

int layout_open(const char *root, uid_t owner_uid, gid_t owner_gid, struct layout **ret)
{
	_cleanup_(layout_closep) struct layout *l = NULL;
	int r;

	if (!root || !*root)
		return -EINVAL;
	if (mkdir(root, 0711) < 0 && errno != EEXIST)
		return pr_perror("layout: mkdir '%s'", root);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->uid = owner_uid;
	l->gid = owner_gid;
	l->dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return pr_perror("layout: open '%s'", root);
	l->path = realpath(root, NULL);
	if (!l->path)
		return pr_perror("layout: realpath '%s'", root);
	r = root_fix(l);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}

const char *layout_root(const struct layout *l)
{
	return l->path;
}

int layout_open_existing(const char *root, struct layout **ret)
{
	_cleanup_(layout_closep) struct layout *l = NULL;
	struct stat st;

	if (!root || !*root)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return errno == ENOENT ? -ENOENT : pr_perror("layout: open '%s'", root);
	if (fstat(l->dirfd, &st) < 0)
		return pr_perror("layout: stat '%s'", root);
	/* its owner is the service account, as layout_open() left it */
	l->uid = st.st_uid;
	l->gid = st.st_gid;
	l->path = realpath(root, NULL);
	if (!l->path)
		return pr_perror("layout: realpath '%s'", root);
	*ret = TAKE_PTR(l);
	return 0;
}

/* ---- job dirs and listings ---- */

int lay_open_job(struct layout *l, uint32_t job_id, int *ret_fd)
{
	char name[LAYOUT_U32_NAME_MAX];
	int fd;

	if (!id_valid(job_id))
		return -EINVAL;
	lay_u32_name(name, job_id);
	fd = lay_open_dir(l->dirfd, name);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int lay_make_job(struct layout *l, uint32_t job_id, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	char name[LAYOUT_U32_NAME_MAX];
	bool warned = false;
	int r;

	if (!id_valid(job_id))
		return -EINVAL;
	lay_u32_name(name, job_id);
	if (mkdirat(l->dirfd, name, 0700) == 0) {
		r = lay_fsync_dir(l->dirfd, NULL);
		if (r < 0)
			return pr_err_errno(r, "job %u: fsync '%s'", job_id, l->path);
	} else if (errno != EEXIST) {
		return pr_perror("job %u: mkdir in '%s'", job_id, l->path);
	}
	fd = lay_open_dir(l->dirfd, name);
	if (fd < 0)
		return pr_err_errno(fd, "job %u: open job dir in '%s'", job_id, l->path);
	r = lay_set_owner_mode(fd, l, 0700, &warned);
	if (r < 0)
		return pr_err_errno(r, "job %u: owner/mode of its dir", job_id);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int push_u32(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		uint32_t *na = reallocarray(*arr, nc, sizeof(**arr));

		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = nc;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

/* Entries of dirfd named by a decimal id that are real directories (no symlink), ascending. */
int lay_list_ids(int dirfd, uint32_t **ret, size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ uint32_t *arr = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	uint32_t v;
	int r;

	d = lay_opendir(dirfd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (parse_decimal(de->d_name, &v) < 0 || !lay_is_dir_nofollow(dirfd, de->d_name))
			continue;
		r = push_u32(&arr, &n, &cap, v);
		if (r < 0)
			return r;
	}
	if (errno)
		return -errno;
	if (n)
		qsort(arr, n, sizeof(*arr), cmp_u32);
	*ret = TAKE_PTR(arr);
	*ret_n = n;
	return 0;
}

int layout_list_jobs(struct layout *l, uint32_t **ret_ids, size_t *ret_n)
{
	int r = lay_list_ids(l->dirfd, ret_ids, ret_n);

	if (r < 0)
		return pr_err_errno(r, "layout: list jobs in '%s'", l->path);
	return 0;
}

/* ---- latest ---- */

/* A committed checkpoint: a real dir named <seq> holding a regular ckpt.meta. */
static bool is_committed(int jobfd, uint32_t seq)
{
	_cleanup_close_ int fd = -EBADF;
	char name[LAYOUT_U32_NAME_MAX];
	struct stat st;

	lay_u32_name(name, seq);
	fd = lay_open_dir(jobfd, name);
	return fd >= 0 && fstatat(fd, LAYOUT_META_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Committed checkpoints only: a <seq> dir without ckpt.meta is not one (never made by us). */
int lay_list_committed(int jobfd, uint32_t **ret, size_t *ret_n)
{
	uint32_t *seqs;
	size_t n, k = 0;
	int r;

	r = lay_list_ids(jobfd, &seqs, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (is_committed(jobfd, seqs[i]))
			seqs[k++] = seqs[i];
	if (!k) {
		free(seqs);
		seqs = NULL;
	}
	*ret = seqs;
	*ret_n = k;
	return 0;
}

int layout_list(struct layout *l, uint32_t job_id, uint32_t **ret_seqs, size_t *ret_n)
{
	_cleanup_close_ int jobfd = -EBADF;
	int r;

	r = lay_open_job(l, job_id, &jobfd);
	if (r < 0)
		return r;
	r = lay_list_committed(jobfd, ret_seqs, ret_n);
	if (r < 0)
		return pr_err_errno(r, "job %u: list checkpoints", job_id);
	return 0;
}

/* latest's seq if it names a committed checkpoint; 0 otherwise. */
uint32_t lay_latest_seq(int jobfd, int *ret_err)
{
	_cleanup_free_ char *target = NULL;
	uint32_t seq;
	int r;

	r = readlink_malloc(jobfd, LAYOUT_LATEST, &target);
	if (r >= 0)
		r = lay_parse_seq(target, &seq);
	if (r >= 0 && !is_committed(jobfd, seq))
		r = -ENOENT;
	*ret_err = r;
	return r < 0 ? 0 : seq;
}

static int newest_committed(int jobfd, uint32_t *ret)
{
	_cleanup_free_ uint32_t *seqs = NULL;
	size_t n;
	int r;

	r = lay_list_committed(jobfd, &seqs, &n);
	if (r < 0)
		return r;
	if (!n)
		return -ENOENT;
	*ret = seqs[n - 1];
	return 0;
}

int layout_latest(struct layout *l, uint32_t job_id, uint32_t *ret_seq, char **ret_path)
{
	_cleanup_close_ int jobfd = -EBADF;
	uint32_t seq;
	int r, err;

	r = lay_open_job(l, job_id, &jobfd);
	if (r < 0)
		return r == -ENOENT ? r : pr_err_errno(r, "job %u: open job dir", job_id);
	seq = lay_latest_seq(jobfd, &err);
	if (!seq) {
		r = newest_committed(jobfd, &seq);
		if (r < 0)
			return r == -ENOENT ? r : pr_err_errno(r, "job %u: find checkpoints", job_id);
		pr_warn("job %u: '%s' %s, using the newest checkpoint %u", job_id, LAYOUT_LATEST,
			err == -ENOENT ? "missing or dangling" : "damaged", seq);
	}
	if (ret_path && asprintf(ret_path, "%s/%u/%u", l->path, job_id, seq) < 0)
		return -ENOMEM;
	if (ret_seq)
		*ret_seq = seq;
	return 0;
}

int layout_meta_read(struct layout *l, uint32_t job_id, uint32_t seq, struct layout_meta *ret)
{
	_cleanup_close_ int jobfd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	char name[LAYOUT_U32_NAME_MAX];
	size_t len;
	int r;

	if (!id_valid(seq))
		return -EINVAL;
	r = lay_open_job(l, job_id, &jobfd);
	if (r < 0)
		return r;
	lay_u32_name(name, seq);
	fd = lay_open_dir(jobfd, name);
	if (fd < 0)
		return fd;
	r = lay_meta_load(fd, LAYOUT_META_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = lay_meta_parse(buf, len, ret);
	if (r < 0)
		return pr_err_errno(r, "job %u: checkpoint %u: bad '%s'", job_id, seq, LAYOUT_META_NAME);
	if (ret->job_id != job_id) {
		layout_meta_free(ret);
		return pr_err_errno(-EINVAL, "job %u: checkpoint %u: '%s' names job %u", job_id, seq,
				    LAYOUT_META_NAME, ret->job_id);
	}
	return 0;
}
