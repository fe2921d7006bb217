/* SPDX-License-Identifier: MIT */
/*
 * libckpt's second transport: ckpt_dump() and ckpt_restore() carried out by ckptd(8) when
 * their options name a connection, and the daemon-only calls (version, check, cancel). A
 * thin layer over the RPC client (ckptd/client.c): this file decides what may go through
 * the daemon and turns its answer into what the local call would return and log.
 */
#include "ckpt.h"
#include "ckptd-client.h"
#include "log.h"
#include "service.h"
#include "util.h"

struct ckpt_service {
	struct ckptd_client *client;
};

_public_ int ckpt_service_open(const char *address, struct ckpt_service **ret)
{
	struct ckpt_service *s;
	int r;

	if (!address || !*address || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = ckptd_client_connect(address, &s->client);
	if (r < 0) {
		free(s);
		return pr_err_errno(r, "cannot reach ckptd at '%s'", address);
	}
	*ret = s;
	return 0;
}

_public_ int ckpt_service_set_munge_socket(struct ckpt_service *s, const char *path)
{
	return s ? ckptd_client_set_munge_socket(s->client, path) : -EINVAL;
}

_public_ int ckpt_service_set_timeout(struct ckpt_service *s, unsigned int ms)
{
	return s ? ckptd_client_set_timeout(s->client, ms) : -EINVAL;
}

_public_ void ckpt_service_close(struct ckpt_service *s)
{
	if (!s)
		return;
	ckptd_client_close(s->client);
	free(s);
}

/* A failed call, logged as a local failure would be: the daemon's reason, else the errno's. */
static int failed(const char *what, int r, const char *message)
{
	if (message && *message)
		return pr_err("%s: %s", what, message), r;
	if (r == -ECONNRESET || r == -EPIPE)
		return pr_err("%s: ckptd closed the connection", what), r;
	return pr_err_errno(r, "%s", what);
}

static int not_through_service(const char *call, const char *option)
{
	return pr_err("%s: %s cannot go through ckptd", call, option), -EOPNOTSUPP;
}

int service_dump(const struct ckpt_dump_opts *opts, struct ckpt_dump_stats *ret_stats)
{
	_cleanup_free_ char *message = NULL;
	int r;

	if (opts->cancel)
		return not_through_service("ckpt_dump", "a cancel flag (use ckpt_service_cancel)");
	if (opts->save_paths)
		return not_through_service("ckpt_dump", "save_paths");
	if (opts->file_locks)
		return not_through_service("ckpt_dump", "file_locks");
	if (opts->ext_unix_sk)
		return not_through_service("ckpt_dump", "ext_unix_sk");
	if (opts->tcp_established)
		return not_through_service("ckpt_dump", "tcp_established");
	r = ckptd_client_dump(opts->service->client, opts, ret_stats, &message);
	if (r < 0)
		return failed("dump failed", r, message);
	return 0;
}

int service_restore(const struct ckpt_restore_opts *opts, pid_t *ret_pid)
{
	_cleanup_free_ char *message = NULL;
	pid_t pid = 0;
	int r;

	if (!opts->detach)
		return not_through_service("ckpt_restore", "a restore that waits for the tree (set detach)");
	if (opts->no_pidns)
		return not_through_service("ckpt_restore", "no_pidns");
	if (opts->shell_job)
		return not_through_service("ckpt_restore", "shell_job");
	if (opts->n_inherit_fds)
		return not_through_service("ckpt_restore", "inherit_fds");
	if (opts->check_owner)
		return not_through_service("ckpt_restore", "check_owner (ckptd checks the caller)");
	if (opts->mount_proc)
		return not_through_service("ckpt_restore", "mount_proc");
	if (opts->file_locks)
		return not_through_service("ckpt_restore", "file_locks");
	if (opts->tcp_established)
		return not_through_service("ckpt_restore", "tcp_established");
	r = ckptd_client_restore(opts->service->client, opts, &pid, &message);
	if (r < 0)
		return failed("restore failed", r, message);
	if (ret_pid)
		*ret_pid = pid;
	return 0;
}

_public_ int ckpt_service_version(struct ckpt_service *s, char **ret_version, uint32_t *ret_protocol)
{
	int r;

	if (!s || !ret_version || !ret_protocol)
		return -EINVAL;
	r = ckptd_client_version(s->client, ret_version, ret_protocol);
	return r < 0 ? failed("version", r, NULL) : 0;
}

_public_ void ckpt_service_features_free(struct ckpt_feature *features, size_t n)
{
	for (size_t i = 0; features && i < n; i++) {
		free((char *)features[i].name);
		free((char *)features[i].detail);
	}
	free(features);
}

static int copy_features(const RpcCheckResp *ck, struct ckpt_feature **ret, size_t *ret_n)
{
	struct ckpt_feature *f = calloc(ck->n_features ?: 1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < ck->n_features; i++) {
		f[i].present = ck->features[i]->present;
		f[i].required = ck->features[i]->required;
		f[i].name = strdup(ck->features[i]->name);
		f[i].detail = strdup(ck->features[i]->detail ?: "");
		if (!f[i].name || !f[i].detail) {
			ckpt_service_features_free(f, i + 1);
			return -ENOMEM;
		}
	}
	*ret = f;
	*ret_n = ck->n_features;
	return 0;
}

_public_ int ckpt_service_check(struct ckpt_service *s, struct ckpt_feature **ret, size_t *ret_n)
{
	RpcResponse *resp = NULL;
	int r, verdict;

	if (!s || !ret || !ret_n)
		return -EINVAL;
	r = ckptd_client_simple(s->client, RPC_REQ_TYPE__RPC_CHECK, &resp);
	if (r < 0)
		return failed("check", r, NULL);
	verdict = resp->error > 0 && resp->error < 4096 ? -resp->error : 0;
	if (!resp->check)
		r = failed("check", verdict ?: -EPROTO, resp->message);
	else
		r = copy_features(resp->check, ret, ret_n);
	ckptd_client_response_free(resp);
	return r < 0 ? r : verdict;
}

_public_ int ckpt_service_cancel(struct ckpt_service *s, uint64_t job_id)
{
	_cleanup_free_ char *message = NULL;
	int r;

	if (!s)
		return -EINVAL;
	r = ckptd_client_cancel(s->client, job_id, &message);
	return r < 0 ? failed("cancel failed", r, message) : 0;
}
