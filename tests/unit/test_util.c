/* SPDX-License-Identifier: MIT */
/* Unit tests of core/util.c: checked number parsers and whole-file/whole-buffer I/O. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "util.h"

/* ---- numbers ---- */

static void test_atou64(void **state)
{
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "x1", "-0", "1.0", "0x10", "1e3"};
	uint64_t v;

	assert_int_equal(safe_atou64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(safe_atou64("18446744073709551615", 10, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(safe_atou64("010", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(safe_atou64("0777", 8, &v), 0);
	assert_int_equal(v, 0777);
	assert_int_equal(safe_atou64("ffffffffffffffff", 16, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(safe_atou64("0000000000001234", 16, &v), 0);
	assert_int_equal(v, 0x1234);
	assert_int_equal(safe_atou64("DeadBeef", 16, &v), 0);
	assert_int_equal(v, 0xdeadbeef);

	assert_int_equal(safe_atou64("18446744073709551616", 10, &v), -ERANGE);
	assert_int_equal(safe_atou64("99999999999999999999999", 10, &v), -ERANGE);
	assert_int_equal(safe_atou64("10000000000000000", 16, &v), -ERANGE);
	assert_int_equal(safe_atou64("8", 8, &v), -EINVAL);
	assert_int_equal(safe_atou64("g", 16, &v), -EINVAL);
	assert_int_equal(safe_atou64(NULL, 10, &v), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (safe_atou64(bad[i], 10, &v) >= 0)
			fail_msg("safe_atou64 took '%s'", bad[i]);
		assert_int_equal(v, 42); /* untouched on failure */
	}
}

static void test_atou32(void **state)
{
	static const char *const bad[] = {"",	"-1", "+1",	    " 1",
					  "1 ", "1x", "4294967296", "18446744073709551616"};
	uint32_t v;

	assert_int_equal(safe_atou32("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(safe_atou32("4294967295", &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(safe_atou32("4294967296", &v), -ERANGE);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (safe_atou32(bad[i], &v) >= 0)
			fail_msg("safe_atou32 took '%s'", bad[i]);
		assert_int_equal(v, 42);
	}
}

static void test_atoi32(void **state)
{
	static const char *const bad[] = {"",
					  " 1",
					  "1 ",
					  "1x",
					  "--1",
					  "- 1",
					  "2147483648",
					  "-2147483649",
					  "9223372036854775808",
					  "-9223372036854775809"};
	int32_t v;

	assert_int_equal(safe_atoi32("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(safe_atoi32("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(safe_atoi32("2147483647", &v), 0);
	assert_int_equal(v, INT32_MAX);
	assert_int_equal(safe_atoi32("-2147483648", &v), 0);
	assert_int_equal(v, INT32_MIN);
	assert_int_equal(safe_atoi32("2147483648", &v), -ERANGE);
	assert_int_equal(safe_atoi32("-2147483649", &v), -ERANGE);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (safe_atoi32(bad[i], &v) >= 0)
			fail_msg("safe_atoi32 took '%s'", bad[i]);
		assert_int_equal(v, 42);
	}
}

static void test_atopid(void **state)
{
	static const char *const bad[] = {"", "0", "-1", "+1", " 1", "1x", "2147483648", "4294967296"};
	pid_t v;

	assert_int_equal(safe_atopid("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(safe_atopid("4194304", &v), 0);
	assert_int_equal(v, 4194304);
	assert_int_equal(safe_atopid("2147483647", &v), 0);
	assert_int_equal(v, INT32_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		if (safe_atopid(bad[i], &v) >= 0)
			fail_msg("safe_atopid took '%s'", bad[i]);
		assert_int_equal(v, 42);
	}
}

/*
 * Leading whitespace other than ' ' and a "+" or "0x" prefix: strtoull/strtol skip or take
 * them, and util.c does not refuse them yet. core/proc.c checks its tokens itself.
 */
static void test_strtol_leftovers(void **state)
{
	uint64_t v;
	int32_t i;

	if (safe_atou64("\t1", 10, &v) == 0 || safe_atou64("\n1", 10, &v) == 0 ||
	    safe_atou64("0x10", 16, &v) == 0 || safe_atoi32("+1", &i) == 0 || safe_atoi32("\t-1", &i) == 0)
		skip();
}

/* ---- files ---- */

struct tmpdir {
	char path[32];
	int fd;
};

static int tmpdir_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->path, "/tmp/ckpt-test-util-XXXXXX");
	if (!mkdtemp(t->path)) {
		free(t);
		return -1;
	}
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->fd < 0) {
		rmdir(t->path);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int tmpdir_teardown(void **state)
{
	struct tmpdir *t = *state;
	_cleanup_closedir_ DIR *d = fdopendir(t->fd);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	rmdir(t->path);
	free(t);
	return 0;
}

static void make_file(int dirfd, const char *name, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	_cleanup_free_ char *buf = malloc(len + 1);

	assert_true(fd >= 0);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	assert_int_equal(write_all(fd, buf, len), 0);
}

static void check_read(int dirfd, const char *name, size_t len)
{
	_cleanup_free_ char *buf = NULL;
	size_t got = 12345;

	make_file(dirfd, name, len);
	assert_int_equal(read_file_at(dirfd, name, &buf, &got), 0);
	assert_int_equal(got, len);
	assert_int_equal(buf[len], '\0');
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (char)('a' + i % 26))
			fail_msg("%s: byte %zu differs", name, i);
}

static void test_read_file_at(void **state)
{
	struct tmpdir *t = *state;
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char *abs = NULL;
	char *none = NULL;
	size_t len;

	/* Around the first buffer's size (4096, one byte for the NUL) and well past it. */
	check_read(t->fd, "empty", 0);
	check_read(t->fd, "small", 10);
	check_read(t->fd, "b4094", 4094);
	check_read(t->fd, "b4095", 4095);
	check_read(t->fd, "b4096", 4096);
	check_read(t->fd, "b4097", 4097);
	check_read(t->fd, "big", 300000);

	assert_true(asprintf(&abs, "%s/small", t->path) > 0);
	assert_int_equal(read_file_at(AT_FDCWD, abs, &buf, NULL), 0);
	assert_int_equal(strlen(buf), 10);

	assert_int_equal(read_file_at(t->fd, "missing", &none, &len), -ENOENT);
	assert_null(none);
	assert_int_equal(read_file_at(-EBADF, "small", &none, &len), -EBADF);
	assert_int_equal(read_file_at(t->fd, ".", &none, &len), -EISDIR);
}

/* /proc files say they are 0 bytes long; read_file_at must read them to EOF anyway. */
static void test_read_file_at_proc(void **state)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;

	assert_int_equal(read_file_at(AT_FDCWD, "/proc/self/status", &buf, &len), 0);
	assert_true(len > 100);
	assert_int_equal(strlen(buf), len);
	assert_int_equal(strncmp(buf, "Name:", 5), 0);
	assert_int_equal(buf[len - 1], '\n');
}

static void test_write_read_all(void **state)
{
	struct tmpdir *t = *state;
	const size_t len = 1 << 20;
	_cleanup_free_ char *out = malloc(len), *in = malloc(len);
	_cleanup_close_ int fd = openat(t->fd, "rw", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char small[16];

	assert_non_null(out);
	assert_non_null(in);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 7 + (i >> 12));
	assert_int_equal(write_all(fd, out, len), 0);
	assert_int_equal(write_all(fd, out, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read_all(fd, in, len), 0);
	assert_memory_equal(in, out, len);
	/* At EOF: a short file is -EIO, not a silent partial read. */
	assert_int_equal(read_all(fd, small, sizeof(small)), -EIO);
	assert_int_equal(read_all(fd, small, 0), 0);

	assert_int_equal(pread_all(fd, small, sizeof(small), 4096), 0);
	assert_memory_equal(small, out + 4096, sizeof(small));
	assert_int_equal(pread_all(fd, small, sizeof(small), len - 8), -EIO);

	assert_int_equal(write_all(-EBADF, out, 1), -EBADF);
	assert_int_equal(read_all(-EBADF, in, 1), -EBADF);
}

/* Through a pipe, whose writes and reads come in pieces no bigger than its buffer. */
static void test_write_read_all_pipe(void **state)
{
	const size_t len = 1 << 20;
	_cleanup_free_ char *out = malloc(len), *in = malloc(len);
	int p[2], status;
	pid_t child;

	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(i * 13);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(p[0]);
		_exit(write_all(p[1], out, len) == 0 ? 0 : 1);
	}
	close(p[1]);
	assert_int_equal(read_all(p[0], in, len), 0);
	assert_memory_equal(in, out, len);
	assert_int_equal(read_all(p[0], in, 1), -EIO); /* the writer is done */
	close(p[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* No reader left: -EPIPE (with SIGPIPE ignored), not a loop. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write_all(p[1], out, 10), -EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
}

static void test_readlink_malloc(void **state)
{
	struct tmpdir *t = *state;
	char target[1000];
	char *got = NULL;

	/* Longer than readlink_malloc's first buffer. */
	memset(target, 'x', sizeof(target) - 1);
	target[0] = '/';
	target[sizeof(target) - 1] = '\0';
	assert_int_equal(symlinkat(target, t->fd, "long"), 0);
	assert_int_equal(readlink_malloc(t->fd, "long", &got), 0);
	assert_string_equal(got, target);
	free(got);
	assert_int_equal(symlinkat("short", t->fd, "short-link"), 0);
	assert_int_equal(readlink_malloc(t->fd, "short-link", &got), 0);
	assert_string_equal(got, "short");
	free(got);
	assert_int_equal(readlink_malloc(t->fd, "missing", &got), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atou64),
		cmocka_unit_test(test_atou32),
		cmocka_unit_test(test_atoi32),
		cmocka_unit_test(test_atopid),
		cmocka_unit_test(test_strtol_leftovers),
		cmocka_unit_test_setup_teardown(test_read_file_at, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_read_file_at_proc),
		cmocka_unit_test_setup_teardown(test_write_read_all, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_write_read_all_pipe),
		cmocka_unit_test_setup_teardown(test_readlink_malloc, tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
