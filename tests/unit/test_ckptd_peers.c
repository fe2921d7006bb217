/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of ckptd/peers.c: a node's TCP address published in the shared layout
 * (<root>/.nodes/<node>), looked up by other nodes, taken away; node names that could
 * escape the directory and addresses that are not tcp:// refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include "ckpt.h"
#include "peers.h"
#include "util.h"

static char root[64];

static void quiet_log(int level, const char *msg, void *userdata)
{
	(void)level, (void)msg, (void)userdata;
}

static int setup(void **state)
{
	(void)state;
	ckpt_set_log_fn(quiet_log, NULL);
	snprintf(root, sizeof(root), "/tmp/ckpt-peers-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_publish_lookup_unpublish(void **state)
{
	char *addr = NULL, path[128];
	struct stat st;

	(void)state;
	assert_int_equal(peers_lookup(root, "n1", &addr), -ENOENT);
	assert_int_equal(peers_publish(root, "n1", "tcp://127.0.0.1:4242"), 0);
	assert_int_equal(peers_lookup(root, "n1", &addr), 0);
	assert_string_equal(addr, "tcp://127.0.0.1:4242");
	free(addr);
	snprintf(path, sizeof(path), "%s/.nodes/n1", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* published again (a restart on another port): the new address wins */
	assert_int_equal(peers_publish(root, "n1", "tcp://127.0.0.1:4343"), 0);
	assert_int_equal(peers_lookup(root, "n1", &addr), 0);
	assert_string_equal(addr, "tcp://127.0.0.1:4343");
	free(addr);
	peers_unpublish(root, "n1");
	assert_int_equal(peers_lookup(root, "n1", &addr), -ENOENT);
}

static void test_bad_names_and_contents(void **state)
{
	char *addr = NULL, path[128];
	int fd;

	(void)state;
	assert_int_equal(peers_publish(root, "../etc", "tcp://h:1"), -EINVAL);
	assert_int_equal(peers_publish(root, ".hidden", "tcp://h:1"), -EINVAL);
	assert_int_equal(peers_publish(root, "a/b", "tcp://h:1"), -EINVAL);
	assert_int_equal(peers_publish(root, "", "tcp://h:1"), -EINVAL);
	assert_int_equal(peers_lookup(root, "../x", &addr), -EINVAL);
	/* a file that is not an address is not taken for one */
	assert_int_equal(peers_publish(root, "n2", "tcp://h:1"), 0);
	snprintf(path, sizeof(path), "%s/.nodes/n2", root);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "/run/ckptd.sock\n", 16), 0);
	close(fd);
	assert_int_equal(peers_lookup(root, "n2", &addr), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_lookup_unpublish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names_and_contents, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
