/* SPDX-License-Identifier: MIT */
/*
 * The shim: the batch task Slurm forked and knows by pid. It puts the job in a PID namespace of
 * its own (or restores it into one), tells the node's ckptd about it, forwards Slurm's signals
 * to the namespace's init, and exits as the job did. It never returns into Slurm, which would
 * run the batch script.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <slurm/spank.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ckpt-spank.h"
#include "ckpt.h"
#include "ckptd-client.h"
#include "layout.h"
#include "pidns.h"

static volatile sig_atomic_t shim_init_pid;

static void shim_forward(int sig)
{
	if (shim_init_pid > 0)
		kill(shim_init_pid, sig);
}

static void shim_signals(pid_t init)
{
	static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGUSR1,
				   SIGUSR2, SIGCONT, SIGALRM, SIGXCPU};
	struct sigaction sa = {.sa_handler = shim_forward, .sa_flags = SA_RESTART};

	shim_init_pid = init;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* A regular file fd of pid points at, or NULL. */
static char *fd_path(pid_t pid, int fd)
{
	char link[64], buf[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || buf[0] != '/')
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* The first child of init (the job, pid 2), once it runs the job's program. */
static pid_t job_pid_of(pid_t init)
{
	char path[64], buf[64], comm[32];
	pid_t pid = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", init, init);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "re");

		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		snprintf(buf, sizeof(buf), "/proc/%d/comm", pid);
		f = pid > 0 ? fopen(buf, "re") : NULL;
		if (f) {
			bool execd = fgets(comm, sizeof(comm), f) && strncmp(comm, "slurmstepd", 10);

			fclose(f);
			if (execd)
				return pid;
		}
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	return pid;
}

/* One request to the node's ckptd; its answer in *ret when asked for (free it), or -errno. */
static int ckptd_ask(const struct plug_conf *c, RpcRequest *req, RpcResponse **ret)
{
	struct ckptd_client *cl = NULL;
	RpcResponse *resp = NULL;
	int r;

	r = ckptd_client_connect(c->socket, &cl);
	if (r < 0)
		return r;
	ckptd_client_set_timeout(cl, 10000);
	r = ckptd_client_call(cl, req, &resp);
	if (r == 0 && resp->error) {
		slurm_info("ckpt: ckptd at %s: %s", c->socket,
			   resp->message ? resp->message : strerror(resp->error));
		r = -resp->error;
	}
	if (r == 0 && ret) {
		*ret = resp;
		resp = NULL;
	}
	if (resp)
		ckptd_client_response_free(resp);
	ckptd_client_close(cl);
	return r;
}

static int ckptd_call(const struct plug_conf *c, RpcRequest *req)
{
	return ckptd_ask(c, req, NULL);
}

bool shim_first_run(const struct plug_conf *c, struct plug_job *j)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobStartReq js = RPC_JOB_START_REQ__INIT;
	RpcResponse *resp = NULL;
	bool first = false;
	int r;

	req.type = RPC_REQ_TYPE__RPC_JOB_START;
	req.job_start = &js;
	js.job_id = j->job_id;
	js.uid = j->uid;
	r = ckptd_ask(c, &req, &resp);
	if (r < 0) {
		slurm_error("ckpt: job %u: cannot ask ckptd at %s which run this is (%s): a checkpoint "
			    "under its ID is taken as its own",
			    j->job_id, c->socket, strerror(-r));
		return false;
	}
	if (resp->job_start && resp->job_start->has_restart_count) {
		j->restart_count = resp->job_start->restart_count;
		first = j->restart_count == 0;
	}
	ckptd_client_response_free(resp);
	return first;
}

static void shim_register(const struct plug_conf *c, const struct plug_job *j, pid_t init, pid_t job,
			  uint32_t restored_seq)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobRegisterReq jr = RPC_JOB_REGISTER_REQ__INIT;
	char *out = fd_path(job, 1), *err = fd_path(job, 2);
	int r;

	req.type = RPC_REQ_TYPE__RPC_JOB_REGISTER;
	req.job_register = &jr;
	jr.job_id = j->job_id;
	jr.uid = j->uid;
	jr.gid = j->gid;
	jr.pid = job;
	jr.has_init_pid = jr.has_interval_s = jr.has_restart_count = true;
	jr.init_pid = init;
	jr.interval_s = j->interval_s;
	jr.restart_count = j->restart_count;
	jr.script_path = (char *)j->script;
	jr.stdout_path = out;
	jr.stderr_path = err;
	jr.has_restored_seq = restored_seq != 0;
	jr.restored_seq = restored_seq;
	r = ckptd_call(c, &req);
	if (r < 0)
		slurm_error(
			"ckpt: job %u: cannot register with ckptd at %s (%s): it runs without checkpoints",
			j->job_id, c->socket, strerror(-r));
	else
		slurm_info("ckpt: job %u: registered with ckptd (pid %d, init %d, restart %u)", j->job_id,
			   job, init, j->restart_count);
	free(out);
	free(err);
}

/* The engine's last error of this restore: the reason given to ckptd when it fails. */
static char last_error[512];

void shim_restore_failed(const struct plug_conf *c, const struct plug_job *j, int r, bool hold)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobEndReq je = RPC_JOB_END_REQ__INIT;

	req.type = RPC_REQ_TYPE__RPC_JOB_END;
	req.job_end = &je;
	je.job_id = j->job_id;
	je.status = 1 << 8;
	je.restore_failed = last_error[0] ? last_error : (char *)strerror(-r);
	je.has_hold = true;
	je.hold = hold;
	if (ckptd_call(c, &req) < 0)
		slurm_error("ckpt: job %u: cannot tell ckptd at %s of the failed restore%s", j->job_id,
			    c->socket, hold ? ": the job is not held" : "");
}

static void shim_unregister(const struct plug_conf *c, const struct plug_job *j, int status)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobEndReq je = RPC_JOB_END_REQ__INIT;

	req.type = RPC_REQ_TYPE__RPC_JOB_END;
	req.job_end = &je;
	je.job_id = j->job_id;
	je.status = status;
	ckptd_call(c, &req);
}

/* Register, wait for the namespace's init, tell ckptd, exit as the job did. */
static void __attribute__((noreturn))
shim_run(const struct plug_conf *c, const struct plug_job *j, pid_t init, pid_t job, uint32_t restored_seq)
{
	int st = 0;

	prctl(PR_SET_NAME, "ckpt-shim", 0, 0, 0);
	shim_signals(init);
	shim_register(c, j, init, job, restored_seq);
	while (waitpid(init, &st, 0) < 0)
		if (errno != EINTR) {
			st = 1 << 8;
			break;
		}
	shim_unregister(c, j, st);
	exit_like(st);
}

int shim_start(const struct plug_conf *c, const struct plug_job *j)
{
	pid_t init, job;

	if (unshare(CLONE_NEWPID) < 0) {
		slurm_error("ckpt: job %u: unshare(CLONE_NEWPID): %m", j->job_id);
		return -errno;
	}
	init = fork();
	if (init < 0) {
		slurm_error("ckpt: job %u: fork: %m", j->job_id);
		return -errno;
	}
	if (init == 0) {
		if (pidns_mount_proc() < 0) {
			slurm_error("ckpt: job %u: cannot mount /proc for its PID namespace", j->job_id);
			_exit(127);
		}
		job = fork();
		if (job < 0)
			_exit(127);
		if (job == 0) {
			/*
			 * pid 2: Slurm goes on and runs the batch script here. Its own session
			 * (Slurm made the shim a group leader): a checkpoint holds whole
			 * sessions, and the shim's is outside the namespace.
			 */
			if (setsid() < 0)
				slurm_error("ckpt: job %u: setsid: %m", j->job_id);
			return 0;
		}
		nsinit_main(job);
	}
	shim_run(c, j, init, job_pid_of(init), 0);
}

/* The job owner's groups: a restored tree never holds others. */
static int owner_groups(uid_t uid, gid_t gid, gid_t **ret, int *ret_n)
{
	struct passwd *pw = getpwuid(uid);
	int n = 64;
	gid_t *g;

	if (!pw)
		return -ENOENT;
	for (;;) {
		g = calloc((size_t)n, sizeof(*g));
		if (!g)
			return -ENOMEM;
		if (getgrouplist(pw->pw_name, gid, g, &n) >= 0)
			break;
		free(g);
	}
	*ret = g;
	*ret_n = n;
	return 0;
}

static void log_to_slurm(int level, const char *msg, void *userdata)
{
	const struct plug_job *j = userdata;

	if (level <= CKPT_LOG_ERROR) {
		snprintf(last_error, sizeof(last_error), "%s", msg);
		slurm_error("ckpt: job %u: %s", j->job_id, msg);
	} else if (level <= CKPT_LOG_INFO) {
		slurm_info("ckpt: job %u: %s", j->job_id, msg);
	}
}

/* The restored root's parent: the engine's init of the new namespace. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	pid_t pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && sscanf(p + 2, "%*c %d", &pp) != 1)
		pp = 0;
	fclose(f);
	return pp;
}

/* The checkpoint's own account of itself: it must be this job's, of this job's owner. */
static int check_meta(struct layout *l, const struct plug_job *j, uint32_t seq, struct layout_meta *m)
{
	int r = layout_meta_read(l, j->job_id, seq, m);

	if (r < 0)
		return r;
	if (m->job_id != j->job_id || m->uid != j->uid) {
		slurm_error(
			"ckpt: job %u: checkpoint %u belongs to job %u of uid %u, not to this job of uid %u: "
			"refused",
			j->job_id, seq, m->job_id, m->uid, j->uid);
		return -EPERM;
	}
	return 0;
}

static int do_restore(const struct plug_job *j, const char *dir, const struct layout_meta *m, pid_t *ret_root)
{
	struct ckpt_restore_opts o = {.sz = sizeof(o),
				      .images_dir = dir,
				      .detach = true,
				      .check_owner = true,
				      .mount_proc = true,
				      .file_locks = true};
	struct ckpt_inherit_fd inh[1];
	char *key = NULL;
	gid_t *groups = NULL;
	int n_groups = 0, script_fd = -1, r;

	o.owner_uid = j->uid;
	o.owner_gid = j->gid;
	if (owner_groups(j->uid, j->gid, &groups, &n_groups) == 0) {
		o.owner_groups = groups;
		o.n_owner_groups = (size_t)n_groups;
	}
	/* bash reads its script as it goes: hand in this run's copy in place of the old one */
	if (m->script_path && j->script && strcmp(m->script_path, j->script) &&
	    (script_fd = open(j->script, O_RDONLY | O_CLOEXEC)) >= 0 &&
	    asprintf(&key, "file:%s", m->script_path) > 0) {
		inh[0] = (struct ckpt_inherit_fd){.fd = script_fd, .key = key};
		o.inherit_fds = inh;
		o.n_inherit_fds = 1;
	}
	ckpt_set_log_fn(log_to_slurm, (void *)j);
	r = ckpt_restore(&o, ret_root, NULL);
	if (script_fd >= 0)
		close(script_fd);
	free(key);
	free(groups);
	return r;
}

int shim_restore(const struct plug_conf *c, const struct plug_job *j)
{
	struct layout_meta m = {0};
	struct layout *l = NULL;
	char *dir = NULL;
	uint32_t seq = 0;
	pid_t root = 0;
	int r;

	r = layout_open_existing(c->images, &l);
	if (r < 0)
		return r;
	r = layout_latest(l, j->job_id, &seq, &dir);
	if (r == 0)
		r = check_meta(l, j, seq, &m);
	if (r == 0) {
		slurm_info("ckpt: job %u: restoring checkpoint %u from %s", j->job_id, seq, dir);
		r = do_restore(j, dir, &m, &root);
	}
	layout_meta_free(&m);
	layout_close(l);
	free(dir);
	if (r < 0)
		return r;
	/* nothing in the job's output: it must read as if the job had never stopped */
	slurm_info("ckpt: job %u: restored from checkpoint %u, root pid %d", j->job_id, seq, root);
	shim_run(c, j, parent_of(root), root, seq);
}
