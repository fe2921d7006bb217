/* SPDX-License-Identifier: MIT */
/*
 * Writes the fuzzer's seed corpus (tests/fuzz/corpus/): packed requests of every type, valid
 * ones and the edge cases the decoder refuses. Run by `make fuzz-corpus`; the files are
 * committed, this program is how they were made.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckptd.h"
#include "rpc.pb-c.h"
#include "util.h"

static int dirfd_out = -EBADF;

static int emit_raw(const char *name, const void *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd_out, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	return write_all(fd, buf, len);
}

/* The request packed; also cut short by 3 bytes when asked, a truncated packet. */
static int emit(const char *name, const RpcRequest *req, bool also_cut)
{
	size_t len = rpc_request__get_packed_size(req);
	_cleanup_free_ uint8_t *buf = malloc(len ?: 1);
	char cut[128];
	int r;

	if (!buf)
		return -ENOMEM;
	rpc_request__pack(req, buf);
	r = emit_raw(name, buf, len);
	if (r < 0 || !also_cut || len <= 3)
		return r;
	snprintf(cut, sizeof(cut), "%s-cut", name);
	return emit_raw(cut, buf, len - 3);
}

static int simple(const char *name, RpcReqType type)
{
	RpcRequest req = RPC_REQUEST__INIT;

	req.type = type;
	return emit(name, &req, false);
}

static int dump(const char *name, int32_t pid, const char *dir, bool running, bool stopped,
		const char *cgroup)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcDumpReq d = RPC_DUMP_REQ__INIT;

	d.pid = pid;
	d.images_dir = (char *)dir;
	d.has_leave_running = running;
	d.leave_running = running;
	d.has_leave_stopped = stopped;
	d.leave_stopped = stopped;
	d.has_shell_job = running;
	d.shell_job = running;
	d.freeze_cgroup = (char *)cgroup;
	req.type = RPC_REQ_TYPE__RPC_DUMP;
	req.dump = &d;
	return emit(name, &req, pid == 1234);
}

static int restore(const char *name, const char *dir, const char *pidfile)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcRestoreReq d = RPC_RESTORE_REQ__INIT;

	d.images_dir = (char *)dir;
	d.pidfile = (char *)pidfile;
	req.type = RPC_REQ_TYPE__RPC_RESTORE;
	req.restore = &d;
	return emit(name, &req, pidfile != NULL);
}

static int cancel(const char *name, uint64_t id)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcCancelReq d = RPC_CANCEL_REQ__INIT;

	d.job_id = id;
	req.type = RPC_REQ_TYPE__RPC_CANCEL;
	req.cancel = &d;
	return emit(name, &req, false);
}

static int sjob_register(const char *name, uint32_t job_id, int32_t pid)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobRegisterReq d = RPC_JOB_REGISTER_REQ__INIT;

	d = (RpcJobRegisterReq){.base = d.base,
				.job_id = job_id,
				.uid = 1000,
				.gid = 1000,
				.pid = pid,
				.has_init_pid = true,
				.init_pid = pid - 1,
				.has_interval_s = true,
				.interval_s = 600,
				.script_path = "/var/spool/slurmd/job00042/slurm_script",
				.stdout_path = "/home/u/slurm-42.out"};
	req.type = RPC_REQ_TYPE__RPC_JOB_REGISTER;
	req.job_register = &d;
	return emit(name, &req, pid == 4242);
}

static int sjob_start(void)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobStartReq st = RPC_JOB_START_REQ__INIT;
	int r;

	st.job_id = 42;
	req = (RpcRequest){.base = req.base, .type = RPC_REQ_TYPE__RPC_JOB_START, .job_start = &st};
	r = emit("job-start", &req, false);
	st.job_id = 0;
	return r ?: emit("job-start-zero", &req, false);
}

static int sjob_others(void)
{
	RpcRequest req = RPC_REQUEST__INIT;
	RpcJobEndReq e = RPC_JOB_END_REQ__INIT;
	RpcJobCheckpointReq k = RPC_JOB_CHECKPOINT_REQ__INIT;
	RpcJobListReq l = RPC_JOB_LIST_REQ__INIT;
	RpcJobForgetReq f = RPC_JOB_FORGET_REQ__INIT;
	int r;

	e.job_id = 42;
	req = (RpcRequest){.base = req.base, .type = RPC_REQ_TYPE__RPC_JOB_END, .job_end = &e};
	r = emit("job-end", &req, false);
	k = (RpcJobCheckpointReq){.base = k.base, .job_id = 42, .has_requeue = true, .requeue = true};
	req = (RpcRequest){.base = req.base, .type = RPC_REQ_TYPE__RPC_JOB_CHECKPOINT, .job_checkpoint = &k};
	r = r ?: emit("job-checkpoint-requeue", &req, true);
	k.has_cancel = k.cancel = true;
	r = r ?: emit("job-checkpoint-requeue-and-cancel", &req, false);
	l = (RpcJobListReq){.base = l.base, .has_job_id = true, .job_id = 42};
	req = (RpcRequest){.base = req.base, .type = RPC_REQ_TYPE__RPC_JOB_LIST, .job_list = &l};
	r = r ?: emit("job-list-one", &req, false);
	f.job_id = 42;
	req = (RpcRequest){.base = req.base, .type = RPC_REQ_TYPE__RPC_JOB_FORGET, .job_forget = &f};
	r = r ?: emit("job-forget", &req, false);
	f.job_id = 0;
	r = r ?: emit("job-forget-zero", &req, false);
	return r ?: sjob_start();
}

static int simple_ones(void)
{
	static const struct {
		const char *name;
		int type;
	} v[] = {
		{"version", RPC_REQ_TYPE__RPC_VERSION},
		{"check", RPC_REQ_TYPE__RPC_CHECK},
		{"status", RPC_REQ_TYPE__RPC_STATUS},
		{"list", RPC_REQ_TYPE__RPC_LIST},
		{"pre-dump", RPC_REQ_TYPE__RPC_PRE_DUMP},
		{"job-list", RPC_REQ_TYPE__RPC_JOB_LIST},
		{"dump-no-part", RPC_REQ_TYPE__RPC_DUMP},
		{"restore-no-part", RPC_REQ_TYPE__RPC_RESTORE},
		{"cancel-no-part", RPC_REQ_TYPE__RPC_CANCEL},
		{"job-end-no-part", RPC_REQ_TYPE__RPC_JOB_END},
		{"type-0", 0},
		{"type-99", 99},
		{"type-negative", -1},
	};
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(v) && r == 0; i++)
		r = simple(v[i].name, (RpcReqType)v[i].type);
	return r;
}

/* Hand-made bytes: what no protobuf-c encoder writes. */
static int raw_ones(void)
{
	/* type = dump; field 4 says 127 bytes, 3 follow */
	static const uint8_t past_end[] = {0x08, 0x03, 0x22, 0x7f, 'a', 'b', 'c'};
	/* type = version, then an unknown field 99 (varint) */
	static const uint8_t unknown_field[] = {0x08, 0x01, 0x98, 0x06, 0x2a};
	/* type = version as an over-long varint (10 bytes) */
	static const uint8_t long_varint[] = {0x08, 0x81, 0x80, 0x80, 0x80, 0x80,
					      0x80, 0x80, 0x80, 0x80, 0x00};
	/* type as a length-delimited field: the wrong wire type */
	static const uint8_t wrong_wire[] = {0x0a, 0x01, 0x01};
	/* type = cancel, the cancel part twice (merged): job 1, then job 2 */
	static const uint8_t twice[] = {0x08, 0x07, 0x42, 0x02, 0x08, 0x01, 0x42, 0x02, 0x08, 0x02};
	int r = emit_raw("raw-length-past-end", past_end, sizeof(past_end));

	r = r ?: emit_raw("raw-unknown-field", unknown_field, sizeof(unknown_field));
	r = r ?: emit_raw("raw-long-varint", long_varint, sizeof(long_varint));
	r = r ?: emit_raw("raw-wrong-wire-type", wrong_wire, sizeof(wrong_wire));
	return r ?: emit_raw("raw-cancel-part-twice", twice, sizeof(twice));
}

static int path_ones(void)
{
	_cleanup_free_ char *longest = malloc(PATH_MAX + 16);
	int r;

	if (!longest)
		return -ENOMEM;
	memset(longest, 'a', PATH_MAX + 15);
	longest[0] = '/';
	longest[PATH_MAX + 15] = '\0';
	r = dump("dump", 1234, "/tmp/ckpt-img", false, false, NULL);
	r = r ?: dump("dump-all-options", 77, "/srv/img/job.1", true, false, "/sys/fs/cgroup/job");
	r = r ?: dump("dump-running-and-stopped", 77, "/tmp/i", true, true, NULL);
	r = r ?: dump("dump-pid-0", 0, "/tmp/i", false, false, NULL);
	r = r ?: dump("dump-pid-negative", -5, "/tmp/i", false, false, NULL);
	r = r ?: dump("dump-relative", 77, "img", false, false, NULL);
	r = r ?: dump("dump-empty-dir", 77, "", false, false, NULL);
	r = r ?: dump("dump-dotdot", 77, "/tmp/../etc/ckpt", false, false, NULL);
	r = r ?: dump("dump-dotdot-end", 77, "/tmp/..", false, false, NULL);
	r = r ?: dump("dump-dots-ok", 77, "/tmp/..a/b../.../.x", false, false, NULL);
	r = r ?: dump("dump-path-max", 77, longest, false, false, NULL);
	r = r ?: restore("restore", "/tmp/ckpt-img", NULL);
	r = r ?: restore("restore-pidfile", "/tmp/ckpt-img", "/run/job.pid");
	r = r ?: restore("restore-pidfile-dotdot", "/tmp/ckpt-img", "/run/../etc/passwd");
	r = r ?: restore("restore-relative", "ckpt-img", NULL);
	r = r ?: cancel("cancel", 7);
	return r ?: cancel("cancel-max", UINT64_MAX);
}

int main(int argc, char **argv)
{
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dirfd_out = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_out < 0) {
		perror(argv[1]);
		return 1;
	}
	r = simple_ones();
	r = r ?: path_ones();
	r = r ?: raw_ones();
	r = r ?: sjob_register("job-register", 42, 4242);
	r = r ?: sjob_register("job-register-init", 42, 1);
	r = r ?: sjob_others();
	if (r < 0) {
		fprintf(stderr, "writing the corpus: %s\n", strerror(-r));
		return 1;
	}
	close(dirfd_out);
	return 0;
}
