/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include "auth.h"
#include "ckptd.h"
#include "rpc-decode.h"
#include "util.h"

/* -err, with why; a failed vasprintf leaves why NULL (the answer then says strerror(err)). */
static _printf_(4, 5) int reject(struct rpc_reject *rj, int err, bool keep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rj->why, fmt, ap) < 0)
		rj->why = NULL;
	va_end(ap);
	rj->keep = keep;
	return -err;
}

/* A request without the part its type needs comes from a broken client: it is closed. */
static int missing(struct rpc_reject *rj, const char *part)
{
	return reject(rj, EINVAL, false, "%s request without its %s part", part, part);
}

static int check_path(const char *path, struct rpc_reject *rj)
{
	if (!path)
		return reject(rj, EINVAL, true, "a required path is missing");
	rj->keep = true;
	return auth_check_path(path, &rj->why);
}

static int check_dump(const RpcDumpReq *d, struct rpc_reject *rj)
{
	if (d->pid <= 0)
		return reject(rj, EINVAL, true, "pid must be positive");
	if (d->leave_running && d->leave_stopped)
		return reject(rj, EINVAL, true, "leave_running and leave_stopped exclude each other");
	return check_path(d->images_dir, rj);
}

static int check_restore(const RpcRestoreReq *d, struct rpc_reject *rj)
{
	int r = check_path(d->images_dir, rj);

	if (r == 0 && d->pidfile)
		r = check_path(d->pidfile, rj);
	return r;
}

/* The Slurm jobs' requests: a job ID is never 0; the shim registers a job's root, never init. */
static int check_sjob(const RpcRequest *req, struct rpc_reject *rj)
{
	const RpcJobRegisterReq *reg = req->job_register;
	const RpcJobCheckpointReq *ck = req->job_checkpoint;
	const char *part;
	const void *msg;
	bool bad;

	switch (req->type) {
	case RPC_REQ_TYPE__RPC_JOB_REGISTER:
		part = "job_register";
		msg = reg;
		bad = reg && (!reg->job_id || reg->pid <= 1);
		break;
	case RPC_REQ_TYPE__RPC_JOB_END:
		part = "job_end";
		msg = req->job_end;
		bad = msg && !req->job_end->job_id;
		break;
	case RPC_REQ_TYPE__RPC_JOB_CHECKPOINT:
		part = "job_checkpoint";
		msg = ck;
		bad = ck && (!ck->job_id || (ck->requeue && ck->cancel));
		break;
	case RPC_REQ_TYPE__RPC_JOB_FORGET:
		part = "job_forget";
		msg = req->job_forget;
		bad = msg && !req->job_forget->job_id;
		break;
	case RPC_REQ_TYPE__RPC_JOB_START:
		part = "job_start";
		msg = req->job_start;
		bad = msg && !req->job_start->job_id;
		break;
	default: /* job-list: its part is optional */
		return 0;
	}
	if (!msg)
		return missing(rj, part);
	return bad ? reject(rj, EINVAL, true, "bad %s request", part) : 0;
}

static int check_form(const RpcRequest *req, struct rpc_reject *rj)
{
	switch (req->type) {
	case RPC_REQ_TYPE__RPC_DUMP:
		return req->dump ? check_dump(req->dump, rj) : missing(rj, "dump");
	case RPC_REQ_TYPE__RPC_RESTORE:
		return req->restore ? check_restore(req->restore, rj) : missing(rj, "restore");
	case RPC_REQ_TYPE__RPC_CANCEL:
		return req->cancel ? 0 : missing(rj, "cancel");
	case RPC_REQ_TYPE__RPC_JOB_REGISTER:
	case RPC_REQ_TYPE__RPC_JOB_END:
	case RPC_REQ_TYPE__RPC_JOB_CHECKPOINT:
	case RPC_REQ_TYPE__RPC_JOB_LIST:
	case RPC_REQ_TYPE__RPC_JOB_FORGET:
	case RPC_REQ_TYPE__RPC_JOB_START:
		return check_sjob(req, rj);
	default: /* version, check, status, list, pre-dump: nothing to check */
		return 0;
	}
}

int rpc_decode_request(const uint8_t *buf, size_t len, RpcRequest **ret, struct rpc_reject *ret_reject)
{
	RpcRequest *req;
	int r;

	*ret = NULL;
	*ret_reject = (struct rpc_reject){0};
	if (len == 0)
		return reject(ret_reject, EINVAL, false, "empty request");
	/* The receiver passes a cut packet's real length: buf holds fewer bytes, never read. */
	if (len > CKPTD_MAX_REQUEST)
		return reject(ret_reject, EMSGSIZE, false, "request of %zu bytes is larger than %u", len,
			      CKPTD_MAX_REQUEST);
	/* protobuf-c checks lengths, wire types and required fields, but not enum values. */
	req = rpc_request__unpack(NULL, len, buf);
	if (!req)
		return reject(ret_reject, EBADMSG, false, "the request could not be decoded");
	if (protobuf_c_enum_descriptor_get_value(&rpc_req_type__descriptor, req->type)) {
		ret_reject->type = req->type;
		r = check_form(req, ret_reject);
	} else {
		ret_reject->type = RPC_REQ_TYPE__RPC_VERSION;
		r = reject(ret_reject, EINVAL, false, "unknown request type %d", (int)req->type);
	}
	if (r < 0) {
		rpc_request__free_unpacked(req, NULL);
		return r;
	}
	*ret = req;
	return 0;
}
