/* SPDX-License-Identifier: MIT */
/*
 * One program, two transports: libckpt's public API (include/ckpt.h only, linked against
 * build/libckpt.so) called in-process, or through ckptd when --service ADDRESS is given.
 * The calls are the same; only the options' service field differs.
 *
 *   api_transport [--service ADDR] [--munge-socket PATH] dump PID DIR [leave-running] [file-locks]
 *   api_transport [--service ADDR] [--munge-socket PATH] restore DIR [wait]
 *   api_transport --service ADDR [--munge-socket PATH] version | check | cancel ID
 *
 * Prints what it got as `key: value` lines; every library message goes to stderr as
 * "LEVEL: message". Exit status: 0 success, 1 the call failed (its errno printed as
 * `error: N`), 2 bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ckpt.h>

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void log_to_stderr(int level, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "%s: %s\n", level >= 0 && level <= 3 ? level_names[level] : "?", msg);
}

static int verdict(int r)
{
	if (r < 0) {
		printf("error: %d\n", -r);
		return 1;
	}
	return 0;
}

static int has_word(int argc, char **argv, int from, const char *word)
{
	for (int i = from; i < argc; i++)
		if (!strcmp(argv[i], word))
			return 1;
	return 0;
}

static int do_dump(struct ckpt_service *s, int argc, char **argv)
{
	struct ckpt_dump_opts o = {.sz = sizeof(o), .service = s};
	struct ckpt_dump_stats st = {0};
	int r;

	if (argc < 3)
		return 2;
	o.pid = atoi(argv[1]);
	o.images_dir = argv[2];
	o.leave_running = has_word(argc, argv, 3, "leave-running");
	o.file_locks = has_word(argc, argv, 3, "file-locks");
	r = ckpt_dump(&o, &st);
	if (r == 0)
		printf("tasks: %u\nthreads: %u\npages: %" PRIu64 "\nbytes: %" PRIu64 "\nfrozen_ns: %" PRIu64
		       "\ntotal_ns: %" PRIu64 "\n",
		       st.nr_tasks, st.nr_threads, st.pages_written, st.bytes_written, st.frozen_ns,
		       st.total_ns);
	return verdict(r);
}

static int do_restore(struct ckpt_service *s, int argc, char **argv)
{
	struct ckpt_restore_opts o = {.sz = sizeof(o), .service = s};
	pid_t pid = 0;
	int status = 0, r;

	if (argc < 2)
		return 2;
	o.images_dir = argv[1];
	o.detach = !has_word(argc, argv, 2, "wait");
	r = ckpt_restore(&o, &pid, &status);
	if (r == 0)
		printf("pid: %d\n", (int)pid);
	return verdict(r);
}

static int do_version(struct ckpt_service *s)
{
	char *version = NULL;
	uint32_t protocol = 0;
	int r = ckpt_service_version(s, &version, &protocol);

	if (r == 0)
		printf("version: %s\nprotocol: %u\n", version, protocol);
	free(version);
	return verdict(r);
}

static int do_check(struct ckpt_service *s)
{
	struct ckpt_feature *f = NULL;
	const struct ckpt_feature *local = NULL;
	size_t n = 0, n_local = 0;
	int r = s ? ckpt_service_check(s, &f, &n) : ckpt_check(&local, &n_local);

	if (!s) {
		f = (struct ckpt_feature *)local;
		n = n_local;
	}
	for (size_t i = 0; f && i < n; i++)
		printf("feature: %s present=%d required=%d\n", f[i].name, f[i].present, f[i].required);
	if (s)
		ckpt_service_features_free(f, n);
	return verdict(r);
}

static int run(struct ckpt_service *s, int argc, char **argv)
{
	if (!strcmp(argv[0], "dump"))
		return do_dump(s, argc, argv);
	if (!strcmp(argv[0], "restore"))
		return do_restore(s, argc, argv);
	if (!strcmp(argv[0], "check"))
		return do_check(s);
	if (!s)
		return 2;
	if (!strcmp(argv[0], "version"))
		return do_version(s);
	if (!strcmp(argv[0], "cancel") && argc == 2)
		return verdict(ckpt_service_cancel(s, strtoull(argv[1], NULL, 10)));
	return 2;
}

int main(int argc, char **argv)
{
	const char *address = NULL, *munge_socket = NULL;
	struct ckpt_service *s = NULL;
	int i = 1, r;

	ckpt_set_log_fn(log_to_stderr, NULL);
	ckpt_set_log_level(CKPT_LOG_WARN);
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--service"))
			address = argv[i + 1];
		else if (!strcmp(argv[i], "--munge-socket"))
			munge_socket = argv[i + 1];
		else
			return 2;
	}
	if (i >= argc)
		return 2;
	if (address) {
		r = ckpt_service_open(address, &s);
		if (r < 0)
			return verdict(r);
		if (munge_socket && ckpt_service_set_munge_socket(s, munge_socket) < 0)
			return verdict(-ENOMEM);
	}
	r = run(s, argc - i, argv + i);
	ckpt_service_close(s);
	return r;
}
