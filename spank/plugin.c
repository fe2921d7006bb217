/* SPDX-License-Identifier: MIT */
/*
 * spank_ckpt.so: `sbatch --checkpoint[=INTERVAL]`. For an opted-in batch step the plugin puts
 * the job in a PID namespace of its own behind a shim (shim.c), or, when the job has a
 * committed checkpoint (it was requeued), restores it there instead of running the script.
 * Jobs that did not opt in are not touched.
 *
 * plugstack.conf arguments (unknown keys are an error):
 *   images=DIR        root of the shared checkpoint layout (<DIR>/<jobid>/<seq>/), required
 *   socket=PATH       the node's ckptd socket, %n replaced by the node name (/run/ckptd.sock)
 *   on_restore_failure=fail|scratch|hold
 *                     a checkpoint that cannot be restored here fails the job (default), or
 *                     the job starts from the top, or ckptd requeues it held; the
 *                     checkpoint is kept in every case
 */
#include <errno.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt-spank.h"
#include "policies.h"
#include "util.h"

SPANK_PLUGIN(ckpt, 1);

static bool opted_in;
static uint32_t interval_s;
static struct plug_conf conf = {.on_fail = RESTORE_FAIL_JOB};

static int opt_checkpoint(int val, const char *optarg, int remote)
{
	uint32_t s = 0;

	/* a bare --checkpoint reaches srun steps and the batch step as "(null)" */
	if (optarg && (!strcmp(optarg, "(null)") || !*optarg))
		optarg = NULL;
	/* srun inside a job inherits the option: only the batch step is checkpointed, ignore it */
	if (spank_context() == S_CTX_LOCAL)
		return 0;
	if (optarg && pol_parse_interval(optarg, &s) < 0) {
		slurm_error("--checkpoint=%s: not a time (minutes, min:sec, h:min:sec, days-h[:min[:sec]])",
			    optarg);
		return -1;
	}
	opted_in = true;
	interval_s = s;
	return 0;
}

static struct spank_option checkpoint_option = {
	"checkpoint",
	"[interval]",
	"Checkpoint the job when it is preempted or its node goes into maintenance, and go on "
	"from the checkpoint when it starts again; with an interval (minutes, or Slurm's time "
	"formats), also that often.",
	2,
	0,
	opt_checkpoint,
};

/* socket=PATH with %n replaced by name. */
static char *expand_node(const char *pattern, const char *name)
{
	size_t len = strlen(pattern) + 1;
	const char *p;
	char *out, *o;

	for (p = pattern; (p = strstr(p, "%n")); p += 2)
		len += strlen(name);
	out = o = malloc(len);
	if (!out)
		return NULL;
	for (p = pattern; *p;) {
		if (p[0] == '%' && p[1] == 'n') {
			o = stpcpy(o, name);
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static int parse_arg(const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *v = eq ? eq + 1 : "";
	size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);

	if (klen == 6 && !strncmp(arg, "images", 6) && v[0] == '/') {
		free(conf.images);
		conf.images = strdup(v);
	} else if (klen == 6 && !strncmp(arg, "socket", 6) && v[0] == '/') {
		free(conf.socket);
		conf.socket = strdup(v);
	} else if (klen == 18 && !strncmp(arg, "on_restore_failure", 18) &&
		   (!strcmp(v, "fail") || !strcmp(v, "scratch") || !strcmp(v, "hold"))) {
		conf.on_fail = !strcmp(v, "fail")      ? RESTORE_FAIL_JOB
			       : !strcmp(v, "scratch") ? RESTORE_FAIL_SCRATCH
						       : RESTORE_FAIL_HOLD;
	} else {
		slurm_error("spank_ckpt: bad argument '%s' (images=/DIR socket=/PATH "
			    "on_restore_failure=fail|scratch|hold)",
			    arg);
		return -1;
	}
	return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	for (int i = 0; i < ac; i++)
		if (parse_arg(av[i]) < 0)
			return -1;
	if (!conf.images) {
		slurm_error("spank_ckpt: images=/DIR is required");
		return -1;
	}
	if (!conf.socket)
		conf.socket = strdup("/run/ckptd.sock");
	return spank_option_register(sp, &checkpoint_option) == ESPANK_SUCCESS ? 0 : -1;
}

static int node_socket(spank_t sp)
{
	char name[256];
	char *s;

	/*
	 * SLURMD_NODENAME is not in the job's environment yet when task_init_privileged runs;
	 * the batch step runs on the first node of the job, which a one-node job's
	 * SLURM_JOB_NODELIST names alone.
	 */
	if (spank_getenv(sp, "SLURMD_NODENAME", name, sizeof(name)) != ESPANK_SUCCESS &&
	    (spank_getenv(sp, "SLURM_JOB_NODELIST", name, sizeof(name)) != ESPANK_SUCCESS ||
	     strpbrk(name, "[,")) &&
	    gethostname(name, sizeof(name)) < 0)
		return -1;
	name[sizeof(name) - 1] = '\0';
	s = expand_node(conf.socket, name);
	if (!s)
		return -1;
	free(conf.socket);
	conf.socket = s;
	return 0;
}

/* How many times Slurm started the job before (requeues); SLURM_RESTART_COUNT when > 0. */
static uint32_t restart_count(spank_t sp)
{
	uint32_t n = 0;
	char buf[16];

	if (spank_get_item(sp, S_SLURM_RESTART_COUNT, &n) == ESPANK_SUCCESS && n)
		return n;
	if (spank_getenv(sp, "SLURM_RESTART_COUNT", buf, sizeof(buf)) == ESPANK_SUCCESS &&
	    safe_atou32(buf, &n) == 0)
		return n;
	return 0;
}

static int job_items(spank_t sp, struct plug_job *j)
{
	uint32_t uid, gid;
	char **argv = NULL;
	int argc = 0;

	if (spank_get_item(sp, S_JOB_ID, &j->job_id) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS)
		return -1;
	j->uid = uid;
	j->gid = gid;
	j->restart_count = restart_count(sp);
	if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) == ESPANK_SUCCESS && argc > 0)
		j->script = argv[0];
	j->interval_s = interval_s;
	return 0;
}

/* In the batch task, as root, just before Slurm drops privileges and runs the script. */
int slurm_spank_task_init_privileged(spank_t sp, int ac, char **av)
{
	struct plug_job j = {0};
	uint32_t step = 0;
	int r;

	if (!opted_in || !spank_remote(sp))
		return 0;
	if (spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS || step != SLURM_BATCH_SCRIPT)
		return 0; /* the batch step's tree only, for now */
	if (job_items(sp, &j) < 0 || node_socket(sp) < 0) {
		slurm_error("ckpt: cannot read the job's items");
		return -1;
	}
	/*
	 * The layout is keyed by job ID, which a requeue keeps and Slurm reuses for another job
	 * once its state is reset. SLURM_RESTART_COUNT would tell a requeued job from a first
	 * start, but neither the item nor the variable is set yet when task_init_privileged runs
	 * in 22.05: ckptd asks slurmctld.
	 */
	if (shim_first_run(&conf, &j))
		return shim_start(&conf, &j) < 0 ? -1 : 0;
	r = shim_restore(&conf, &j); /* returns only when nothing was restored */
	if (r < 0 && r != -ENOENT) {
		shim_restore_failed(&conf, &j, r, conf.on_fail == RESTORE_FAIL_HOLD);
		if (conf.on_fail == RESTORE_FAIL_HOLD) {
			slurm_error("ckpt: job %u: its checkpoint cannot be restored on this node (%s); the "
				    "checkpoint is kept and the job is requeued held (scontrol release)",
				    j.job_id, strerror(-r));
			return -1;
		}
		if (conf.on_fail == RESTORE_FAIL_JOB) {
			slurm_error("ckpt: job %u: its checkpoint cannot be restored on this node (%s); the "
				    "checkpoint is kept",
				    j.job_id, strerror(-r));
			return -1;
		}
		slurm_error("ckpt: job %u: its checkpoint cannot be restored on this node (%s); starting "
			    "from the top, the checkpoint is kept",
			    j.job_id, strerror(-r));
	}
	return shim_start(&conf, &j) < 0 ? -1 : 0;
}
