/* SPDX-License-Identifier: MIT */
/*
 * ckpt --service SOCKET: the verbs carried out by ckptd(8) through its client API
 * (ckptd/ckptd-client.h), and status and cancel, which only the daemon can answer. The
 * daemon does the work and the checks; this side prints what the local verb would, and a
 * refusal as one "Error: " line with the daemon's reason.
 */
#include <time.h>
#include "ckptd-client.h"
#include "cli.h"

static void client_closep(struct ckptd_client **c)
{
	ckptd_client_close(*c);
}

#define _cleanup_client_ _cleanup_(client_closep)

static const char *socket_of(const struct cli_global *g)
{
	return g->service ?: CLI_DEFAULT_SERVICE;
}

int cli_service_connect(const struct cli_global *g, struct ckptd_client **ret)
{
	int r = ckptd_client_connect(socket_of(g), ret);

	if (r < 0)
		return cli_error("cannot reach ckptd at '%s': %s", socket_of(g), strerror(-r)), r;
	if (g->munge_socket) {
		r = ckptd_client_set_munge_socket(*ret, g->munge_socket);
		if (r < 0) {
			ckptd_client_close(*ret);
			*ret = NULL;
			return cli_error("out of memory"), r;
		}
	}
	return 0;
}

/* A failed call: the daemon's reason when it gave one, else what the errno says. */
int cli_service_failed(const struct cli_global *g, const char *what, int r, const char *message)
{
	if (message && *message)
		return cli_error("%s: %s", what, message);
	if (r == -ECONNRESET || r == -EPIPE)
		return cli_error("%s: ckptd at '%s' closed the connection", what, socket_of(g));
	return cli_error("%s: %s", what, strerror(-r));
}

int cli_service_dump(const struct cli_dump *d)
{
	_cleanup_client_ struct ckptd_client *c = NULL;
	_cleanup_free_ char *message = NULL;
	struct ckpt_dump_stats st = {0};
	char bytes[32];
	int r;

	/* No dump.log in DIR: the daemon creates DIR, and for a user it must not exist yet. */
	if (cli_log_start(&d->g, NULL, NULL) < 0 || cli_service_connect(&d->g, &c) < 0)
		return CLI_EXIT_FAIL;
	r = ckptd_client_dump(c, &d->opts, &st, &message);
	if (r < 0)
		return cli_service_failed(&d->g, "dump failed", r, message);
	cli_format_bytes(st.bytes_written, bytes, sizeof(bytes));
	cli_msg(CKPT_LOG_INFO,
		"Dumped %u task(s), %u thread(s): %llu pages, %s written in %.3f s (frozen %.3f s)",
		st.nr_tasks, st.nr_threads, (unsigned long long)st.pages_written, bytes,
		(double)st.total_ns / 1e9, (double)st.frozen_ns / 1e9);
	return CLI_EXIT_OK;
}

int cli_service_restore(const struct cli_restore *rs)
{
	_cleanup_client_ struct ckptd_client *c = NULL;
	_cleanup_free_ char *message = NULL;
	pid_t pid = 0;
	int r;

	if (cli_log_start(&rs->g, NULL, NULL) < 0 || cli_service_connect(&rs->g, &c) < 0)
		return CLI_EXIT_FAIL;
	r = ckptd_client_restore(c, &rs->opts, &pid, &message);
	if (r < 0)
		return cli_service_failed(&rs->g, "restore failed", r, message);
	cli_msg(CKPT_LOG_INFO, "Restored; the root runs as pid %d", pid);
	return CLI_EXIT_OK;
}

/* The check answer as ckpt_check() would give it: the strings stay in *ret_buf (the answer). */
int cli_service_check(const struct cli_global *g, struct ckpt_feature **ret, size_t *ret_n, void **ret_buf)
{
	_cleanup_client_ struct ckptd_client *c = NULL;
	RpcResponse *resp = NULL;
	struct ckpt_feature *f;
	size_t n;
	int r;

	r = cli_service_connect(g, &c);
	if (r < 0)
		return r;
	r = ckptd_client_simple(c, RPC_REQ_TYPE__RPC_CHECK, &resp);
	if (r < 0)
		return cli_service_failed(g, "check failed", r, NULL), r;
	if (!resp->check || (resp->error && resp->error != ENOTSUP)) {
		r = resp->error > 0 ? -resp->error : -EPROTO;
		cli_service_failed(g, "check failed", r, resp->message);
		ckptd_client_response_free(resp);
		return r;
	}
	n = resp->check->n_features;
	f = calloc(n ?: 1, sizeof(*f));
	if (!f) {
		ckptd_client_response_free(resp);
		return cli_error("out of memory"), -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const RpcFeature *x = resp->check->features[i];

		f[i] = (struct ckpt_feature){x->name, x->present, x->required, x->detail};
	}
	r = resp->error ? -ENOTSUP : 0;
	*ret = f;
	*ret_n = n;
	*ret_buf = resp;
	return r;
}

void cli_service_check_free(struct ckpt_feature *f, void *buf)
{
	free(f);
	ckptd_client_response_free(buf);
}

static const char *type_name(int type)
{
	static const char *const names[] = {"?",      "version", "check",  "dump",    "restore",
					    "status", "list",	 "cancel", "pre-dump"};

	return type > 0 && type < (int)ARRAY_SIZE(names) ? names[type] : "?";
}

static const char *state_name(int state)
{
	static const char *const names[] = {"?", "queued", "running", "done", "failed", "cancelled"};

	return state > 0 && state < (int)ARRAY_SIZE(names) ? names[state] : "?";
}

static void print_job(const RpcJob *j)
{
	char pid[16] = "-", took[32] = "-";

	if (j->has_pid && j->pid > 0)
		snprintf(pid, sizeof(pid), "%d", j->pid);
	if (j->has_duration_ns && j->duration_ns)
		snprintf(took, sizeof(took), "%.3fs", (double)j->duration_ns / 1e9);
	printf("%-6" PRIu64 " %-8s %-10s %-6u %-8s %-9.1f %-9s %s", j->id, type_name(j->type),
	       state_name(j->state), j->uid, pid, (double)j->age_ns / 1e9, took, j->images_dir ?: "-");
	if (j->has_error && j->error > 0)
		printf("  (%s)", strerror(j->error));
	putchar('\n');
}

static void print_status(const RpcStatusResp *s, const char *version)
{
	printf("ckptd %s, up %.1f s, %u worker(s)\n", version ?: "?", (double)s->uptime_ns / 1e9, s->workers);
	printf("jobs: %u running, %u queued, %u done, %u failed, %u cancelled\n", s->running, s->queued,
	       s->done, s->failed, s->cancelled);
	if (!s->n_jobs)
		return;
	printf("%-6s %-8s %-10s %-6s %-8s %-9s %-9s %s\n", "JOB", "TYPE", "STATE", "UID", "PID", "AGE(s)",
	       "TOOK", "IMAGES");
	for (size_t i = 0; i < s->n_jobs; i++)
		print_job(s->jobs[i]);
}

int cli_verb_status(int argc, char **argv, const struct cli_global *g)
{
	_cleanup_client_ struct ckptd_client *c = NULL;
	_cleanup_free_ char *version = NULL;
	RpcResponse *resp = NULL;
	struct cli_status s;
	uint32_t protocol;
	int r;

	r = cli_parse_status(argc, argv, g, &s);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_log_start(&s.g, NULL, NULL) < 0 || cli_service_connect(&s.g, &c) < 0)
		return CLI_EXIT_FAIL;
	r = ckptd_client_version(c, &version, &protocol);
	if (r == 0)
		r = ckptd_client_simple(c, RPC_REQ_TYPE__RPC_STATUS, &resp);
	if (r < 0)
		return cli_service_failed(&s.g, "status failed", r, NULL);
	if (resp->error || !resp->status) {
		r = cli_service_failed(&s.g, "status failed", resp->error ? -resp->error : -EPROTO,
				       resp->message);
		ckptd_client_response_free(resp);
		return r;
	}
	print_status(resp->status, version);
	ckptd_client_response_free(resp);
	if (fflush(stdout) != 0)
		return cli_error("writing the status: %m");
	return CLI_EXIT_OK;
}

int cli_verb_cancel(int argc, char **argv, const struct cli_global *g)
{
	_cleanup_client_ struct ckptd_client *c = NULL;
	_cleanup_free_ char *message = NULL;
	struct cli_cancel cc;
	int r;

	r = cli_parse_cancel(argc, argv, g, &cc);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_log_start(&cc.g, NULL, NULL) < 0 || cli_service_connect(&cc.g, &c) < 0)
		return CLI_EXIT_FAIL;
	r = ckptd_client_cancel(c, cc.job_id, &message);
	if (r < 0)
		return cli_service_failed(&cc.g, "cancel failed", r, message);
	cli_msg(CKPT_LOG_INFO, "Job %" PRIu64 " cancelled", cc.job_id);
	return CLI_EXIT_OK;
}
