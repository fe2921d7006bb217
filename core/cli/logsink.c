/* SPDX-License-Identifier: MIT */
/*
 * The CLI's log sink: stderr at the -v level, and a log file (-o, or dump.log) with every
 * message at debug level. Each line is formatted first and written with one write(2), with
 * no stdio buffer in between: restore forks, and a buffer would be flushed twice.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "cli.h"

static struct {
	int level; /* stderr threshold, CKPT_LOG_* */
	int fd;	   /* the log file, or -EBADF */
	uint64_t t0;
	unsigned int nr_errors; /* error lines seen by this process */
} sink = {.level = CKPT_LOG_WARN, .fd = -EBADF};

static _printf_(2, 3) void write_line(int fd, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n >= 0)
		(void)write_all(fd, line, (size_t)n);
}

static void sink_fn(int level, const char *msg, void *userdata)
{
	static const char *const prefix[] = {"Error: ", "Warning: ", "", ""};
	const char *pfx = prefix[MIN(MAX(level, 0), CKPT_LOG_DEBUG)];
	int saved = errno;

	if (level <= CKPT_LOG_ERROR)
		sink.nr_errors++;
	if (level <= sink.level)
		write_line(STDERR_FILENO, "%s%s\n", pfx, msg);
	if (sink.fd >= 0) {
		uint64_t t = now_ns(CLOCK_MONOTONIC) - sink.t0;

		write_line(sink.fd, "(%4llu.%06llu) %d %s%s\n", (unsigned long long)(t / 1000000000),
			   (unsigned long long)(t % 1000000000 / 1000), (int)getpid(), pfx, msg);
	}
	errno = saved;
}

void cli_msg(int level, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int n;

	if (level > sink.level && sink.fd < 0)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0)
		sink_fn(level, msg, NULL);
}

int cli_error(const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	sink_fn(CKPT_LOG_ERROR, msg ?: "out of memory", NULL);
	return CLI_EXIT_FAIL;
}

int cli_failed(int r, const char *what)
{
	if (!sink.nr_errors)
		cli_error("%s: %s", what, strerror(r < 0 ? -r : r));
	return CLI_EXIT_FAIL;
}

static int open_log(const char *dir, const char *name, bool is_default)
{
	_cleanup_close_ int dfd = AT_FDCWD;
	/* O_APPEND: forked children write the same file. No symlink for the name we chose. */
	int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0);
	int fd;

	if (dir && name[0] != '/') {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			fd = -errno;
			cli_error("cannot open the images directory '%s': %m", dir);
			return fd;
		}
	}
	fd = openat(dfd, name, flags, 0600);
	if (fd < 0) {
		fd = -errno;
		if (dir && name[0] != '/')
			cli_error("cannot open the log file '%s' in '%s': %m", name, dir);
		else
			cli_error("cannot open the log file '%s': %m", name);
	}
	return fd;
}

int cli_log_start(const struct cli_global *g, const char *dir, const char *default_name)
{
	const char *name = g->log_file ?: (dir ? default_name : NULL);
	int fd;

	sink.level = MIN(MAX(g->verbosity, 0), CKPT_LOG_DEBUG);
	sink.t0 = now_ns(CLOCK_MONOTONIC);
	ckpt_set_log_fn(sink_fn, NULL);
	ckpt_set_log_level(sink.level);
	if (!name)
		return 0;
	fd = open_log(dir, name, !g->log_file);
	if (fd < 0)
		return fd;
	cli_log_stop();
	sink.fd = fd;
	ckpt_set_log_level(CKPT_LOG_DEBUG);
	cli_msg(CKPT_LOG_DEBUG, "ckpt %s, pid %d, verbosity %d", CKPT_VERSION, (int)getpid(), g->verbosity);
	return 0;
}

void cli_log_stop(void)
{
	closep(&sink.fd);
	sink.fd = -EBADF;
}
