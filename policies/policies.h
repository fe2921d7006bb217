/* SPDX-License-Identifier: MIT */
/*
 * Pure decisions of ckptd: which jobs to checkpoint, when, how many at once, how many kept.
 * No I/O and no clock: the caller passes now (unix seconds). Easy to unit-test.
 */
#ifndef CKPT_POLICIES_H
#define CKPT_POLICIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a job is checkpointed, most urgent first (POL_NONE: not now). */
enum pol_reason { POL_NONE = 0, POL_PREEMPT, POL_DRAIN, POL_REBOOT, POL_MAINT, POL_WALLTIME, POL_INTERVAL };

/* "preempt", "drain", "reboot", "maint", "walltime", "interval" (layout_meta.reason); "none". */
const char *pol_reason_name(enum pol_reason r);

struct pol_conf {
	uint32_t maint_lead_s;	  /* checkpoint this long before a MAINT reservation starts */
	uint32_t walltime_lead_s; /* this long before the walltime end; 0: never for walltime */
	uint32_t jitter_s;	  /* spread interval checkpoints of jobs over [0, jitter_s) */
	unsigned max_concurrent;  /* dumps at once on the node; 0: no limit */
	unsigned keep;		  /* checkpoints kept per job (at least 1 is) */
};

struct pol_node {
	bool drain;
	bool reboot_requested;
	int64_t maint_start; /* 0 = none; start of the next MAINT reservation covering this node */
};

struct pol_job {
	uint32_t job_id;
	int64_t start_time;
	int64_t end_time;     /* walltime end, 0 none */
	int64_t preempt_time; /* 0 = not chosen; else when it gets killed (the deadline) */
	uint32_t interval_s;  /* 0 = none */
	int64_t last_ckpt;    /* 0 = never */
	bool in_progress;
	bool done_for_reason; /* already checkpointed for the current requeue reason */
};

struct pol_decision {
	enum pol_reason reason;
	bool requeue; /* true: checkpoint then requeue; false: checkpoint and leave running */
};

/*
 * Priority: preempt > drain/reboot > maint within lead (unless the job ends before it starts)
 * > walltime within lead > interval due (start or last + interval + jitter <= now).
 * in_progress: always POL_NONE. done_for_reason: POL_NONE when a requeue reason applies.
 */
struct pol_decision pol_decide(const struct pol_conf *c, const struct pol_node *n, const struct pol_job *j,
			       int64_t now);

/* Deterministic in [0, jitter_s), spread by a hash of job_id; 0 when jitter_s is 0. */
uint32_t pol_jitter(const struct pol_conf *c, uint32_t job_id);

/*
 * Which of n candidates (jobs[i] with decision d[i]; POL_NONE ones are skipped) to start
 * now, at most max_concurrent - running, most urgent first: preempt by deadline, then the
 * other requeue reasons in enum order (walltime by end time), then interval by how overdue;
 * ties by job id. Writes indexes to ret_idx (room for n) and returns how many.
 */
size_t pol_pick(const struct pol_conf *c, const struct pol_decision *d, const struct pol_job *jobs, size_t n,
		unsigned running, size_t *ret_idx);

/*
 * Slurm time formats: "min", "min:sec", "h:min:sec", "days-h", "days-h:min",
 * "days-h:min:sec" into seconds. "" or NULL: 0 (no interval). Strict: digits only, minutes
 * and seconds after the first field < 60, hours after days < 24; -EINVAL on junk or overflow.
 */
int pol_parse_interval(const char *s, uint32_t *ret_s);

/*
 * Which of the n seqs (any order) to delete keeping the keep newest (keep 0 counts as 1):
 * never the newest. Written to ret_delete (room for n) in input order; returns how many.
 */
size_t pol_retain(const uint32_t *seqs, size_t n, unsigned keep, uint32_t *ret_delete);

#endif
