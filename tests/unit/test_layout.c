/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of nfs-layout/: job ids, begin/commit/latest/list/retain/forget, abort, crashes
 * between the commit's steps, owners and modes (as root), ckpt.meta, planted symlinks.
 * Each test works in its own temp dir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include "ckpt.h"
#include "util.h"
#include "layout.h"

#define JOB 4242

struct fixture {
	char tmp[64]; /* the test's temp dir */
	char *root;   /* <tmp>/root */
	struct layout *l;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void quiet_log(int level, const char *msg, void *userdata)
{
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ckpt_set_log_fn(quiet_log, NULL);
	strcpy(f->tmp, "/tmp/test_layout.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	assert_true(asprintf(&f->root, "%s/root", f->tmp) > 0);
	assert_int_equal(layout_open(f->root, getuid(), getgid(), &f->l), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	layout_close(f->l);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->root);
	free(f);
	return 0;
}

static char *pathf(const char *fmt, ...) _printf_(1, 2);
static char *pathf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	assert_true(vasprintf(&p, fmt, ap) > 0);
	va_end(ap);
	return p;
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, strlen(content)), 0);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static struct layout_meta meta(uint32_t job_id, const char *reason)
{
	return (struct layout_meta){
		.job_id = job_id, .uid = 1000, .gid = 100, .time = 1700000000, .reason = (char *)reason};
}

/* begin, an image file written by "the engine", commit; returns the seq. */
static uint32_t checkpoint(struct layout *l, uint32_t job_id)
{
	struct layout_meta m = meta(job_id, "interval");
	struct layout_ckpt *c;
	_cleanup_free_ char *img = NULL;
	uint32_t seq;

	assert_int_equal(layout_begin(l, job_id, &c), 0);
	img = pathf("%s/pages-1.img", layout_ckpt_path(c));
	write_file(img, "pages", 0644);
	assert_int_equal(layout_commit_seq(c, &m, &seq), 0);
	return seq;
}

static uint32_t latest(struct layout *l, uint32_t job_id)
{
	uint32_t seq = 0;
	int r = layout_latest(l, job_id, &seq, NULL);

	return r < 0 ? 0 : seq;
}

static void assert_list(struct layout *l, uint32_t job_id, const uint32_t *want, size_t n)
{
	_cleanup_free_ uint32_t *seqs = NULL;
	size_t got;

	assert_int_equal(layout_list(l, job_id, &seqs, &got), 0);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], want[i]);
}

/* ---- job ids ---- */

static void test_parse_jobid(void **state)
{
	static const char *const bad[] = {
		"0",   "-1", "12a", " 12", "12 ",  "4294967295",	   "4294967296",
		"007", "",   "+1",  "1e3", "0x10", "99999999999999999999", "1 2",
		"١٢"};
	uint32_t v;

	assert_int_equal(layout_parse_jobid("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(layout_parse_jobid("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(layout_parse_jobid("4294967294", &v), 0);
	assert_int_equal(v, 4294967294u);
	assert_int_equal(layout_parse_jobid("10", &v), 0);
	assert_int_equal(v, 10);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (layout_parse_jobid(bad[i], &v) != -EINVAL)
			fail_msg("took '%s'", bad[i]);
		assert_int_equal(v, 42);
	}
	assert_int_equal(layout_parse_jobid(NULL, &v), -EINVAL);
}

/* ---- the normal life of a job's checkpoints ---- */

static void test_begin_commit_latest(void **state)
{
	struct fixture *f = *state;
	struct layout_meta m = meta(JOB, "preempt");
	_cleanup_free_ uint32_t *ids = NULL;
	_cleanup_free_ char *tmp = NULL, *p = NULL, *want = NULL, *link = NULL;
	struct layout_ckpt *c;
	uint32_t seq;
	size_t n;

	assert_int_equal(layout_latest(f->l, JOB, &seq, NULL), -ENOENT);
	assert_int_equal(layout_list(f->l, JOB, &ids, &n), -ENOENT);
	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	assert_int_equal(layout_ckpt_seq(c), 1);
	tmp = strdup(layout_ckpt_path(c));
	want = pathf("%s/%u/.tmp-1-", f->root, JOB);
	assert_int_equal(strncmp(tmp, want, strlen(want)), 0);
	assert_true(tmp[0] == '/');
	p = pathf("%s/core-1.img", tmp);
	write_file(p, "core", 0644);
	assert_int_equal(layout_latest(f->l, JOB, &seq, NULL), -ENOENT); /* not committed yet */
	assert_int_equal(layout_commit(c, &m), 0);
	assert_false(exists(tmp));

	free(p);
	assert_int_equal(layout_latest(f->l, JOB, &seq, &p), 0);
	assert_int_equal(seq, 1);
	free(want);
	want = pathf("%s/%u/1", f->root, JOB);
	assert_string_equal(p, want);
	free(p);
	p = pathf("%s/%u/latest", f->root, JOB);
	assert_int_equal(readlink_malloc(AT_FDCWD, p, &link), 0);
	assert_string_equal(link, "1");

	assert_int_equal(checkpoint(f->l, JOB), 2);
	assert_int_equal(latest(f->l, JOB), 2);
	assert_list(f->l, JOB, (uint32_t[]){1, 2}, 2);

	assert_int_equal(checkpoint(f->l, 7), 1);
	assert_int_equal(layout_list_jobs(f->l, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], JOB);
	assert_int_equal(layout_begin(f->l, 0, &c), -EINVAL);
	assert_int_equal(layout_begin(f->l, UINT32_MAX, &c), -EINVAL);
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *tmp = NULL, *p = NULL, *sub = NULL, *jobdir = NULL;
	struct layout_ckpt *c;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	tmp = strdup(layout_ckpt_path(c));
	p = pathf("%s/pages-1.img", tmp);
	write_file(p, "x", 0600);
	sub = pathf("%s/sub", tmp);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(p);
	p = pathf("%s/sub/f", tmp);
	write_file(p, "y", 0600);
	layout_abort(c);
	layout_abort(NULL);
	assert_false(exists(tmp));
	jobdir = pathf("%s/%u", f->root, JOB);
	d = opendir(jobdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	assert_int_equal(entries, 0);
	assert_int_equal(layout_latest(f->l, JOB, NULL, NULL), -ENOENT);
	assert_list(f->l, JOB, NULL, 0);
}

/* A commit refused before the rename leaves nothing behind and latest untouched. */
static void test_commit_refused(void **state)
{
	struct fixture *f = *state;
	struct layout_meta m = meta(JOB + 1, "interval");
	_cleanup_free_ char *tmp = NULL, *p = NULL;
	struct layout_ckpt *c;

	assert_int_equal(checkpoint(f->l, JOB), 1);
	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	tmp = strdup(layout_ckpt_path(c));
	assert_int_equal(layout_commit(c, &m), -EINVAL); /* another job's meta */
	assert_false(exists(tmp));

	m = meta(JOB, "coffee");
	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	free(tmp);
	tmp = strdup(layout_ckpt_path(c));
	assert_int_equal(layout_commit(c, &m), -EINVAL); /* unknown reason */
	assert_false(exists(tmp));

	m = meta(JOB, "drain");
	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	free(tmp);
	tmp = strdup(layout_ckpt_path(c));
	p = pathf("%s/fifo", tmp);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(layout_commit(c, &m), -EINVAL); /* neither file nor dir */
	assert_false(exists(tmp));

	assert_int_equal(latest(f->l, JOB), 1);
	assert_list(f->l, JOB, (uint32_t[]){1}, 1);
}

/* ---- crashes between the steps of a commit ---- */

static void set_latest(struct fixture *f, const char *target)
{
	_cleanup_free_ char *p = pathf("%s/%u/latest", f->root, JOB);

	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

static void test_crash_leftovers(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = NULL, *q = NULL, *outside = NULL;

	assert_int_equal(checkpoint(f->l, JOB), 1);
	assert_int_equal(checkpoint(f->l, JOB), 2);

	/* Crash while the engine wrote: a temp dir without meta. */
	p = pathf("%s/%u/.tmp-3-deadbeef", f->root, JOB);
	assert_int_equal(mkdir(p, 0700), 0);
	free(q);
	q = pathf("%s/pages-1.img", p);
	write_file(q, "half", 0600);
	assert_int_equal(latest(f->l, JOB), 2);
	assert_list(f->l, JOB, (uint32_t[]){1, 2}, 2);
	/* The next one does not reuse the seq of the leftover. */
	assert_int_equal(checkpoint(f->l, JOB), 4);
	assert_int_equal(latest(f->l, JOB), 4);

	/* Crash after the rename, before latest moved: latest still names a complete one. */
	set_latest(f, "2");
	assert_int_equal(latest(f->l, JOB), 2);

	/* latest dangling: the newest committed one. */
	set_latest(f, "9");
	assert_int_equal(latest(f->l, JOB), 4);
	/* latest naming a <seq> dir without meta (not committed): same. */
	free(p);
	p = pathf("%s/%u/8", f->root, JOB);
	assert_int_equal(mkdir(p, 0700), 0);
	set_latest(f, "8");
	assert_int_equal(latest(f->l, JOB), 4);
	assert_list(f->l, JOB, (uint32_t[]){1, 2, 4}, 3);
	/* latest that is no seq, or leads out of the job dir. */
	set_latest(f, "../../etc");
	assert_int_equal(latest(f->l, JOB), 4);
	set_latest(f, "2/../1");
	assert_int_equal(latest(f->l, JOB), 4);
	set_latest(f, "02");
	assert_int_equal(latest(f->l, JOB), 4);
	/* A seq that is a symlink to a dir with a meta in it is no checkpoint. */
	outside = pathf("%s/outside", f->tmp);
	assert_int_equal(mkdir(outside, 0700), 0);
	free(q);
	q = pathf("%s/ckpt.meta", outside);
	write_file(q, "format=1\n", 0600);
	free(p);
	p = pathf("%s/%u/10", f->root, JOB);
	assert_int_equal(symlink(outside, p), 0);
	set_latest(f, "10");
	assert_int_equal(latest(f->l, JOB), 4);
	assert_list(f->l, JOB, (uint32_t[]){1, 2, 4}, 3);
	/* latest a regular file. */
	free(p);
	p = pathf("%s/%u/latest", f->root, JOB);
	unlink(p);
	write_file(p, "2", 0600);
	assert_int_equal(latest(f->l, JOB), 4);
}

static void test_crash_nothing_committed(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *p = NULL;
	struct layout_ckpt *c;

	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	p = pathf("%s/x.img", layout_ckpt_path(c));
	write_file(p, "x", 0600);
	/* Crash before the rename, latest made up: nothing to restore. */
	set_latest(f, "1");
	assert_int_equal(layout_latest(f->l, JOB, NULL, NULL), -ENOENT);
	assert_list(f->l, JOB, NULL, 0);
	layout_abort(c);
}

/* ---- retention and forgetting ---- */

static void age(const char *path, time_t seconds)
{
	struct timespec ts[2] = {{time(NULL) - seconds, 0}, {time(NULL) - seconds, 0}};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_retain(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *stale = NULL, *fresh = NULL, *stale_link = NULL, *q = NULL;

	for (uint32_t i = 1; i <= 5; i++)
		assert_int_equal(checkpoint(f->l, JOB), i);
	assert_int_equal(layout_retain(f->l, JOB, 0), -EINVAL);
	assert_int_equal(layout_retain(f->l, JOB + 1, 1), -ENOENT);

	stale = pathf("%s/%u/.tmp-9-aaaa", f->root, JOB);
	assert_int_equal(mkdir(stale, 0700), 0);
	q = pathf("%s/old.img", stale);
	write_file(q, "x", 0600);
	age(q, 2 * 3600);
	age(stale, 2 * 3600);
	fresh = pathf("%s/%u/.tmp-10-bbbb", f->root, JOB);
	assert_int_equal(mkdir(fresh, 0700), 0);
	stale_link = pathf("%s/%u/.latest-cccc", f->root, JOB);
	assert_int_equal(symlink("3", stale_link), 0);
	age(stale_link, 2 * 3600);

	assert_int_equal(layout_retain(f->l, JOB, 2), 3);
	assert_list(f->l, JOB, (uint32_t[]){4, 5}, 2);
	assert_int_equal(latest(f->l, JOB), 5);
	assert_false(exists(stale));
	assert_false(exists(stale_link));
	assert_true(exists(fresh));

	/* latest's target is kept even when it is not among the newest. */
	set_latest(f, "4");
	assert_int_equal(layout_retain(f->l, JOB, 1), 0);
	assert_list(f->l, JOB, (uint32_t[]){4, 5}, 2);
	set_latest(f, "5");
	assert_int_equal(layout_retain(f->l, JOB, 1), 1);
	assert_list(f->l, JOB, (uint32_t[]){5}, 1);
	assert_int_equal(layout_retain(f->l, JOB, 1), 0);
}

static void test_forget(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *jobdir = NULL;
	_cleanup_free_ uint32_t *ids = NULL;
	size_t n;

	assert_int_equal(checkpoint(f->l, JOB), 1);
	assert_int_equal(checkpoint(f->l, JOB), 2);
	assert_int_equal(checkpoint(f->l, 7), 1);
	assert_int_equal(layout_forget(f->l, JOB), 0);
	jobdir = pathf("%s/%u", f->root, JOB);
	assert_false(exists(jobdir));
	assert_int_equal(layout_latest(f->l, JOB, NULL, NULL), -ENOENT);
	assert_int_equal(layout_forget(f->l, JOB), 0);
	assert_int_equal(layout_list_jobs(f->l, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 7);
	assert_int_equal(latest(f->l, 7), 1);
	/* Nothing else left in the root (no .del-*). */
	free(jobdir);
	jobdir = pathf("%s/7", f->root);
	assert_int_equal(layout_forget(f->l, 7), 0);
	assert_int_equal(rmdir(f->root), 0);
}

/* A user's symlink inside a job dir is removed, never followed. */
static void test_forget_symlinks(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *outside = NULL, *victim = NULL, *p = NULL, *sub = NULL, *subf = NULL;
	_cleanup_free_ uint32_t *ids = NULL;
	size_t n;

	outside = pathf("%s/outside", f->tmp);
	assert_int_equal(mkdir(outside, 0700), 0);
	victim = pathf("%s/victim", outside);
	write_file(victim, "precious", 0600);
	sub = pathf("%s/sub", outside);
	assert_int_equal(mkdir(sub, 0700), 0);
	subf = pathf("%s/file", sub);
	write_file(subf, "precious", 0600);

	assert_int_equal(checkpoint(f->l, JOB), 1);
	p = pathf("%s/%u/evil", f->root, JOB);
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = pathf("%s/%u/1/evil", f->root, JOB);
	assert_int_equal(symlink(victim, p), 0);
	free(p);
	p = pathf("%s/%u/2", f->root, JOB); /* looks like a checkpoint */
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = pathf("%s/%u/1/sub", f->root, JOB);
	assert_int_equal(symlink(sub, p), 0);
	assert_list(f->l, JOB, (uint32_t[]){1}, 1);
	assert_int_equal(layout_retain(f->l, JOB, 1), 0);

	assert_int_equal(layout_forget(f->l, JOB), 0);
	assert_true(exists(victim));
	assert_true(exists(subf));
	assert_true(exists(outside));

	/* A job dir that is a symlink: not listed, forget removes the link only. */
	free(p);
	p = pathf("%s/77", f->root);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(layout_list_jobs(f->l, &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_true(layout_latest(f->l, 77, NULL, NULL) < 0);
	assert_int_equal(layout_forget(f->l, 77), 0);
	assert_false(exists(p));
	assert_true(exists(victim));
	assert_true(exists(subf));
}

/* ---- owners and modes ---- */

static void assert_owner_mode(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid)
		fail_msg("'%s': %o %u:%u, not %o %u:%u", path, st.st_mode & 07777, st.st_uid, st.st_gid, mode,
			 uid, gid);
}

static void test_owners_modes(void **state)
{
	struct fixture *f = *state;
	const uid_t uid = 4321;
	const gid_t gid = 8765;
	struct layout_meta m = meta(JOB, "maint");
	_cleanup_free_ char *root = NULL, *p = NULL, *tmp = NULL, *sub = NULL;
	struct layout *l;
	struct layout_ckpt *c;
	struct stat st;

	if (geteuid() != 0)
		skip();
	root = pathf("%s/svc", f->tmp);
	assert_int_equal(layout_open(root, uid, gid, &l), 0);
	assert_owner_mode(root, uid, gid, 0711);
	assert_int_equal(layout_begin(l, JOB, &c), 0);
	tmp = strdup(layout_ckpt_path(c));
	assert_owner_mode(tmp, uid, gid, 0700);
	/* The engine writes as root with its own modes. */
	p = pathf("%s/pages-1.img", tmp);
	write_file(p, "pages", 0644);
	assert_int_equal(chmod(p, 0644), 0);
	sub = pathf("%s/sub", tmp);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(p);
	p = pathf("%s/sub/x.img", tmp);
	write_file(p, "x", 0666);
	assert_int_equal(layout_commit(c, &m), 0);

	free(p);
	p = pathf("%s/%u", root, JOB);
	assert_owner_mode(p, uid, gid, 0700);
	free(p);
	p = pathf("%s/%u/1", root, JOB);
	assert_owner_mode(p, uid, gid, 0700);
	free(p);
	p = pathf("%s/%u/1/pages-1.img", root, JOB);
	assert_owner_mode(p, uid, gid, 0600);
	free(p);
	p = pathf("%s/%u/1/ckpt.meta", root, JOB);
	assert_owner_mode(p, uid, gid, 0600);
	free(p);
	p = pathf("%s/%u/1/sub", root, JOB);
	assert_owner_mode(p, uid, gid, 0700);
	free(p);
	p = pathf("%s/%u/1/sub/x.img", root, JOB);
	assert_owner_mode(p, uid, gid, 0600);
	free(p);
	p = pathf("%s/%u/latest", root, JOB);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, uid);
	layout_close(l);

	/* An existing root is brought to 0711 and the service account. */
	assert_int_equal(chmod(root, 0777), 0);
	assert_int_equal(chown(root, 0, 0), 0);
	assert_int_equal(layout_open(root, uid, gid, &l), 0);
	assert_owner_mode(root, uid, gid, 0711);
	layout_close(l);
}

/* Roots that cannot be used. */
static void test_open_bad(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *file = NULL;
	struct layout *l = NULL;

	assert_int_equal(layout_open("", getuid(), getgid(), &l), -EINVAL);
	assert_int_equal(layout_open(NULL, getuid(), getgid(), &l), -EINVAL);
	assert_true(layout_open("/proc/nonexistent/x", getuid(), getgid(), &l) < 0);
	file = pathf("%s/file", f->tmp);
	write_file(file, "", 0600);
	assert_int_equal(layout_open(file, getuid(), getgid(), &l), -ENOTDIR);
	assert_null(l);
	layout_close(NULL);
}

/* ---- ckpt.meta ---- */

static void test_meta_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct layout_meta m = {
		.job_id = JOB,
		.uid = 1000,
		.gid = 100,
		.node = "node-01",
		.time = -5,
		.reason = "walltime",
		.restart_count = 3,
		.engine_version = "ckpt 0.4 (a=b)",
		.image_version = 2,
		.cpu_features = "avx2 avx512f",
		.topology = "2 sockets\\8 cores\nline two",
		.bytes = UINT64_MAX,
		.duration_ns = 123456789,
		.frozen_ns = 42,
		.script_path = "/home/u/job.sh",
		.stdout_path = "/home/u/out=%j.txt",
		.stderr_path = "",
	};
	struct layout_meta r = {}, r2 = {};
	struct layout_ckpt *c;
	uint32_t seq;

	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	assert_int_equal(layout_commit_seq(c, &m, &seq), 0);
	assert_int_equal(layout_meta_read(f->l, JOB, seq, &r), 0);
	assert_int_equal(r.job_id, m.job_id);
	assert_int_equal(r.uid, m.uid);
	assert_int_equal(r.gid, m.gid);
	assert_string_equal(r.node, m.node);
	assert_int_equal(r.time, m.time);
	assert_string_equal(r.reason, m.reason);
	assert_int_equal(r.restart_count, m.restart_count);
	assert_string_equal(r.engine_version, m.engine_version);
	assert_int_equal(r.image_version, m.image_version);
	assert_string_equal(r.cpu_features, m.cpu_features);
	assert_string_equal(r.topology, m.topology);
	assert_true(r.bytes == m.bytes);
	assert_true(r.duration_ns == m.duration_ns);
	assert_true(r.frozen_ns == m.frozen_ns);
	assert_string_equal(r.script_path, m.script_path);
	assert_string_equal(r.stdout_path, m.stdout_path);
	assert_string_equal(r.stderr_path, m.stderr_path);
	layout_meta_free(&r);
	assert_null(r.node);

	/* Optional strings left NULL stay NULL. */
	m = meta(JOB, "request");
	assert_int_equal(layout_begin(f->l, JOB, &c), 0);
	assert_int_equal(layout_commit_seq(c, &m, &seq), 0);
	assert_int_equal(layout_meta_read(f->l, JOB, seq, &r2), 0);
	assert_null(r2.node);
	assert_null(r2.script_path);
	assert_string_equal(r2.reason, "request");
	assert_int_equal(r2.time, 1700000000);
	layout_meta_free(&r2);
	layout_meta_free(NULL);
	assert_int_equal(layout_meta_read(f->l, JOB, 99, &r2), -ENOENT);
	assert_int_equal(layout_meta_read(f->l, JOB, 0, &r2), -EINVAL);
}

static int read_with_meta(struct fixture *f, const char *content, size_t len)
{
	_cleanup_free_ char *p = pathf("%s/%u/1/ckpt.meta", f->root, JOB);
	struct layout_meta m = {};
	int fd, r;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, len), 0);
	close(fd);
	r = layout_meta_read(f->l, JOB, 1, &m);
	if (r >= 0)
		layout_meta_free(&m);
	return r;
}

#define GOOD "format=1\njob_id=4242\nuid=1\ngid=2\ntime=3\nreason=drain\n"

static void test_meta_corrupt(void **state)
{
	static const char *const bad[] = {
		"",
		"job_id=4242\nuid=1\ngid=2\ntime=3\nreason=drain\n",			/* no format */
		"format=2\njob_id=4242\nuid=1\ngid=2\ntime=3\nreason=drain\n",		/* newer format */
		"format=1\nuid=1\ngid=2\ntime=3\nreason=drain\n",			/* no job_id */
		"format=1\njob_id=4242\nuid=1\ngid=2\ntime=3\n",			/* no reason */
		"format=1\njob_id=4243\nuid=1\ngid=2\ntime=3\nreason=drain\n",		/* another job */
		"format=1\njob_id=4242\nuid=-1\ngid=2\ntime=3\nreason=drain\n",		/* sign */
		"format=1\njob_id=4242\nuid=1x\ngid=2\ntime=3\nreason=drain\n",		/* junk */
		"format=1\njob_id=4242\nuid=4294967296\ngid=2\ntime=3\nreason=drain\n", /* range */
		"format=1\njob_id=4242\nuid=\ngid=2\ntime=3\nreason=drain\n",		/* empty */
		"format=1\njob_id=4242\nuid=1\ngid=2\ntime=-0\nreason=drain\n",
		"format=1\njob_id=4242\nuid=1\ngid=2\ntime=9223372036854775808\nreason=drain\n",
		"format=1\njob_id=4242\nuid=1\nuid=1\ngid=2\ntime=3\nreason=drain\n", /* duplicate */
		"format=1\nformat=1\njob_id=4242\nuid=1\ngid=2\ntime=3\nreason=drain\n",
		"format=1\njob_id=4242\nuid=1\ngid=2\ntime=3\nreason=nap\n", /* unknown reason */
		"format=1\njob_id=4242\nuid=1\ngid=2\ntime=3\nreason=drain", /* truncated */
		GOOD "node=a\\tb\n",					     /* bad escape */
		GOOD "node=a\\\n",
		GOOD "\n", /* empty line */
		GOOD "no equals sign\n",
		GOOD "Node=x\n", /* bad key */
		GOOD "=x\n",
		GOOD "bytes=18446744073709551616\n",
	};
	struct fixture *f = *state;
	_cleanup_free_ char *big = NULL, *p = NULL, *target = NULL;
	struct layout_meta m = {};

	assert_int_equal(checkpoint(f->l, JOB), 1);
	assert_int_equal(read_with_meta(f, GOOD, strlen(GOOD)), 0);
	assert_int_equal(read_with_meta(f, GOOD "future_key=whatever\n", strlen(GOOD) + 20), 0);
	assert_int_equal(read_with_meta(f, GOOD "time2=x\n", strlen(GOOD) + 8), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (read_with_meta(f, bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("took meta #%zu '%s'", i, bad[i]);
	/* A NUL byte inside. */
	assert_int_equal(read_with_meta(f, GOOD "node=a\0b\n", strlen(GOOD) + 9), -EINVAL);
	/* Too big to be ours. */
	big = malloc(100000);
	memset(big, 'x', 100000);
	memcpy(big, GOOD "topology=", strlen(GOOD) + 9);
	big[99999] = '\n';
	assert_int_equal(read_with_meta(f, big, 100000), -EINVAL);
	/* A symlink instead of the file is not followed. */
	target = pathf("%s/elsewhere", f->tmp);
	write_file(target, GOOD, 0600);
	p = pathf("%s/%u/1/ckpt.meta", f->root, JOB);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(layout_meta_read(f->l, JOB, 1, &m), -ELOOP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_jobid),
		cmocka_unit_test_setup_teardown(test_begin_commit_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_nothing_committed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owners_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_corrupt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
