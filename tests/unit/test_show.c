/* SPDX-License-Identifier: MIT */
/* Unit tests of core/show.c: a checkpoint directory decoded to JSON, checked by python3's parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "image.h"
#include "log.h"
#include "show.h"

#define XSAVE_LEN 2432

struct ctx {
	char dir[64];
	int dirfd;
};

static char last_err[4096];

static void capture_log(int level, const char *msg, void *userdata)
{
	if (level == CKPT_LOG_ERROR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static void write_inventory(int dirfd)
{
	InventoryEntry e = INVENTORY_ENTRY__INIT;
	uint32_t feat[] = {7, 0xffffffffu};

	e.format_version = 1;
	e.root_pid = 42;
	e.arch = ARCH_KIND__X86_64;
	e.n_cpu_features = ARRAY_SIZE(feat);
	e.cpu_features = feat;
	/* A quote, a newline, a backslash, a control character, a bad UTF-8 byte, and é. */
	e.kernel = "6.1 \"test\"\nline2 \\ \x01 \xff caf\xc3\xa9";
	e.has_dump_time_ns = true;
	e.dump_time_ns = UINT64_MAX;
	e.has_shell_job = true;
	e.shell_job = true;
	assert_int_equal(img_write_one(dirfd, "inventory.img", IMG_INVENTORY, &e.base), 0);
}

static void write_pstree(int dirfd)
{
	PstreeEntry e = PSTREE_ENTRY__INIT;
	uint32_t threads[] = {42, 43};
	struct img *img;

	assert_int_equal(img_create(dirfd, "pstree.img", IMG_PSTREE, &img), 0);
	e.pid = 42;
	e.pgid = 42;
	e.sid = 42;
	e.n_threads = 2;
	e.threads = threads;
	assert_int_equal(img_write_msg(img, &e.base), 0);
	e.pid = 44;
	e.ppid = 42;
	e.n_threads = 0;
	assert_int_equal(img_write_msg(img, &e.base), 0);
	assert_int_equal(img_close(img), 0);
}

static void write_core(int dirfd)
{
	TaskCoreEntry e = TASK_CORE_ENTRY__INIT;
	CredsEntry creds = CREDS_ENTRY__INIT;
	ThreadEntry th[2] = {THREAD_ENTRY__INIT, THREAD_ENTRY__INIT}, *thp[2] = {&th[0], &th[1]};
	ThreadCoreX86 x86 = THREAD_CORE_X86__INIT;
	X86Gpregs regs = X86_GPREGS__INIT;
	SigactionEntry sa = SIGACTION_ENTRY__INIT, *sap[1] = {&sa};
	static uint8_t xsave[XSAVE_LEN];

	for (size_t i = 0; i < sizeof(xsave); i++)
		xsave[i] = (uint8_t)i;
	regs.ip = 0x401000;
	x86.gpregs = &regs;
	x86.has_xsave = true;
	x86.xsave.data = xsave;
	x86.xsave.len = sizeof(xsave);
	th[0].tid = 42;
	th[0].x86 = &x86;
	th[0].comm = "main";
	th[1].tid = 43;
	th[1].x86 = &x86;
	th[1].has_robust_list = true;
	th[1].robust_list = 0x7f0000001000ull;
	sa.sig = 10;
	sa.handler = 0x401234;
	creds.uid = 1000;
	e.arch = ARCH_KIND__X86_64;
	e.n_threads = 2;
	e.threads = thp;
	e.n_sigactions = 1;
	e.sigactions = sap;
	e.creds = &creds;
	e.umask = 022;
	e.cwd = "/home/u";
	assert_int_equal(img_write_one(dirfd, "core-42.img", IMG_CORE, &e.base), 0);
}

static void write_pages(int dirfd)
{
	char page[4096] = {1};
	struct img *img;

	assert_int_equal(img_create(dirfd, "pages-42.img", IMG_PAGES, &img), 0);
	assert_int_equal(write_all(img_fd(img), page, sizeof(page)), 0);
	assert_int_equal(img_close(img), 0);
}

static void put_file(int dirfd, const char *name, const void *buf, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, buf, len), 0);
	close(fd);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	strcpy(c->dir, "/tmp/ckpt-test-show-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(c->dirfd >= 0);
	/* Written in an order that is not the output's. */
	write_pstree(c->dirfd);
	write_core(c->dirfd);
	write_pages(c->dirfd);
	write_inventory(c->dirfd);
	put_file(c->dirfd, "dump.log", "not an image\n", 13);
	last_err[0] = '\0';
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	DIR *d = fdopendir(fcntl(c->dirfd, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(c->dirfd, de->d_name, 0);
	if (d)
		closedir(d);
	close(c->dirfd);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* Feed json to a python3 program on stdin; its exit status. */
static int run_python(const char *prog, const char *json, size_t len)
{
	char cmd[4096];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "python3 -c '%s'", prog);
	p = popen(cmd, "we");
	assert_non_null(p);
	assert_int_equal(fwrite(json, 1, len, p), len);
	st = pclose(p);
	assert_true(st != -1);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *show_dir(const char *dir, size_t *len, int *ret)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	*ret = ckpt_show_dir(dir, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_show_dir(void **state)
{
	struct ctx *c = *state;
	size_t len;
	int r;
	char *json = show_dir(c->dir, &len, &r);

	assert_int_equal(r, 0);
	assert_int_equal(run_python("import json,sys; json.load(sys.stdin)", json, len), 0);

	/* Some expected text, as the writer lays it out. */
	assert_non_null(strstr(json, "\"kind\": \"core\""));
	assert_non_null(strstr(json, "\"arch\": \"X86_64\""));
	assert_non_null(strstr(json, "\"dump_time_ns\": 18446744073709551615"));
	assert_non_null(strstr(json, "\"shell_job\": true"));
	assert_non_null(strstr(json, "\"xsave\": \"000102030405"));
	assert_non_null(strstr(json, "{\"file\": \"pages-42.img\", \"kind\": \"pages\", \"size\": 8192}"));
	assert_null(strstr(json, "dump.log"));
	assert_null(strstr(json, "fxsave"));   /* absent optional bytes */
	assert_null(strstr(json, "hostname")); /* absent optional string */

	/* The structure, the order, and the values that went through escaping. */
	const char *check =
		"import json,sys\n"
		"d = json.load(sys.stdin)\n"
		"assert d[\"dir\"] == sys.argv[1], d[\"dir\"]\n"
		"files = [i[\"file\"] for i in d[\"images\"]]\n"
		"assert files == [\"inventory.img\", \"core-42.img\", \"pages-42.img\", \"pstree.img\"], "
		"files\n"
		"inv = d[\"images\"][0][\"records\"]\n"
		"assert len(inv) == 1\n"
		"k = inv[0][\"kernel\"]\n"
		"assert k == \"6.1 \\\"test\\\"\\nline2 \\\\ \\x01 \\xff caf\\xe9\", repr(k)\n"
		"assert inv[0][\"cpu_features\"] == [7, 4294967295]\n"
		"assert \"xfeatures\" not in inv[0]\n"
		"core = d[\"images\"][1][\"records\"][0]\n"
		"th = core[\"threads\"]\n"
		"assert len(th) == 2 and th[1][\"tid\"] == 43 and th[1][\"robust_list\"] == 0x7f0000001000\n"
		"assert \"robust_list\" not in th[0] and \"comm\" not in th[1]\n"
		"assert th[0][\"comm\"] == \"main\"\n"
		"x = bytes.fromhex(th[0][\"x86\"][\"xsave\"])\n"
		"assert len(x) == 2432 and x[:3] == bytes([0, 1, 2])\n"
		"assert core[\"sigactions\"][0][\"sig\"] == 10\n"
		"assert core[\"creds\"][\"uid\"] == 1000 and core[\"creds\"][\"groups\"] == []\n"
		"assert core[\"shared_pending\"] == []\n"
		"ps = d[\"images\"][3][\"records\"]\n"
		"assert [p[\"pid\"] for p in ps] == [42, 44] and ps[1][\"threads\"] == []\n"
		"assert d[\"images\"][2] == {\"file\": \"pages-42.img\", \"kind\": \"pages\", \"size\": "
		"8192}\n";
	char prog[4096];

	/* The program is passed in single quotes: it has none, the directory name neither. */
	assert_null(strchr(check, '\''));
	snprintf(prog, sizeof(prog), "%s' '%s", check, c->dir);
	assert_int_equal(run_python(prog, json, len), 0);
	free(json);
}

static void test_show_file(void **state)
{
	struct ctx *c = *state;
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(ckpt_show_file(c->dirfd, "pstree.img", f), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(run_python("import json,sys; d = json.load(sys.stdin); "
				    "assert d[\"kind\"] == \"pstree\" and len(d[\"records\"]) == 2",
				    buf, len),
			 0);
	free(buf);
}

/* One bad image fails the whole command with its error, and nothing is written. */
static void test_show_corrupt(void **state)
{
	struct ctx *c = *state;
	char *json, *img;
	size_t len, img_len;
	int r;

	assert_int_equal(read_file_at(c->dirfd, "pstree.img", &img, &img_len), 0);
	img[img_len - 1] ^= 1;
	put_file(c->dirfd, "pstree.img", img, img_len);
	free(img);
	json = show_dir(c->dir, &len, &r);
	assert_int_equal(r, -EBADMSG);
	assert_int_equal(len, 0);
	assert_string_equal(last_err, "'pstree.img': record 2 checksum mismatch");
	free(json);

	/* An *.img name that is no kind of image. */
	unlinkat(c->dirfd, "pstree.img", 0);
	put_file(c->dirfd, "foo.img", "x", 1);
	json = show_dir(c->dir, &len, &r);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(len, 0);
	free(json);
}

static void test_show_empty_dir(void **state)
{
	char dir[] = "/tmp/ckpt-test-show-empty-XXXXXX";
	size_t len;
	int r;
	char *json;

	assert_non_null(mkdtemp(dir));
	json = show_dir(dir, &len, &r);
	assert_int_equal(r, 0);
	assert_int_equal(run_python("import json,sys; d = json.load(sys.stdin); assert d[\"images\"] == []",
				    json, len),
			 0);
	free(json);
	rmdir(dir);
	json = show_dir(dir, &len, &r);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(len, 0);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_show_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_corrupt, setup, teardown),
		cmocka_unit_test(test_show_empty_dir),
	};

	ckpt_set_log_fn(capture_log, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
