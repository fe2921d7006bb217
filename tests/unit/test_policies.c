/* SPDX-License-Identifier: MIT */
/* Unit tests of policies/: each rule of pol_decide, jitter, pol_pick, the interval parser, retention. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include "policies.h"

#define NOW  1700000000
#define HOUR 3600

static const struct pol_conf conf = {
	.maint_lead_s = HOUR, .walltime_lead_s = 600, .jitter_s = 0, .max_concurrent = 2, .keep = 2};

/* A job running for a day, walltime far away, no interval. */
static struct pol_job job(uint32_t id)
{
	return (struct pol_job){.job_id = id, .start_time = NOW - 86400, .end_time = NOW + 86400};
}

static void assert_decision(struct pol_decision d, enum pol_reason r, bool requeue)
{
	assert_string_equal(pol_reason_name(d.reason), pol_reason_name(r));
	assert_int_equal(d.requeue, requeue);
}

static void test_reason_names(void **state)
{
	assert_string_equal(pol_reason_name(POL_PREEMPT), "preempt");
	assert_string_equal(pol_reason_name(POL_DRAIN), "drain");
	assert_string_equal(pol_reason_name(POL_REBOOT), "reboot");
	assert_string_equal(pol_reason_name(POL_MAINT), "maint");
	assert_string_equal(pol_reason_name(POL_WALLTIME), "walltime");
	assert_string_equal(pol_reason_name(POL_INTERVAL), "interval");
	assert_string_equal(pol_reason_name(POL_NONE), "none");
	assert_string_equal(pol_reason_name((enum pol_reason)99), "unknown");
}

static void test_nothing(void **state)
{
	struct pol_node n = {};
	struct pol_job j = job(1);

	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
}

static void test_preempt(void **state)
{
	struct pol_node n = {.drain = true, .reboot_requested = true, .maint_start = NOW};
	struct pol_job j = job(1);

	j.preempt_time = NOW + 30;
	j.interval_s = 60;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_PREEMPT, true);
	j.done_for_reason = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
	j.done_for_reason = false;
	j.in_progress = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
}

static void test_drain_reboot(void **state)
{
	struct pol_node n = {.drain = true, .reboot_requested = true, .maint_start = NOW};
	struct pol_job j = job(1);

	j.end_time = NOW + 60;						   /* walltime too */
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_REBOOT, true); /* reboot ASAP drains */
	n.reboot_requested = false;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_DRAIN, true);
	n.drain = false;
	n.reboot_requested = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_REBOOT, true);
	j.done_for_reason = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
	j.done_for_reason = false;
	j.in_progress = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
}

static void test_maint(void **state)
{
	struct pol_conf c = conf;
	struct pol_node n = {.maint_start = NOW + HOUR + 1};
	struct pol_job j = job(1);

	c.walltime_lead_s = 0;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false); /* just outside the lead */
	n.maint_start = NOW + HOUR;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_MAINT, true);
	n.maint_start = NOW - 10; /* already started: still */
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_MAINT, true);
	n.maint_start = NOW + 60;
	j.end_time = NOW + 60; /* ends before it starts: left alone for maint... */
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_WALLTIME, true); /* ...not for walltime */
	j.end_time = 0; /* no walltime: it would run into it */
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_MAINT, true);
	j.done_for_reason = true;
	assert_decision(pol_decide(&conf, &n, &j, NOW), POL_NONE, false);
}

static void test_walltime(void **state)
{
	struct pol_conf c = conf;
	struct pol_node n = {};
	struct pol_job j = job(1);

	j.end_time = NOW + 601;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
	j.end_time = NOW + 600;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_WALLTIME, true);
	/* Walltime beats interval, maint beats walltime. */
	j.interval_s = 60;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_WALLTIME, true);
	n.maint_start = NOW + 700;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_WALLTIME, true); /* ends before maint */
	n.maint_start = NOW + 500;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_MAINT, true);
	n.maint_start = 0;
	/* Already done for walltime: no interval checkpoint either. */
	j.done_for_reason = true;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
	j.done_for_reason = false;
	/* A walltime no longer than the lead would requeue forever. */
	j.start_time = NOW - 100;
	j.end_time = NOW + 500;
	j.interval_s = 0;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
	/* Lead 0: the rule is off. */
	c.walltime_lead_s = 0;
	j.start_time = NOW - 86400;
	j.end_time = NOW;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
}

static void test_interval(void **state)
{
	struct pol_conf c = conf;
	struct pol_node n = {};
	struct pol_job j = job(7);
	uint32_t jit;

	j.start_time = NOW - 100;
	j.interval_s = 100;
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_INTERVAL, false);
	assert_decision(pol_decide(&c, &n, &j, NOW - 1), POL_NONE, false);
	j.last_ckpt = NOW - 50; /* counted from the last one */
	assert_decision(pol_decide(&c, &n, &j, NOW), POL_NONE, false);
	assert_decision(pol_decide(&c, &n, &j, NOW + 50), POL_INTERVAL, false);
	j.in_progress = true;
	assert_decision(pol_decide(&c, &n, &j, NOW + 50), POL_NONE, false);
	j.in_progress = false;
	/* done_for_reason is about requeue reasons only. */
	j.done_for_reason = true;
	assert_decision(pol_decide(&c, &n, &j, NOW + 50), POL_INTERVAL, false);
	/* Jitter delays it by exactly pol_jitter(). */
	c.jitter_s = 60;
	jit = pol_jitter(&c, j.job_id);
	assert_decision(pol_decide(&c, &n, &j, NOW + 50 + jit), POL_INTERVAL, false);
	if (jit)
		assert_decision(pol_decide(&c, &n, &j, NOW + 49 + jit), POL_NONE, false);
	j.interval_s = 0;
	assert_decision(pol_decide(&c, &n, &j, NOW + 100000), POL_NONE, false);
}

static void test_jitter(void **state)
{
	struct pol_conf c = conf;
	unsigned buckets[60] = {}, used = 0, max = 0;

	assert_int_equal(pol_jitter(&c, 12345), 0); /* jitter_s 0 */
	c.jitter_s = 60;
	for (uint32_t id = 1000; id < 2000; id++) {
		uint32_t v = pol_jitter(&c, id);

		assert_true(v < 60);
		assert_int_equal(v, pol_jitter(&c, id)); /* deterministic */
		buckets[v]++;
	}
	for (int i = 0; i < 60; i++) {
		used += buckets[i] != 0;
		max = buckets[i] > max ? buckets[i] : max;
	}
	assert_true(used >= 55);
	assert_true(max <= 40); /* about 17 each */
	c.jitter_s = 1;
	assert_int_equal(pol_jitter(&c, 99), 0);
}

static void test_pick(void **state)
{
	struct pol_conf c = conf;
	struct pol_job jobs[6];
	struct pol_decision d[6];
	size_t idx[6];

	for (int i = 0; i < 6; i++)
		jobs[i] = job(100 + (uint32_t)i);
	d[0] = (struct pol_decision){POL_INTERVAL, false};
	jobs[0].interval_s = 10;
	d[1] = (struct pol_decision){POL_NONE, false};
	d[2] = (struct pol_decision){POL_PREEMPT, true};
	jobs[2].preempt_time = NOW + 100;
	d[3] = (struct pol_decision){POL_DRAIN, true};
	d[4] = (struct pol_decision){POL_PREEMPT, true};
	jobs[4].preempt_time = NOW + 50; /* earlier deadline */
	d[5] = (struct pol_decision){POL_INTERVAL, false};
	jobs[5].interval_s = 10;
	jobs[5].start_time = jobs[0].start_time - 1000; /* more overdue */

	c.max_concurrent = 0; /* no limit: all candidates, in order */
	assert_int_equal(pol_pick(&c, d, jobs, 6, 0, idx), 5);
	assert_int_equal(idx[0], 4);
	assert_int_equal(idx[1], 2);
	assert_int_equal(idx[2], 3);
	assert_int_equal(idx[3], 5);
	assert_int_equal(idx[4], 0);

	c.max_concurrent = 2;
	assert_int_equal(pol_pick(&c, d, jobs, 6, 0, idx), 2);
	assert_int_equal(idx[0], 4);
	assert_int_equal(idx[1], 2);
	assert_int_equal(pol_pick(&c, d, jobs, 6, 1, idx), 1);
	assert_int_equal(idx[0], 4);
	assert_int_equal(pol_pick(&c, d, jobs, 6, 2, idx), 0);
	assert_int_equal(pol_pick(&c, d, jobs, 6, 5, idx), 0);
	assert_int_equal(pol_pick(&c, d, jobs, 0, 0, idx), 0);
}

static void test_pick_ties(void **state)
{
	struct pol_conf c = conf;
	struct pol_job jobs[3] = {job(30), job(10), job(20)};
	struct pol_decision d[3];
	size_t idx[3];

	c.max_concurrent = 3;
	for (int i = 0; i < 3; i++)
		d[i] = (struct pol_decision){POL_WALLTIME, true};
	jobs[2].end_time = NOW; /* ends first */
	assert_int_equal(pol_pick(&c, d, jobs, 3, 0, idx), 3);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 1); /* same end: by job id */
	assert_int_equal(idx[2], 0);
	/* Duplicated entries are not lost. */
	jobs[1] = jobs[0];
	assert_int_equal(pol_pick(&c, d, jobs, 3, 0, idx), 3);
}

static void test_parse_interval(void **state)
{
	static const struct {
		const char *s;
		uint32_t v;
	} good[] = {
		{"0", 0},
		{"30", 1800},
		{"1:30", 90},
		{"90:00", 5400},
		{"1:00:00", 3600},
		{"00:30:00", 1800},
		{"100:00:00", 360000},
		{"1-0", 86400},
		{"2-12", 216000},
		{"1-1:30", 91800},
		{"1-01:02:03", 90123},
		{"0-0:0:1", 1},
		{"71582788", 4294967280u},
		{"49710-6:28:15", 4294967295u},
	};
	static const char *const bad[] = {
		"-1",
		"+5",
		" 5",
		"5 ",
		"5m",
		"1:60",
		"1:2:60",
		"1:60:00",
		"1:2:3:4",
		":",
		"1:",
		":1",
		"1-",
		"-1-2",
		"1-24",
		"1-2-3",
		"1-1:60",
		"1.5",
		"INFINITE",
		"UNLIMITED",
		"71582789",
		"49710-6:28:16",
		"99999999999999999999",
		"1--1",
		"0x10",
		"1::2",
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (pol_parse_interval(good[i].s, &v) < 0)
			fail_msg("refused '%s'", good[i].s);
		if (v != good[i].v)
			fail_msg("'%s': %u, not %u", good[i].s, v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (pol_parse_interval(bad[i], &v) != -EINVAL)
			fail_msg("took '%s'", bad[i]);
		assert_int_equal(v, 42);
	}
	v = 1;
	assert_int_equal(pol_parse_interval("", &v), 0);
	assert_int_equal(v, 0);
	v = 1;
	assert_int_equal(pol_parse_interval(NULL, &v), 0);
	assert_int_equal(v, 0);
}

static void test_retain(void **state)
{
	uint32_t seqs[] = {3, 1, 5, 2, 4}, del[5];
	uint32_t one[] = {9};

	assert_int_equal(pol_retain(seqs, 5, 2, del), 3);
	assert_int_equal(del[0], 3);
	assert_int_equal(del[1], 1);
	assert_int_equal(del[2], 2);
	assert_int_equal(pol_retain(seqs, 5, 5, del), 0);
	assert_int_equal(pol_retain(seqs, 5, 100, del), 0);
	assert_int_equal(pol_retain(seqs, 5, 1, del), 4);
	for (int i = 0; i < 4; i++)
		assert_int_not_equal(del[i], 5);
	/* keep 0 still keeps the newest. */
	assert_int_equal(pol_retain(seqs, 5, 0, del), 4);
	assert_int_equal(pol_retain(one, 1, 0, del), 0);
	assert_int_equal(pol_retain(seqs, 0, 1, del), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),   cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_preempt),	       cmocka_unit_test(test_drain_reboot),
		cmocka_unit_test(test_maint),	       cmocka_unit_test(test_walltime),
		cmocka_unit_test(test_interval),       cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_pick),	       cmocka_unit_test(test_pick_ties),
		cmocka_unit_test(test_parse_interval), cmocka_unit_test(test_retain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
