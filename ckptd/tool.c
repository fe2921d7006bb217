/* SPDX-License-Identifier: MIT */
/*
 * ckptd-client: send one request to ckptd and print the answer, one `key: value` a line.
 * A test helper and a debugging aid; `ckpt --service` is the user's client.
 *   ckptd-client [-S SOCKET | -S tcp://HOST:PORT] [-M MUNGE_SOCKET] [--hex] VERB [ARGS]
 *   VERB: version | check | status | list | pre-dump | cancel ID | type N
 *         | dump -t PID -D DIR [-R] [-s] [--shell-job] [--freeze-cgroup PATH]
 *         | restore -D DIR [--pidfile FILE]
 * --hex prints the packed request in hex instead of sending it. Over TCP each request carries a
 * munge credential from munged at MUNGE_SOCKET (libmunge's default without -M).
 * Exit status: 0 answered without error, 1 answered with an error, 2 usage or transport.
 */
#include <getopt.h>
#include "ckptd-client.h"
#include "ckptd.h"
#include "util.h"

static const char *const type_names[] = {"?",	   "version", "check",	"dump",	   "restore",
					 "status", "list",    "cancel", "pre-dump"};
static const char *const state_names[] = {"?", "queued", "running", "done", "failed", "cancelled"};

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v > 0 && (size_t)v < n ? names[v] : "?";
}

static void print_jobs(RpcJob **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const RpcJob *j = jobs[i];

		printf("job: id=%" PRIu64 " type=%s state=%s uid=%u pid=%d error=%d age_ms=%" PRIu64
		       " duration_ms=%" PRIu64 " dir=%s\n",
		       j->id, name_of(type_names, ARRAY_SIZE(type_names), j->type),
		       name_of(state_names, ARRAY_SIZE(state_names), j->state), j->uid, j->pid, j->error,
		       j->age_ns / 1000000, j->duration_ns / 1000000, j->images_dir ?: "");
	}
}

static void print_resp(const RpcResponse *r)
{
	printf("type: %s\nerror: %d\n", name_of(type_names, ARRAY_SIZE(type_names), r->type), r->error);
	if (r->message)
		printf("message: %s\n", r->message);
	if (r->has_job_id)
		printf("job_id: %" PRIu64 "\n", r->job_id);
	if (r->version)
		printf("version: %s\nprotocol: %u\n", r->version->version, r->version->protocol);
	for (size_t i = 0; r->check && i < r->check->n_features; i++)
		printf("feature: %s present=%d required=%d %s\n", r->check->features[i]->name,
		       r->check->features[i]->present, r->check->features[i]->required,
		       r->check->features[i]->detail ?: "");
	if (r->dump)
		printf("nr_tasks: %u\nnr_threads: %u\nfrozen_ns: %" PRIu64 "\npages: %" PRIu64
		       "\nbytes: %" PRIu64 "\nduration_ns: %" PRIu64 "\n",
		       r->dump->nr_tasks, r->dump->nr_threads, r->dump->frozen_ns, r->dump->pages,
		       r->dump->bytes, r->dump->duration_ns);
	if (r->restore)
		printf("pid: %d\n", r->restore->pid);
	if (r->status) {
		const RpcStatusResp *s = r->status;

		printf("running: %u\nqueued: %u\ndone: %u\nfailed: %u\ncancelled: %u\nworkers: %u\n",
		       s->running, s->queued, s->done, s->failed, s->cancelled, s->workers);
		print_jobs(s->jobs, s->n_jobs);
	}
	if (r->list)
		print_jobs(r->list->jobs, r->list->n_jobs);
}

struct req_parts {
	RpcRequest req;
	RpcDumpReq dump;
	RpcRestoreReq restore;
	RpcCancelReq cancel;
};

static int parse_dump(int argc, char **argv, struct req_parts *p)
{
	static const struct option o[] = {{"shell-job", no_argument, NULL, 'J'},
					  {"freeze-cgroup", required_argument, NULL, 'F'},
					  {NULL, 0, NULL, 0}};
	int c;

	p->req.dump = &p->dump;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:D:Rs", o, NULL)) != -1) {
		if (c == 't' && safe_atoi32(optarg, &p->dump.pid) < 0)
			return -EINVAL;
		else if (c == 'D')
			p->dump.images_dir = optarg;
		else if (c == 'R')
			p->dump.has_leave_running = p->dump.leave_running = true;
		else if (c == 's')
			p->dump.has_leave_stopped = p->dump.leave_stopped = true;
		else if (c == 'J')
			p->dump.has_shell_job = p->dump.shell_job = true;
		else if (c == 'F')
			p->dump.freeze_cgroup = optarg;
		else if (c != 't')
			return -EINVAL;
	}
	return p->dump.images_dir ? 0 : -EINVAL;
}

static int parse_restore(int argc, char **argv, struct req_parts *p)
{
	static const struct option o[] = {{"pidfile", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
	int c;

	p->req.restore = &p->restore;
	optind = 1;
	while ((c = getopt_long(argc, argv, "dD:", o, NULL)) != -1) {
		if (c == 'D')
			p->restore.images_dir = optarg;
		else if (c == 'P')
			p->restore.pidfile = optarg;
		else if (c != 'd')
			return -EINVAL;
	}
	return p->restore.images_dir ? 0 : -EINVAL;
}

static int parse_verb(int argc, char **argv, struct req_parts *p)
{
	uint32_t v;

	for (size_t i = 1; i < ARRAY_SIZE(type_names); i++) {
		if (strcmp(argv[0], type_names[i]))
			continue;
		p->req.type = (RpcReqType)i;
		if (i == RPC_REQ_TYPE__RPC_DUMP)
			return parse_dump(argc, argv, p);
		if (i == RPC_REQ_TYPE__RPC_RESTORE)
			return parse_restore(argc, argv, p);
		if (i == RPC_REQ_TYPE__RPC_CANCEL) {
			p->req.cancel = &p->cancel;
			return argc == 2 ? safe_atou64(argv[1], 10, &p->cancel.job_id) : -EINVAL;
		}
		return argc == 1 ? 0 : -EINVAL;
	}
	/* Any type number, known or not: for the tests of bad requests. */
	if (!strcmp(argv[0], "type") && argc == 2 && safe_atou32(argv[1], &v) == 0) {
		p->req.type = (RpcReqType)v;
		return 0;
	}
	return -EINVAL;
}

static int print_hex(const RpcRequest *req)
{
	size_t len = rpc_request__get_packed_size(req);
	_cleanup_free_ uint8_t *buf = malloc(len ?: 1);

	if (!buf)
		return 2;
	rpc_request__pack(req, buf);
	for (size_t i = 0; i < len; i++)
		printf("%02x", buf[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct req_parts p = {RPC_REQUEST__INIT, RPC_DUMP_REQ__INIT, RPC_RESTORE_REQ__INIT,
			      RPC_CANCEL_REQ__INIT};
	const char *sock = CKPTD_DEFAULT_SOCKET, *munge_sock = NULL;
	struct ckptd_client *c = NULL;
	RpcResponse *resp = NULL;
	bool hex = false;
	int i = 1, r;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-S") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-M") && i + 1 < argc)
			munge_sock = argv[++i];
		else if (!strcmp(argv[i], "--hex"))
			hex = true;
		else
			break;
	}
	if (i >= argc || parse_verb(argc - i, argv + i, &p) < 0) {
		fprintf(stderr,
			"usage: ckptd-client [-S SOCKET|tcp://HOST:PORT] [-M MUNGE_SOCKET] [--hex] VERB "
			"[ARGS] (see tool.c)\n");
		return 2;
	}
	if (hex)
		return print_hex(&p.req);
	r = ckptd_client_connect(sock, &c);
	if (r == 0 && munge_sock)
		r = ckptd_client_set_munge_socket(c, munge_sock);
	if (r == 0)
		r = ckptd_client_call(c, &p.req, &resp);
	ckptd_client_close(c);
	if (r < 0) {
		fprintf(stderr, "ckptd-client: %s: %s\n", sock, strerror(-r));
		return 2;
	}
	print_resp(resp);
	r = resp->error ? 1 : 0;
	ckptd_client_response_free(resp);
	return r;
}
