/* SPDX-License-Identifier: MIT */
/* ckpt dump: checkpoint a process tree (ckpt_dump) and log to DIR/dump.log. */
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include "cli.h"

/*
 * The log file lives in the images directory, so create it (and its parents, 0700) here, as
 * ckpt_dump() would.
 */
static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		cli_error("cannot create '%s': %s", path, strerror(-r));
		return r;
	}
	return 0;
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	int r;

	if (!p) {
		cli_error("out of memory");
		return -ENOMEM;
	}
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		r = mkdir_one(p);
		if (r < 0)
			return r;
		*s = '/';
	}
	return mkdir_one(p);
}

/*
 * DIR/dump.log unless DIR already holds a complete checkpoint: ckpt_dump() refuses to
 * overwrite it, and its log should survive that refusal too.
 */
static const char *default_log(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0 && faccessat(dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return NULL;
	return "dump.log";
}

void cli_format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static volatile int dump_cancelled;

static void on_stop_signal(int sig)
{
	(void)sig;
	dump_cancelled = 1;
}

/*
 * Ctrl-C, SIGTERM or SIGHUP while dumping: ask the engine to stop at its next safe point
 * and let the tree go, rather than die while one of its threads runs a syscall for us.
 */
static void catch_stop_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

int cli_verb_dump(int argc, char **argv, const struct cli_global *g)
{
	struct ckpt_dump_stats st = {0};
	struct cli_dump d;
	char bytes[32];
	int r;

	r = cli_parse_dump(argc, argv, g, &d);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (d.g.service)
		return cli_service_dump(&d);
	if (mkdir_parents(d.opts.images_dir) < 0)
		return CLI_EXIT_FAIL;
	if (cli_log_start(&d.g, d.opts.images_dir, default_log(d.opts.images_dir)) < 0)
		return CLI_EXIT_FAIL;
	catch_stop_signals();
	d.opts.cancel = &dump_cancelled;
	r = ckpt_dump(&d.opts, &st);
	if (r < 0)
		return cli_failed(r, "dump failed");
	cli_format_bytes(st.bytes_written, bytes, sizeof(bytes));
	cli_msg(CKPT_LOG_INFO,
		"Dumped %u task(s), %u thread(s): %llu pages, %s written in %.3f s (frozen %.3f s)",
		st.nr_tasks, st.nr_threads, (unsigned long long)st.pages_written, bytes,
		(double)st.total_ns / 1e9, (double)st.frozen_ns / 1e9);
	return CLI_EXIT_OK;
}
