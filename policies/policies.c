/* SPDX-License-Identifier: MIT */
/* Pure decisions of ckptd (policies.h): no I/O, no clock, no allocation. */
#include <errno.h>
#include <string.h>
#include "policies.h"

static const char *const reason_names[] = {
	[POL_NONE] = "none",	     [POL_PREEMPT] = "preempt", [POL_DRAIN] = "drain",
	[POL_REBOOT] = "reboot",     [POL_MAINT] = "maint",	[POL_WALLTIME] = "walltime",
	[POL_INTERVAL] = "interval",
};

const char *pol_reason_name(enum pol_reason r)
{
	if ((unsigned)r >= sizeof(reason_names) / sizeof(reason_names[0]))
		return "unknown";
	return reason_names[r];
}

/* The murmur3 finalizer: consecutive job ids land far apart. */
static uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

uint32_t pol_jitter(const struct pol_conf *c, uint32_t job_id)
{
	return c->jitter_s ? hash32(job_id) % c->jitter_s : 0;
}

static bool maint_due(const struct pol_conf *c, const struct pol_node *n, const struct pol_job *j,
		      int64_t now)
{
	if (!n->maint_start || now < n->maint_start - (int64_t)c->maint_lead_s)
		return false;
	/* A job that ends before the reservation starts is left alone. */
	return !(j->end_time && j->end_time <= n->maint_start);
}

/*
 * A job whose whole walltime fits in the lead would be checkpointed and requeued on every
 * start without making progress: only jobs that run longer than the lead qualify.
 */
static bool walltime_due(const struct pol_conf *c, const struct pol_job *j, int64_t now)
{
	if (!c->walltime_lead_s || !j->end_time || j->end_time - j->start_time <= (int64_t)c->walltime_lead_s)
		return false;
	return now >= j->end_time - (int64_t)c->walltime_lead_s;
}

static enum pol_reason requeue_reason(const struct pol_conf *c, const struct pol_node *n,
				      const struct pol_job *j, int64_t now)
{
	if (j->preempt_time)
		return POL_PREEMPT;
	/* `scontrol reboot ASAP` drains the node too: the reboot is the reason to record */
	if (n->reboot_requested)
		return POL_REBOOT;
	if (n->drain)
		return POL_DRAIN;
	if (maint_due(c, n, j, now))
		return POL_MAINT;
	if (walltime_due(c, j, now))
		return POL_WALLTIME;
	return POL_NONE;
}

/* When the next interval checkpoint is due: start or last + interval + jitter. */
static int64_t interval_due_at(const struct pol_conf *c, const struct pol_job *j)
{
	int64_t base = j->last_ckpt ? j->last_ckpt : j->start_time;

	return base + (int64_t)j->interval_s + (int64_t)pol_jitter(c, j->job_id);
}

struct pol_decision pol_decide(const struct pol_conf *c, const struct pol_node *n, const struct pol_job *j,
			       int64_t now)
{
	struct pol_decision none = {POL_NONE, false};
	enum pol_reason r;

	if (j->in_progress)
		return none;
	r = requeue_reason(c, n, j, now);
	if (r != POL_NONE)
		return j->done_for_reason ? none : (struct pol_decision){r, true};
	if (j->interval_s && interval_due_at(c, j) <= now)
		return (struct pol_decision){POL_INTERVAL, false};
	return none;
}

/* ---- pol_pick ---- */

struct pick_key {
	unsigned class; /* the reason: preempt first, interval last */
	int64_t when;	/* within a class: earlier is more urgent */
	uint32_t job_id;
	size_t idx;
};

static struct pick_key pick_key(const struct pol_conf *c, const struct pol_decision *d,
				const struct pol_job *j, size_t idx)
{
	struct pick_key k = {(unsigned)d->reason, 0, j->job_id, idx};

	if (d->reason == POL_PREEMPT)
		k.when = j->preempt_time;
	else if (d->reason == POL_WALLTIME)
		k.when = j->end_time;
	else if (d->reason == POL_INTERVAL)
		k.when = interval_due_at(c, j);
	return k;
}

static int key_cmp(const struct pick_key *a, const struct pick_key *b)
{
	if (a->class != b->class)
		return a->class < b->class ? -1 : 1;
	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	if (a->job_id != b->job_id)
		return a->job_id < b->job_id ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The most urgent candidate after prev (NULL: the first); n when none is left. */
static size_t pick_next(const struct pol_conf *c, const struct pol_decision *d, const struct pol_job *jobs,
			size_t n, const struct pick_key *prev, struct pick_key *ret)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++) {
		struct pick_key k;

		if (d[i].reason == POL_NONE)
			continue;
		k = pick_key(c, &d[i], &jobs[i], i);
		if (prev && key_cmp(&k, prev) <= 0)
			continue;
		if (best == n || key_cmp(&k, ret) < 0) {
			best = i;
			*ret = k;
		}
	}
	return best;
}

/* Keys are a total order (idx breaks ties): picking the next larger one k times sorts. */
size_t pol_pick(const struct pol_conf *c, const struct pol_decision *d, const struct pol_job *jobs, size_t n,
		unsigned running, size_t *ret_idx)
{
	size_t slots, count = 0;
	struct pick_key prev, cur;

	if (c->max_concurrent && running >= c->max_concurrent)
		return 0;
	slots = c->max_concurrent ? c->max_concurrent - running : n;
	while (count < slots) {
		size_t i = pick_next(c, d, jobs, n, count ? &prev : NULL, &cur);

		if (i == n)
			break;
		ret_idx[count++] = i;
		prev = cur;
	}
	return count;
}

/* ---- pol_parse_interval ---- */

/* Digits only (leading zeros fine: "00:30:00"), [s, end), at most limit. */
static int parse_field(const char *s, const char *end, uint64_t limit, uint64_t *ret)
{
	uint64_t v = 0;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > limit)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/*
 * Colon-separated fields of s (nf of them, 1..3), the first unbounded (up to UINT32_MAX),
 * the others below 60. Writes them into f[0..nf).
 */
static int parse_fields(const char *s, uint64_t first_limit, uint64_t *f, int *ret_nf)
{
	int nf = 0;

	for (;;) {
		const char *colon = strchr(s, ':');
		const char *end = colon ? colon : s + strlen(s);
		int r;

		if (nf == 3)
			return -EINVAL;
		r = parse_field(s, end, nf ? 59 : first_limit, &f[nf]);
		if (r < 0)
			return r;
		nf++;
		if (!colon)
			break;
		s = colon + 1;
	}
	*ret_nf = nf;
	return 0;
}

int pol_parse_interval(const char *s, uint32_t *ret_s)
{
	static const uint64_t plain[3][3] = {{60}, {60, 1}, {3600, 60, 1}};
	const uint64_t unit[3] = {3600, 60, 1};
	uint64_t f[3], days = 0, total = 0;
	const char *dash;
	int nf, r;

	if (!s || !*s) {
		*ret_s = 0;
		return 0;
	}
	dash = strchr(s, '-');
	if (dash) {
		r = parse_field(s, dash, UINT32_MAX, &days);
		if (r < 0)
			return r;
		s = dash + 1;
	}
	r = parse_fields(s, dash ? 23 : UINT32_MAX, f, &nf);
	if (r < 0)
		return r;
	for (int i = 0; i < nf; i++)
		total += f[i] * (dash ? unit[i] : plain[nf - 1][i]);
	total += days * 86400;
	if (total > UINT32_MAX)
		return -EINVAL;
	*ret_s = (uint32_t)total;
	return 0;
}

/* ---- pol_retain ---- */

size_t pol_retain(const uint32_t *seqs, size_t n, unsigned keep, uint32_t *ret_delete)
{
	size_t count = 0;

	if (keep < 1)
		keep = 1;
	for (size_t i = 0; i < n; i++) {
		size_t newer = 0;

		for (size_t k = 0; k < n; k++)
			newer += seqs[k] > seqs[i];
		if (newer >= keep)
			ret_delete[count++] = seqs[i];
	}
	return count;
}
