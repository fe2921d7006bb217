/* SPDX-License-Identifier: MIT */
/*
 * The sweep: checkpoints of jobs that ended with no shim to say so. A job's shim ends it
 * (sjobs_end) when its tree exits 0; but a job cancelled while it waited for its requeue runs
 * no shim, and one killed by scancel looks, from the node, like one killed by a failure that
 * Slurm will requeue. As long as slurmctld knows a job, in any state, it may start it again
 * (`scontrol requeue` takes a cancelled or failed batch job until MinJobAge has passed), and
 * its checkpoints stay. Once slurmctld has forgotten it, nothing can restore them under its
 * ID: every sweep_interval_s the watcher removes them, but those a user kept with
 * `ckpt job checkpoint --cancel`. So two Slurm clusters must never share one images_root.
 * Every node sweeps the shared layout; removing a job twice is harmless (layout_forget of a
 * missing job is a success).
 */
#include "log.h"
#include "slurmapi.h"
#include "sweep.h"

/* The latest checkpoint's owner asked to keep it: 1, 0, or -errno (unreadable: kept). */
static int kept(struct layout *l, uint32_t job_id)
{
	struct layout_meta m = {0};
	int r = layout_latest_meta(l, job_id, NULL, &m);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = m.kept != 0;
	layout_meta_free(&m);
	return r;
}

static void sweep_job(struct layout *l, uint32_t job_id)
{
	struct sjob j;
	int r;

	if (sjobs_get(job_id, &j) == 0) { /* runs here: its shim ends it */
		sjob_clear(&j);
		return;
	}
	if (slurmapi_job_known(job_id) != 0 || kept(l, job_id) != 0)
		return;
	r = layout_forget(l, job_id);
	if (r < 0)
		pr_warn("slurm job %u: slurmctld no longer knows it, but its checkpoints cannot be "
			"removed: %s",
			job_id, strerror(-r));
	else
		pr_info("slurm job %u: slurmctld no longer knows it: its checkpoints removed", job_id);
}

void sweep_once(const struct sjobs_conf *conf)
{
	struct layout *l = sjobs_layout();
	uint32_t *ids = NULL;
	size_t n = 0;

	if (!conf->slurm || conf->keep_on_completion || !l || layout_list_jobs(l, &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		sweep_job(l, ids[i]);
	free(ids);
}
