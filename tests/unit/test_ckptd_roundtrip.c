/* SPDX-License-Identifier: MIT */
/*
 * RPC round trips from C through ckptd's client API (ckptd/ckptd-client.h), against the real
 * build/ckptd, which this program starts on a socket in a temp dir (as root: skipped
 * otherwise) and stops by its pid: version, check, status, list, pre-dump, cancel, a dump of a
 * child it forks, and the detached restore of those images, whose process it then kills.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "ckpt.h"
#include "ckptd-client.h"
#include "ckptd.h"
#include "util.h"

#define TIMEOUT_MS 60000

static struct {
	char tmp[64];	    /* the daemon's temp dir: its configuration, socket, log, the images */
	char sock[128];	    /* <tmp>/ckptd.sock */
	char exe[PATH_MAX]; /* this program */
	pid_t pid;	    /* the daemon's */
} d = {.pid = -1};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

/* Every fd but 0-2 closed: the daemon and the child to dump inherit nothing stray. */
static void close_from_3(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -EBADF;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
}

/* build/ckptd, next to build/tests/unit/ where this program is. */
static void daemon_path(char *buf, size_t size)
{
	char self[PATH_MAX];

	snprintf(self, sizeof(self), "%s", d.exe);
	snprintf(buf, size, "%s/../../ckptd", dirname(self));
}

static void exec_daemon(const char *bin)
{
	char conf[PATH_MAX], log[PATH_MAX];
	int fd;

	snprintf(conf, sizeof(conf), "%s/ckptd.conf", d.tmp);
	snprintf(log, sizeof(log), "%s/ckptd.log", d.tmp);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	close_from_3();
	execl(bin, "ckptd", "-f", "-c", conf, "--socket", d.sock, (char *)NULL);
	_exit(127);
}

static int connect_client(struct ckptd_client **ret)
{
	int r = ckptd_client_connect(d.sock, ret);

	if (r == 0)
		r = ckptd_client_set_timeout(*ret, TIMEOUT_MS);
	return r;
}

/* The daemon answers version within 10 s, or the whole group fails. */
static int wait_daemon(void)
{
	for (int i = 0; i < 1000; i++) {
		struct ckptd_client *c = NULL;
		char *version = NULL;
		uint32_t protocol;
		int r = connect_client(&c);

		if (r == 0)
			r = ckptd_client_version(c, &version, &protocol);
		ckptd_client_close(c);
		free(version);
		if (r == 0)
			return 0;
		if (waitpid(d.pid, NULL, WNOHANG) == d.pid) {
			d.pid = -1;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

static int start_daemon(void **state)
{
	char bin[PATH_MAX];
	ssize_t n;

	if (geteuid() != 0)
		return 0;
	n = readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1);
	if (n < 0)
		return -1;
	d.exe[n] = '\0';
	daemon_path(bin, sizeof(bin));
	snprintf(d.tmp, sizeof(d.tmp), "/tmp/ckptd-roundtrip-XXXXXX");
	if (!mkdtemp(d.tmp))
		return -1;
	snprintf(d.sock, sizeof(d.sock), "%s/ckptd.sock", d.tmp);
	write_file(d.tmp, "ckptd.conf", "# test_ckptd_roundtrip\nworkers = 2\n");
	d.pid = fork();
	if (d.pid < 0)
		return -1;
	if (d.pid == 0)
		exec_daemon(bin);
	if (wait_daemon() < 0) {
		fprintf(stderr, "ckptd (%s) did not start: see %s/ckptd.log\n", bin, d.tmp);
		return -1;
	}
	return 0;
}

/* SIGTERM to the daemon we started, by its pid; SIGKILL when it is not gone in 30 s. */
static int stop_daemon(void **state)
{
	int status = -1;

	if (d.pid > 0) {
		kill(d.pid, SIGTERM);
		for (int i = 0; i < 3000 && waitpid(d.pid, &status, WNOHANG) == 0; i++)
			usleep(10000);
		if (status == -1) {
			kill(d.pid, SIGKILL);
			waitpid(d.pid, &status, 0);
		}
		d.pid = -1;
	}
	if (*d.tmp)
		nftw(d.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

static int setup(void **state)
{
	struct ckptd_client *c = NULL;

	if (d.pid <= 0)
		return 0;
	if (connect_client(&c) < 0)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	ckptd_client_close(*state);
	return 0;
}

static struct ckptd_client *client(void **state)
{
	if (d.pid <= 0)
		skip(); /* not root */
	return *state;
}

static RpcResponse *call(void **state, RpcReqType type)
{
	RpcResponse *resp = NULL;

	assert_int_equal(ckptd_client_simple(client(state), type, &resp), 0);
	assert_non_null(resp);
	assert_int_equal(resp->type, type);
	return resp;
}

static void test_version(void **state)
{
	char *version = NULL;
	uint32_t protocol = 0;

	assert_int_equal(ckptd_client_version(client(state), &version, &protocol), 0);
	assert_string_equal(version, CKPT_VERSION);
	assert_int_equal(protocol, CKPTD_PROTOCOL);
	free(version);
}

static void test_check(void **state)
{
	RpcResponse *resp = call(state, RPC_REQ_TYPE__RPC_CHECK);
	bool seize = false;

	assert_non_null(resp->check);
	assert_true(resp->check->n_features > 0);
	for (size_t i = 0; i < resp->check->n_features; i++) {
		const RpcFeature *f = resp->check->features[i];

		assert_non_null(f->name);
		if (!strcmp(f->name, "ptrace-seize"))
			seize = f->present;
		/* the verdict: an error exactly when a required feature is missing */
		if (f->required && !f->present)
			assert_int_not_equal(resp->error, 0);
	}
	assert_true(seize);
	ckptd_client_response_free(resp);
}

static void test_status(void **state)
{
	RpcResponse *resp = call(state, RPC_REQ_TYPE__RPC_STATUS);

	assert_int_equal(resp->error, 0);
	assert_non_null(resp->status);
	assert_int_equal(resp->status->workers, 2);
	assert_int_equal(resp->status->running, 0);
	assert_true(resp->status->has_uptime_ns && resp->status->uptime_ns > 0);
	ckptd_client_response_free(resp);
}

static void test_list(void **state)
{
	RpcResponse *resp = call(state, RPC_REQ_TYPE__RPC_LIST);

	assert_int_equal(resp->error, 0);
	assert_non_null(resp->list);
	ckptd_client_response_free(resp);
}

static void test_pre_dump(void **state)
{
	RpcResponse *resp = call(state, RPC_REQ_TYPE__RPC_PRE_DUMP);

	assert_int_equal(resp->error, EOPNOTSUPP);
	assert_non_null(resp->message);
	ckptd_client_response_free(resp);
}

static void test_cancel(void **state)
{
	char *msg = NULL;

	assert_int_equal(ckptd_client_cancel(client(state), 123456789, &msg), -ENOENT);
	free(msg);
	/* the connection serves on after a refusal */
	test_version(state);
}

/* A refused path, checked by the daemon's decoder before anything is queued. */
static void test_dump_bad_path(void **state)
{
	struct ckpt_dump_opts o = {.sz = sizeof(o), .pid = getpid(), .images_dir = "/tmp/../etc/ckpt"};
	char *msg = NULL;

	assert_int_equal(ckptd_client_dump(client(state), &o, NULL, &msg), -EINVAL);
	assert_non_null(msg);
	assert_non_null(strstr(msg, ".."));
	free(msg);
	test_version(state);
}

/*
 * The process to dump: its own session, stdio on /dev/null, no other fd, and no capability
 * (a restored task cannot get capabilities its restorer, ckptd, has dropped).
 */
static _Noreturn void sleeper(void)
{
	cap_t none = cap_init();
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	close_from_3();
	setsid();
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (!none || cap_set_proc(none) < 0)
		_exit(127);
	for (;;)
		usleep(100000);
}

static void assert_gone_soon(pid_t pid)
{
	char path[64], buf[512] = "";
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 1000; i++) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		const char *p;

		if (n <= 0)
			return;
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'Z')
			return;
		usleep(10000);
	}
	fail_msg("restored pid %d still runs after SIGKILL", (int)pid);
}

static void restore_and_kill(struct ckptd_client *c, const char *dir)
{
	struct ckpt_restore_opts o = {.sz = sizeof(o), .images_dir = dir, .detach = true};
	char exe[PATH_MAX], link[64];
	char *msg = NULL;
	pid_t pid = -1;
	ssize_t n;
	int r = ckptd_client_restore(c, &o, &pid, &msg);

	if (r < 0)
		fail_msg("restore of '%s': %s (%s)", dir, strerror(-r), msg ?: "");
	free(msg);
	assert_true(pid > 1);
	/* it runs this very program, as the child did; killed before any assertion can fail */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	r = kill(pid, SIGKILL);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_string_equal(exe, d.exe);
	assert_int_equal(r, 0);
	assert_gone_soon(pid);
}

static void test_dump_and_restore(void **state)
{
	struct ckptd_client *c = client(state);
	struct ckpt_dump_stats st = {0};
	char dir[PATH_MAX], *msg = NULL;
	struct ckpt_dump_opts o = {.sz = sizeof(o), .images_dir = dir};
	RpcResponse *resp;
	int r, status;
	pid_t child;

	snprintf(dir, sizeof(dir), "%s/img", d.tmp);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		sleeper();
	usleep(200000); /* let it drop its capabilities and sleep */
	o.pid = child;
	r = ckptd_client_dump(c, &o, &st, &msg);
	if (r < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		fail_msg("dump of pid %d: %s (%s)", (int)child, strerror(-r), msg ?: "");
	}
	free(msg);
	assert_int_equal(st.nr_tasks, 1);
	assert_true(st.pages_written > 0 && st.bytes_written > 0 && st.frozen_ns > 0);
	assert_true(st.total_ns >= st.frozen_ns);
	/* a dump without leave_running ends the tree */
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	restore_and_kill(c, dir);
	resp = call(state, RPC_REQ_TYPE__RPC_STATUS);
	assert_int_equal(resp->status->failed, 0);
	assert_true(resp->status->done >= 2);
	ckptd_client_response_free(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pre_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_bad_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_and_restore, setup, teardown),
	};

	return cmocka_run_group_tests(tests, start_daemon, stop_daemon);
}
