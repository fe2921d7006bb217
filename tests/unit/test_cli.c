/* SPDX-License-Identifier: MIT */
/* Option parsing of the ckpt command (core/cli/opts.c): what it accepts and what it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli.h"

/* argv arrays are permuted by getopt: give each call a fresh one. */
#define ARGS(...)                 \
	(char *[])                \
	{                         \
		__VA_ARGS__, NULL \
	}
#define NARGS(...)	  ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define DUMP(ret, ...)	  cli_parse_dump(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)
#define RESTORE(ret, ...) cli_parse_restore(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)
#define SHOW(ret, ...)	  cli_parse_show(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)
#define CHECK(ret, ...)	  cli_parse_check(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)
#define MAIN(ret, ...)	  cli_parse_main(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), ret)
#define STATUS(ret, ...)  cli_parse_status(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)
#define CANCEL(ret, ...)  cli_parse_cancel(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), NULL, ret)

static void dump_minimal(void **state)
{
	struct cli_dump d;

	assert_int_equal(DUMP(&d, "dump", "-t", "123"), CLI_RUN);
	assert_int_equal(d.opts.pid, 123);
	assert_int_equal(d.opts.sz, sizeof(d.opts));
	assert_string_equal(d.opts.images_dir, ".");
	assert_false(d.opts.leave_running);
	assert_false(d.opts.leave_stopped);
	assert_false(d.opts.shell_job);
	assert_null(d.opts.freeze_cgroup);
	assert_int_equal(d.g.verbosity, CLI_VERBOSITY_DEFAULT);
	assert_null(d.g.log_file);
}

static void dump_all_options(void **state)
{
	struct cli_dump d;

	assert_int_equal(DUMP(&d, "dump", "--tree=42", "-D", "/img", "-R", "--shell-job", "--freeze-cgroup",
			      "/sys/fs/cgroup/freezer/job", "-o", "d.log"),
			 CLI_RUN);
	assert_int_equal(d.opts.pid, 42);
	assert_string_equal(d.opts.images_dir, "/img");
	assert_true(d.opts.leave_running);
	assert_true(d.opts.shell_job);
	assert_string_equal(d.opts.freeze_cgroup, "/sys/fs/cgroup/freezer/job");
	assert_string_equal(d.g.log_file, "d.log");

	assert_int_equal(DUMP(&d, "dump", "-sj", "-t42", "--images-dir=x"), CLI_RUN);
	assert_true(d.opts.leave_stopped);
	assert_true(d.opts.shell_job);
	assert_string_equal(d.opts.images_dir, "x");
}

static void dump_bad_tree(void **state)
{
	struct cli_dump d;

	assert_int_equal(DUMP(&d, "dump"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-D", "x"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "0"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "abc"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "123x"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "-5"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "+5"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", " 5"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "\t5"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", ""), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "0x10"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "2147483648"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "99999999999999999999"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "--tree"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "2147483647"), CLI_RUN);
}

static void dump_conflicts(void **state)
{
	struct cli_dump d;

	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-R", "-s"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--leave-stopped", "--leave-running"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-Rs"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-D", ""), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--freeze-cgroup="), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-o", ""), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "extra"), -EINVAL);
}

static void unknown_options(void **state)
{
	struct cli_dump d;
	struct cli_restore r;
	struct cli_check c;

	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--bogus"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-x"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-Rx"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--leave-running=yes"), -EINVAL);
	/* restore's options are not dump's and the other way round */
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-d"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--pidfile", "p"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "-t", "1"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "-R"), -EINVAL);
	assert_int_equal(CHECK(&c, "check", "-D", "x"), -EINVAL);
	assert_int_equal(CHECK(&c, "check", "x"), -EINVAL);
	assert_int_equal(CHECK(&c, "check"), CLI_RUN);
}

static void help(void **state)
{
	struct cli_dump d;
	struct cli_restore r;
	struct cli_show s;
	struct cli_check c;
	struct cli_main m;

	assert_int_equal(DUMP(&d, "dump", "-h"), CLI_HELP);
	assert_int_equal(DUMP(&d, "dump", "--help"), CLI_HELP);
	assert_int_equal(RESTORE(&r, "restore", "-h"), CLI_HELP);
	assert_int_equal(SHOW(&s, "show", "--help"), CLI_HELP);
	assert_int_equal(CHECK(&c, "check", "-h"), CLI_HELP);
	assert_int_equal(MAIN(&m, "ckpt", "--help"), CLI_RUN);
	assert_true(m.help);
}

static void verbosity_levels(void **state)
{
	int v;

	assert_int_equal(cli_parse_verbosity(NULL, 1, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cli_parse_verbosity("v", 1, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(cli_parse_verbosity("vvvvvv", 1, &v), 0);
	assert_int_equal(v, CLI_VERBOSITY_MAX);
	for (int i = 0; i <= 4; i++) {
		char arg[2] = {(char)('0' + i), '\0'};

		assert_int_equal(cli_parse_verbosity(arg, 1, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(cli_parse_verbosity("5", 1, &v), -EINVAL);
	assert_int_equal(cli_parse_verbosity("-1", 1, &v), -EINVAL);
	assert_int_equal(cli_parse_verbosity("10", 1, &v), -EINVAL);
	assert_int_equal(cli_parse_verbosity("x", 1, &v), -EINVAL);
	assert_int_equal(cli_parse_verbosity("vx", 1, &v), -EINVAL);
	assert_int_equal(cli_parse_verbosity("", 1, &v), -EINVAL);
}

static void verbosity_options(void **state)
{
	struct cli_global base = {.verbosity = 3, .log_file = "base.log"};
	struct cli_dump d;

	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-v4"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 4);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-v0"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 0);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-v"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 2);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-vv"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 3);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--verbosity=2"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 2);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--verbosity"), CLI_RUN);
	assert_int_equal(d.g.verbosity, 2);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-v5"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-vx"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--verbosity=9"), -EINVAL);

	/* Options before the verb are the base; the verb's own override them. */
	assert_int_equal(cli_parse_dump(3, ARGS("dump", "-t", "1"), &base, &d), CLI_RUN);
	assert_int_equal(d.g.verbosity, 3);
	assert_string_equal(d.g.log_file, "base.log");
	assert_int_equal(cli_parse_dump(5, ARGS("dump", "-t", "1", "-o", "x.log"), &base, &d), CLI_RUN);
	assert_string_equal(d.g.log_file, "x.log");
}

static void main_options(void **state)
{
	struct cli_main m;

	assert_int_equal(MAIN(&m, "ckpt"), CLI_RUN);
	assert_int_equal(m.verb, 0);
	assert_int_equal(MAIN(&m, "ckpt", "-v4", "-o", "/tmp/l", "dump", "-t", "1"), CLI_RUN);
	assert_int_equal(m.verb, 4);
	assert_int_equal(m.g.verbosity, 4);
	assert_string_equal(m.g.log_file, "/tmp/l");
	/* the verb's options are left alone */
	assert_int_equal(MAIN(&m, "ckpt", "dump", "--bogus"), CLI_RUN);
	assert_int_equal(m.verb, 1);
	assert_int_equal(MAIN(&m, "ckpt", "-V"), CLI_RUN);
	assert_true(m.version);
	assert_int_equal(MAIN(&m, "ckpt", "--bogus", "dump"), -EINVAL);
	assert_int_equal(MAIN(&m, "ckpt", "-t", "1", "dump"), -EINVAL);
	assert_int_equal(MAIN(&m, "ckpt", "-v7", "dump"), -EINVAL);
}

static void inherit_fd_forms(void **state)
{
	struct ckpt_inherit_fd in;
	char arg[64];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(arg, sizeof(arg), "fd[%d]:pipe:[1234]", p[0]);
	assert_int_equal(cli_parse_inherit_fd(arg, &in), 0);
	assert_int_equal(in.fd, p[0]);
	assert_string_equal(in.key, "pipe:[1234]");
	snprintf(arg, sizeof(arg), "fd[%d]:tty:[136:3]", p[1]);
	assert_int_equal(cli_parse_inherit_fd(arg, &in), 0);
	assert_string_equal(in.key, "tty:[136:3]");

	static const char *const bad[] = {
		"",
		"fd",
		"fd[",
		"fd[]",
		"fd[]:pipe:[1]",
		"fd[-1]:pipe:[1]",
		"fd[+1]:pipe:[1]",
		"fd[ 1]:pipe:[1]",
		"fd[1 ]:pipe:[1]",
		"fd[1]",
		"fd[1]:",
		"fd[1]pipe:[1]",
		"fd[1]]:pipe:[1]",
		"fd1:pipe:[1]",
		"FD[1]:pipe:[1]",
		" fd[1]:pipe:[1]",
		"fd[0x1]:pipe:[1]",
		"fd[2147483648]:pipe:[1]",
		"fd[99999999999999999999]:x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cli_parse_inherit_fd(bad[i], &in) != -EINVAL)
			fail_msg("accepted --inherit-fd '%s'", bad[i]);
	}
	close(p[1]);
	snprintf(arg, sizeof(arg), "fd[%d]:pipe:[1234]", p[1]);
	assert_int_equal(cli_parse_inherit_fd(arg, &in), -EBADF);
	assert_int_equal(cli_parse_inherit_fd("fd[1000000]:pipe:[1]", &in), -EBADF);
	close(p[0]);
}

static void restore_options(void **state)
{
	struct cli_restore r;
	char a0[32], a1[32];
	int p[2];

	assert_int_equal(RESTORE(&r, "restore"), CLI_RUN);
	assert_string_equal(r.opts.images_dir, ".");
	assert_int_equal(r.opts.sz, sizeof(r.opts));
	assert_false(r.opts.detach);
	assert_int_equal(r.opts.n_inherit_fds, 0);
	cli_restore_free(&r);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(a0, sizeof(a0), "fd[%d]:pipe:[1]", p[0]);
	snprintf(a1, sizeof(a1), "--inherit-fd=fd[%d]:pipe:[2]", p[1]);
	assert_int_equal(RESTORE(&r, "restore", "-D", "img", "-d", "--pidfile", "/run/p", "--no-pidns", "-j",
				 "--inherit-fd", a0, a1),
			 CLI_RUN);
	assert_string_equal(r.opts.images_dir, "img");
	assert_true(r.opts.detach);
	assert_string_equal(r.opts.pidfile, "/run/p");
	assert_true(r.opts.no_pidns);
	assert_true(r.opts.shell_job);
	assert_int_equal(r.opts.n_inherit_fds, 2);
	assert_ptr_equal(r.opts.inherit_fds, r.inherit_fds);
	assert_int_equal(r.opts.inherit_fds[0].fd, p[0]);
	assert_int_equal(r.opts.inherit_fds[1].fd, p[1]);
	assert_string_equal(r.opts.inherit_fds[1].key, "pipe:[2]");
	cli_restore_free(&r);
	/* one key twice */
	snprintf(a1, sizeof(a1), "fd[%d]:pipe:[1]", p[1]);
	assert_int_equal(RESTORE(&r, "restore", "--inherit-fd", a0, "--inherit-fd", a1), -EINVAL);
	close(p[0]);
	close(p[1]);

	assert_int_equal(RESTORE(&r, "restore", "--restore-detached", "--shell-job"), CLI_RUN);
	assert_true(r.opts.detach);
	cli_restore_free(&r);
	assert_int_equal(RESTORE(&r, "restore", "--inherit-fd", "fd[x]:k"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--inherit-fd", "fd[1000000]:k"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--inherit-fd"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--pidfile="), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "img"), -EINVAL);
}

static void show_options(void **state)
{
	struct cli_show s;

	assert_int_equal(SHOW(&s, "show"), CLI_RUN);
	assert_string_equal(s.images_dir, ".");
	assert_int_equal(SHOW(&s, "show", "img"), CLI_RUN);
	assert_string_equal(s.images_dir, "img");
	assert_int_equal(SHOW(&s, "show", "-D", "img2"), CLI_RUN);
	assert_string_equal(s.images_dir, "img2");
	assert_int_equal(SHOW(&s, "show", "-v3", "img", "-o", "/tmp/s.log"), CLI_RUN);
	assert_string_equal(s.images_dir, "img");
	assert_int_equal(s.g.verbosity, 3);
	assert_int_equal(SHOW(&s, "show", "a", "b"), -EINVAL);
	assert_int_equal(SHOW(&s, "show", "a", "-D", "b"), -EINVAL);
	assert_int_equal(SHOW(&s, "show", ""), -EINVAL);
	assert_int_equal(SHOW(&s, "show", "-t", "1"), -EINVAL);
}

/* --service: a global option, before the verb or after it; the later one wins. */
static void service_option(void **state)
{
	struct cli_main m;
	struct cli_dump d;
	struct cli_check c;

	assert_int_equal(MAIN(&m, "ckpt", "--service", "/run/s.sock", "dump", "-t", "1"), CLI_RUN);
	assert_string_equal(m.g.service, "/run/s.sock");
	assert_int_equal(m.verb, 3);
	assert_int_equal(cli_parse_dump(3, ARGS("dump", "-t", "7"), &m.g, &d), CLI_RUN);
	assert_string_equal(d.g.service, "/run/s.sock");
	assert_int_equal(d.opts.pid, 7);
	assert_int_equal(cli_parse_dump(4, ARGS("dump", "-t", "7", "--service=/b"), &m.g, &d), CLI_RUN);
	assert_string_equal(d.g.service, "/b");

	assert_int_equal(DUMP(&d, "dump", "-t", "1"), CLI_RUN);
	assert_null(d.g.service);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "-R", "-D", "img", "--service", "s"), CLI_RUN);
	assert_string_equal(d.g.service, "s");
	assert_true(d.opts.leave_running);
	assert_int_equal(CHECK(&c, "check", "--service", "s"), CLI_RUN);
	assert_string_equal(c.g.service, "s");

	assert_int_equal(MAIN(&m, "ckpt", "--service"), -EINVAL);
	assert_int_equal(MAIN(&m, "ckpt", "--service="), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--service"), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "-t", "1", "--service", ""), -EINVAL);
	assert_int_equal(DUMP(&d, "dump", "--service", "s"), -EINVAL); /* still needs -t */
}

/* What only a local restore can do is refused with --service; show never takes it. */
static void service_restore_and_show(void **state)
{
	struct cli_restore r;
	struct cli_show s;

	assert_int_equal(RESTORE(&r, "restore", "--service", "s", "-d", "-D", "img", "--pidfile", "p"),
			 CLI_RUN);
	assert_string_equal(r.g.service, "s");
	assert_true(r.opts.detach);
	assert_string_equal(r.opts.pidfile, "p");
	cli_restore_free(&r);
	assert_int_equal(RESTORE(&r, "restore", "--service", "s", "-D", "img"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--service", "s", "-d", "--no-pidns"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--service", "s", "-d", "-j"), -EINVAL);
	assert_int_equal(RESTORE(&r, "restore", "--service", "s", "-d", "--inherit-fd", "fd[0]:k"), -EINVAL);
	assert_null(r.inherit_fds);
	assert_int_equal(RESTORE(&r, "restore", "-D", "img"), CLI_RUN); /* locally, all of it */
	cli_restore_free(&r);
	assert_int_equal(SHOW(&s, "show", "--service", "s", "img"), -EINVAL);
}

static void status_and_cancel(void **state)
{
	struct cli_status st;
	struct cli_cancel c;

	assert_int_equal(STATUS(&st, "status"), CLI_RUN);
	assert_null(st.g.service);
	assert_int_equal(STATUS(&st, "status", "--service", "/s", "-v2"), CLI_RUN);
	assert_string_equal(st.g.service, "/s");
	assert_int_equal(st.g.verbosity, 2);
	assert_int_equal(STATUS(&st, "status", "x"), -EINVAL);
	assert_int_equal(STATUS(&st, "status", "-t", "1"), -EINVAL);

	assert_int_equal(CANCEL(&c, "cancel", "42"), CLI_RUN);
	assert_int_equal(c.job_id, 42);
	assert_int_equal(CANCEL(&c, "cancel", "--service", "/s", "18446744073709551615"), CLI_RUN);
	assert_int_equal(c.job_id, UINT64_MAX);
	assert_string_equal(c.g.service, "/s");
	static const char *const bad[] = {"", "0", "-1", "+1", " 1", "1x", "0x10", "18446744073709551616"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (CANCEL(&c, "cancel", (char *)bad[i]) != -EINVAL)
			fail_msg("accepted job '%s'", bad[i]);
	assert_int_equal(CANCEL(&c, "cancel"), -EINVAL);
	assert_int_equal(CANCEL(&c, "cancel", "1", "2"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dump_minimal),	     cmocka_unit_test(dump_all_options),
		cmocka_unit_test(dump_bad_tree),     cmocka_unit_test(dump_conflicts),
		cmocka_unit_test(unknown_options),   cmocka_unit_test(help),
		cmocka_unit_test(verbosity_levels),  cmocka_unit_test(verbosity_options),
		cmocka_unit_test(main_options),	     cmocka_unit_test(inherit_fd_forms),
		cmocka_unit_test(restore_options),   cmocka_unit_test(show_options),
		cmocka_unit_test(service_option),    cmocka_unit_test(service_restore_and_show),
		cmocka_unit_test(status_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
