/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of ckptd's registry of Slurm jobs (ckptd/sjobs.c): the configuration it takes,
 * registration and copies, one checkpoint at a time per job, what a finished checkpoint marks,
 * the end of a job (its checkpoints forgotten only after a completion), the dump slots.
 * Each test configures the registry on its own temp dir and shuts it down.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include "ckpt.h"
#include "config.h"
#include "layout.h"
#include "sjobs.h"
#include "util.h"

struct fixture {
	char tmp[64];
	char *root;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void quiet_log(int level, const char *msg, void *userdata)
{
	(void)level, (void)msg, (void)userdata;
}

/* The registry configured from defaults plus "key", "value" pairs (NULL-terminated). */
static void configure(struct fixture *f, ...)
{
	struct config_override ov[16] = {{"images_root", f->root}, {"slurm", "no"}};
	struct ckptd_config c;
	size_t n = 2;
	va_list ap;

	va_start(ap, f);
	for (const char *k; n < ARRAY_SIZE(ov) && (k = va_arg(ap, const char *));)
		ov[n++] = (struct config_override){k, va_arg(ap, const char *)};
	va_end(ap);
	assert_int_equal(config_load(NULL, false, ov, n, &c), 0);
	assert_int_equal(sjobs_configure(&c), 0);
	config_free(&c);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ckpt_set_log_fn(quiet_log, NULL);
	strcpy(f->tmp, "/tmp/test_sjobs.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	assert_true(asprintf(&f->root, "%s/root", f->tmp) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sjobs_shutdown();
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->root);
	free(f);
	return 0;
}

static void reg(uint32_t job_id, uint32_t uid, int32_t pid, const char *out)
{
	RpcJobRegisterReq r = RPC_JOB_REGISTER_REQ__INIT;

	r.job_id = job_id;
	r.uid = r.gid = uid;
	r.pid = pid;
	r.has_interval_s = true;
	r.interval_s = 60;
	r.stdout_path = (char *)out;
	assert_int_equal(sjobs_register(&r), 0);
}

/* One committed checkpoint of job_id in the registry's layout. */
static void commit_one(uint32_t job_id)
{
	struct layout_meta m = {.job_id = job_id, .time = time(NULL), .reason = (char *)"request"};
	struct layout_ckpt *c;

	assert_int_equal(layout_begin(sjobs_layout(), job_id, &c), 0);
	assert_int_equal(layout_commit(c, &m), 0);
}

static bool has_ckpt(uint32_t job_id)
{
	uint32_t seq;

	return layout_latest(sjobs_layout(), job_id, &seq, NULL) == 0;
}

static void test_off_without_images_root(void **state)
{
	struct fixture *f = *state;

	configure(f, "images_root", "", NULL);
	assert_false(sjobs_enabled());
	assert_null(sjobs_layout());
}

static void test_conf_save_paths_and_limits(void **state)
{
	struct fixture *f = *state;
	struct sjobs_conf c;

	configure(f, "save_paths", ",/scratch/a,,/tmp/b,", "node_name", "n7", "max_dumps", "3", "keep", "4",
		  "maint_lead_s", "120", NULL);
	assert_true(sjobs_enabled());
	assert_non_null(sjobs_layout());
	assert_int_equal(access(f->root, F_OK), 0);
	assert_int_equal(sjobs_conf_get(&c), 0);
	assert_true(c.enabled);
	assert_false(c.slurm);
	assert_string_equal(c.node_name, "n7");
	assert_string_equal(c.save_paths[0], "/scratch/a");
	assert_string_equal(c.save_paths[1], "/tmp/b");
	assert_null(c.save_paths[2]);
	assert_int_equal(c.pol.max_concurrent, 3);
	assert_int_equal(c.pol.keep, 4);
	assert_int_equal(c.pol.maint_lead_s, 120);
	assert_int_equal(c.watch_interval_ms, 1000);
	sjobs_conf_free(&c);
	/* none at all */
	configure(f, NULL);
	assert_int_equal(sjobs_conf_get(&c), 0);
	assert_null(c.save_paths[0]);
	sjobs_conf_free(&c);
}

static void test_register_get_and_replace(void **state)
{
	struct fixture *f = *state;
	struct sjob *v, j;
	size_t n;

	configure(f, NULL);
	assert_int_equal(sjobs_get(5, &j), -ENOENT);
	reg(5, 1000, 4242, "/home/u/slurm-5.out");
	reg(6, 0, 4343, NULL);
	assert_int_equal(sjobs_get(5, &j), 0);
	assert_int_equal(j.uid, 1000);
	assert_int_equal(j.pid, 4242);
	assert_int_equal(j.interval_s, 60);
	assert_string_equal(j.stdout_path, "/home/u/slurm-5.out");
	assert_null(j.stderr_path);
	assert_true(j.registered > 0);
	sjob_clear(&j);
	/* registered again (restored): the new tree replaces the old one */
	reg(5, 1000, 5555, NULL);
	assert_int_equal(sjobs_snapshot(&v, &n), 0);
	assert_int_equal(n, 2);
	sjobs_free(v, n);
	assert_int_equal(sjobs_get(5, &j), 0);
	assert_int_equal(j.pid, 5555);
	assert_null(j.stdout_path);
	sjob_clear(&j);
	sjobs_drop(6, "test");
	assert_int_equal(sjobs_get(6, &j), -ENOENT);
	assert_int_equal(sjobs_end(6, 0), -ENOENT);
}

static void test_one_checkpoint_at_a_time(void **state)
{
	struct fixture *f = *state;
	struct sjob j;

	configure(f, NULL);
	assert_int_equal(sjobs_begin(9), -ENOENT);
	reg(9, 1000, 4242, NULL);
	assert_int_equal(sjobs_begin(9), 0);
	assert_int_equal(sjobs_in_progress(), 1);
	assert_int_equal(sjobs_begin(9), -EBUSY);
	/* a job being checkpointed is not dropped under the checkpoint's feet */
	sjobs_drop(9, "test");
	assert_int_equal(sjobs_get(9, &j), 0);
	sjob_clear(&j);
	/* an interval checkpoint records the time, not a reason */
	sjobs_finish(9, true, POL_INTERVAL, false);
	assert_int_equal(sjobs_in_progress(), 0);
	assert_int_equal(sjobs_get(9, &j), 0);
	assert_int_equal(j.done_reason, POL_NONE);
	assert_true(j.last_ckpt > 0);
	assert_false(j.leaving);
	sjob_clear(&j);
	/* a failed one for a reason: that reason does not trigger again */
	assert_int_equal(sjobs_begin(9), 0);
	sjobs_finish(9, false, POL_DRAIN, true);
	assert_int_equal(sjobs_get(9, &j), 0);
	assert_int_equal(j.done_reason, POL_DRAIN);
	assert_false(j.leaving); /* not committed: it did not leave */
	sjob_clear(&j);
	assert_int_equal(sjobs_begin(9), 0);
	sjobs_finish(9, true, POL_PREEMPT, true);
	assert_int_equal(sjobs_get(9, &j), 0);
	assert_int_equal(j.done_reason, POL_PREEMPT);
	assert_true(j.leaving);
	sjob_clear(&j);
}

static void test_end_forgets_completed_only(void **state)
{
	struct fixture *f = *state;

	configure(f, NULL);
	for (uint32_t id = 11; id <= 14; id++) {
		reg(id, 1000, 4242, NULL);
		commit_one(id);
		assert_true(has_ckpt(id));
	}
	/* requeued after its checkpoint: its tree ends with SIGKILL, or even 0, and it goes on */
	assert_int_equal(sjobs_begin(14), 0);
	sjobs_finish(14, true, POL_PREEMPT, true);
	assert_int_equal(sjobs_end(11, 0), 0);
	assert_int_equal(sjobs_end(12, 1 << 8), 0);
	assert_int_equal(sjobs_end(13, 9), 0);
	assert_int_equal(sjobs_end(14, 0), 0);
	assert_false(has_ckpt(11));
	assert_true(has_ckpt(12));
	assert_true(has_ckpt(13));
	assert_true(has_ckpt(14));
	assert_int_equal(sjobs_end(11, 0), -ENOENT);
}

static void test_keep_on_completion(void **state)
{
	struct fixture *f = *state;

	configure(f, "keep_on_completion", "yes", NULL);
	reg(21, 1000, 4242, NULL);
	commit_one(21);
	assert_int_equal(sjobs_end(21, 0), 0);
	assert_true(has_ckpt(21));
}

static bool cancel_after(void *arg)
{
	int *left = arg;

	return --*left <= 0;
}

static void test_dump_slots(void **state)
{
	struct fixture *f = *state;
	int left = 2;

	configure(f, "max_dumps", "2", NULL);
	assert_int_equal(sjobs_slot_take(false, NULL, NULL), 0);
	assert_int_equal(sjobs_slot_take(true, NULL, NULL), 0);
	assert_int_equal(sjobs_slot_take(false, NULL, NULL), -EAGAIN);
	/* waits, asks twice whether it was cancelled, gives up */
	assert_int_equal(sjobs_slot_take(true, cancel_after, &left), -ECANCELED);
	assert_int_equal(left, 0);
	sjobs_slot_give();
	assert_int_equal(sjobs_slot_take(false, NULL, NULL), 0);
	sjobs_slot_give();
	sjobs_slot_give();
	/* a smaller max_dumps applies at once (SIGHUP) */
	configure(f, "max_dumps", "1", NULL);
	assert_int_equal(sjobs_slot_take(false, NULL, NULL), 0);
	assert_int_equal(sjobs_slot_take(false, NULL, NULL), -EAGAIN);
	sjobs_slot_give();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_off_without_images_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_save_paths_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_get_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_checkpoint_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_forgets_completed_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_on_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_slots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
