/* SPDX-License-Identifier: MIT */
/* Unit tests of core/fdcheck.c: the names given to anon-inode fds and to held locks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "fdcheck.h"

static void test_anon_kind(void **state)
{
	assert_string_equal(fdcheck_anon_kind("anon_inode:[eventfd]"), "eventfd");
	assert_string_equal(fdcheck_anon_kind("anon_inode:[eventpoll]"), "epoll instance");
	assert_string_equal(fdcheck_anon_kind("anon_inode:inotify"), "inotify instance");
	assert_string_equal(fdcheck_anon_kind("anon_inode:[io_uring]"), "io_uring instance");
	assert_string_equal(fdcheck_anon_kind("anon_inode:bpf-map"), "bpf map");
	assert_string_equal(fdcheck_anon_kind("pidfd:[1234]"), "pidfd");
	assert_string_equal(fdcheck_anon_kind("anon_inode:[something-new]"), "anonymous inode");
	assert_null(fdcheck_anon_kind("/etc/passwd"));
	assert_null(fdcheck_anon_kind("socket:[123]"));
	assert_null(fdcheck_anon_kind("pipe:[123]"));
}

static void test_lock_kind(void **state)
{
	static const char head[] = "pos:\t0\nflags:\t02100001\nmnt_id:\t26\nino:\t10953317\n";
	char buf[512];

	assert_null(fdcheck_lock_kind_buf(head));
	assert_null(fdcheck_lock_kind_buf(""));
	snprintf(buf, sizeof(buf), "%slock:\t1: POSIX  ADVISORY  WRITE 26706 fe:00:10953317 0 EOF\n", head);
	assert_string_equal(fdcheck_lock_kind_buf(buf), "POSIX lock");
	snprintf(buf, sizeof(buf), "%slock:\t1: FLOCK  ADVISORY  READ 26706 fe:00:1 0 EOF\n", head);
	assert_string_equal(fdcheck_lock_kind_buf(buf), "flock lock");
	snprintf(buf, sizeof(buf), "%slock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:1 0 EOF", head);
	assert_string_equal(fdcheck_lock_kind_buf(buf), "OFD lock");
	snprintf(buf, sizeof(buf), "%slock:\t1: LEASE  ACTIVE    READ 26706 fe:00:1 0 EOF\n", head);
	assert_string_equal(fdcheck_lock_kind_buf(buf), "lease");
	snprintf(buf, sizeof(buf), "%slock:\t1: DELEG  ACTIVE    READ 26706 fe:00:1 0 EOF\n", head);
	assert_string_equal(fdcheck_lock_kind_buf(buf), "delegation");
	/* A line cut short names nothing. */
	snprintf(buf, sizeof(buf), "%slock:", head);
	assert_null(fdcheck_lock_kind_buf(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anon_kind),
		cmocka_unit_test(test_lock_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
