/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: ckptd's request decoder, rpc_decode_request(), the daemon's first step on
 * every packet (ckptd/rpc.c, rpc_handle()). Beyond the sanitizers' findings, it checks what the
 * handlers rely on: a request that passes has the part its type needs, and sane values; one
 * that is refused leaves nothing allocated but its reason. Build: make fuzz.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "ckptd.h"
#include "rpc-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A trap, not assert(): the checks must hold with NDEBUG too. */
#define must(cond)                        \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Absolute, no '..' component: found again here by splitting, not by the decoder's scan. */
static void check_path(const char *path)
{
	must(path && path[0] == '/');
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");

		must(!(n == 2 && s[0] == '.' && s[1] == '.'));
		s += n + (s[n] == '/');
	}
}

/* What on_dump(), on_restore(), on_cancel() and rpc-sjob.c dereference without a check. */
static void check_accepted(const RpcRequest *req)
{
	switch (req->type) {
	case RPC_REQ_TYPE__RPC_DUMP:
		must(req->dump && req->dump->pid > 0 &&
		     !(req->dump->leave_running && req->dump->leave_stopped));
		check_path(req->dump->images_dir);
		break;
	case RPC_REQ_TYPE__RPC_RESTORE:
		must(req->restore);
		check_path(req->restore->images_dir);
		if (req->restore->pidfile)
			check_path(req->restore->pidfile);
		break;
	case RPC_REQ_TYPE__RPC_CANCEL:
		must(req->cancel);
		break;
	case RPC_REQ_TYPE__RPC_JOB_REGISTER:
		must(req->job_register && req->job_register->job_id && req->job_register->pid > 1);
		break;
	default:
		break;
	}
}

/* Unknown fields anywhere in m (the request has no repeated sub-message). */
static bool has_unknown(const ProtobufCMessage *m)
{
	if (m->n_unknown_fields)
		return true;
	for (unsigned int i = 0; i < m->descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
		const ProtobufCMessage *sub;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		sub = *(const ProtobufCMessage *const *)((const char *)m + f->offset);
		if (sub && has_unknown(sub))
			return true;
	}
	return false;
}

/*
 * An accepted request, packed again, is accepted again: the decoder judges content, not bytes.
 * Not with unknown fields: protobuf-c keeps them as read, and reads a field number 0 written
 * as an over-long varint (0x80 0x00) but not as the one byte it packs it into.
 */
static void check_repacked(const RpcRequest *req)
{
	size_t len = rpc_request__get_packed_size(req);
	struct rpc_reject rj;
	RpcRequest *again = NULL;
	uint8_t *buf;

	if (has_unknown(&req->base) || len > CKPTD_MAX_REQUEST)
		return;
	buf = malloc(len ?: 1);
	must(buf);
	must(rpc_request__pack(req, buf) == len);
	must(rpc_decode_request(buf, len, &again, &rj) == 0 && again && again->type == req->type);
	rpc_request__free_unpacked(again, NULL);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_reject rj;
	RpcRequest *req = (RpcRequest *)1;
	int r = rpc_decode_request(data, size, &req, &rj);

	if (r == 0) {
		must(req);
		check_accepted(req);
		check_repacked(req);
		rpc_request__free_unpacked(req, NULL);
		return 0;
	}
	must(!req);
	must(r == -EINVAL || r == -EMSGSIZE || r == -EBADMSG || r == -ENOMEM);
	/* A malformed packet closes the connection; a bad value keeps it, and names the type. */
	must(!rj.keep || rj.type > 0);
	must(size <= CKPTD_MAX_REQUEST || (r == -EMSGSIZE && !rj.keep));
	free(rj.why);
	return 0;
}
