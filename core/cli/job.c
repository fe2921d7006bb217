/* SPDX-License-Identifier: MIT */
/*
 * ckpt job checkpoint|list|forget: the checkpoints of Slurm jobs, kept by ckptd in the shared
 * layout. Always through ckptd: it knows the jobs of its node, the layout, and who may see
 * what.
 */
#include <pwd.h>
#include <time.h>
#include "ckptd-client.h"
#include "cli.h"

static void client_closep(struct ckptd_client **c)
{
	ckptd_client_close(*c);
}

/* 0 and *ret the answer; a negative errno; or 1 when the error line is printed already. */
static int call_at(const struct cli_global *g, RpcRequest *req, RpcResponse **ret)
{
	struct ckptd_client *c = NULL;
	int r = cli_service_connect(g, &c);

	if (r < 0)
		return 1;
	r = ckptd_client_call(c, req, ret);
	client_closep(&c);
	return r;
}

static int call(const struct cli_job *j, RpcRequest *req, RpcResponse **ret)
{
	return call_at(&j->g, req, ret);
}

/*
 * The job runs on another node: ask that node's ckptd (over TCP, with a munge credential for
 * our uid, so that it judges who we are), once.
 */
static int follow_redirect(const struct cli_job *j, RpcRequest *req, RpcResponse **resp)
{
	struct cli_global g = j->g;
	_cleanup_free_ char *to = strdup((*resp)->redirect);

	if (!to)
		return -ENOMEM;
	cli_msg(CKPT_LOG_INFO, "%s", (*resp)->message ?: to);
	ckptd_client_response_free(*resp);
	*resp = NULL;
	g.service = to;
	return call_at(&g, req, resp);
}

static int done(const struct cli_job *j, const char *what, int r, RpcResponse *resp)
{
	int ret = CLI_EXIT_OK;

	if (r > 0)
		ret = CLI_EXIT_FAIL;
	else if (r < 0)
		ret = cli_service_failed(&j->g, what, r, NULL);
	else if (resp->error)
		ret = cli_service_failed(&j->g, what, -resp->error, resp->message);
	if (resp)
		ckptd_client_response_free(resp);
	return ret;
}

static int do_checkpoint(const struct cli_job *j)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobCheckpointReq jc = RPC_JOB_CHECKPOINT_REQ__INIT;
	RpcResponse *resp = NULL;
	int r;

	req.type = RPC_REQ_TYPE__RPC_JOB_CHECKPOINT;
	req.job_checkpoint = &jc;
	jc.job_id = j->job_id;
	jc.has_requeue = jc.has_cancel = true;
	jc.requeue = j->requeue;
	jc.cancel = j->cancel;
	r = call(j, &req, &resp);
	if (r == 0 && resp->error == EREMOTE && resp->redirect)
		r = follow_redirect(j, &req, &resp);
	if (r == 0 && !resp->error && resp->job_checkpoint) {
		const RpcJobCheckpointResp *k = resp->job_checkpoint;
		char size[32] = "?";

		if (k->dump)
			cli_format_bytes(k->dump->bytes, size, sizeof(size));
		printf("job %u: checkpoint %u committed in %s (%s, frozen %.3f s)%s\n", j->job_id, k->seq,
		       k->path ?: "?", size, k->dump ? (double)k->dump->frozen_ns / 1e9 : 0.0,
		       k->requeued    ? "; requeued"
		       : k->cancelled ? "; cancelled"
				      : "");
	}
	return done(j, "checkpoint failed", r, resp);
}

static int do_forget(const struct cli_job *j)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobForgetReq jf = RPC_JOB_FORGET_REQ__INIT;
	RpcResponse *resp = NULL;
	int r;

	req.type = RPC_REQ_TYPE__RPC_JOB_FORGET;
	req.job_forget = &jf;
	jf.job_id = j->job_id;
	r = call(j, &req, &resp);
	if (r == 0 && !resp->error)
		printf("job %u: its checkpoints are deleted\n", j->job_id);
	return done(j, "forget failed", r, resp);
}

static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", uid);
}

static void print_list(const RpcJobListResp *l)
{
	printf("%-8s %4s %-10s %-8s %-19s %-9s %10s %s\n", "JOBID", "SEQ", "USER", "NODE", "TIME", "REASON",
	       "SIZE", "LATEST");
	for (size_t i = 0; i < l->n_ckpts; i++) {
		const RpcJobCkpt *k = l->ckpts[i];
		char user[64], when[32] = "-", size[32];
		time_t t = (time_t)k->time;
		struct tm tm;

		user_name(k->uid, user, sizeof(user));
		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		cli_format_bytes(k->bytes, size, sizeof(size));
		printf("%-8u %4u %-10s %-8s %-19s %-9s %10s %s\n", k->job_id, k->seq, user, k->node ?: "-",
		       when, k->reason ?: "-", size, k->latest ? "*" : "");
	}
	if (l->n_running) {
		printf("watched here:");
		for (size_t i = 0; i < l->n_running; i++)
			printf(" %u", l->running[i]);
		printf("\n");
	}
}

static int do_list(const struct cli_job *j)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobListReq jl = RPC_JOB_LIST_REQ__INIT;
	RpcResponse *resp = NULL;
	int r;

	req.type = RPC_REQ_TYPE__RPC_JOB_LIST;
	req.job_list = &jl;
	jl.has_job_id = j->job_id != 0;
	jl.job_id = j->job_id;
	r = call(j, &req, &resp);
	if (r == 0 && !resp->error && resp->job_list)
		print_list(resp->job_list);
	return done(j, "list failed", r, resp);
}

int cli_verb_job(int argc, char **argv, const struct cli_global *g)
{
	struct cli_job j;
	int r;

	r = cli_parse_job(argc, argv, g, &j);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_log_start(&j.g, NULL, NULL) < 0)
		return CLI_EXIT_FAIL;
	switch (j.action) {
	case CLI_JOB_CHECKPOINT:
		return do_checkpoint(&j);
	case CLI_JOB_FORGET:
		return do_forget(&j);
	case CLI_JOB_LIST:
		break;
	}
	return do_list(&j);
}
