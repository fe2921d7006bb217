/* SPDX-License-Identifier: MIT */
/*
 * A Slurm job whose checkpoint the plugin could not restore where Slurm started it (another
 * CPU, too little memory, a refused image): the plugin has told the job's output; ckptd
 * puts the reason where an admin and the user look, the job's AdminComment, and for
 * on_restore_failure=hold requeues it held. In a thread of its own: slurmctld is asked while
 * the failed start is being completed, which takes a few seconds.
 */
#include <pthread.h>
#include "log.h"
#include "sjob-failed.h"
#include "slurmapi.h"
#include "util.h"

struct restore_failed {
	uint32_t job_id;
	bool hold;
	char *comment;
};

static void *restore_failed_thread(void *arg)
{
	struct restore_failed *f = arg;
	_cleanup_free_ char *why = NULL;

	if (slurmapi_restore_failed(f->job_id, f->comment, f->hold, &why) < 0) {
		if (f->hold)
			pr_err("slurm job %u: cannot hold the job: %s", f->job_id,
			       why ? why : "out of memory");
		else /* the failed job may well have finished already: its output has the reason */
			pr_info("slurm job %u: no AdminComment set: %s", f->job_id,
				why ? why : "out of memory");
	} else
		pr_info("slurm job %u: %s; AdminComment set", f->job_id,
			f->hold ? "requeued held" : "failed start recorded");
	free(f->comment);
	free(f);
	return NULL;
}

int sjob_restore_failed(uint32_t job_id, const char *node, const char *why, bool hold)
{
	struct restore_failed *f = calloc(1, sizeof(*f));
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!f)
		return -ENOMEM;
	f->job_id = job_id;
	f->hold = hold;
	if (asprintf(&f->comment, "ckpt: checkpoint not restored on %s: %s; the checkpoint is kept%s", node,
		     why, hold ? ", the job is held (scontrol release to run it)" : "") < 0) {
		free(f);
		return -ENOMEM;
	}
	pr_warn("slurm job %u: its checkpoint could not be restored here: %s", job_id, why);
	r = -pthread_attr_init(&attr);
	if (r == 0)
		r = -pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (r == 0)
		r = -pthread_create(&t, &attr, restore_failed_thread, f);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		free(f->comment);
		free(f);
	}
	return r;
}
