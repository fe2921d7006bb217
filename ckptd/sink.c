/* SPDX-License-Identifier: MIT */
/*
 * ckptd's log sink. In the foreground each message is one write(2) to stderr, formatted
 * first, so that lines of different threads never mix; otherwise syslog(3), which is
 * thread-safe. Job processes install their own sink (runner.c) right after fork.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include "log.h"
#include "sink.h"

static bool sink_foreground;

static void sink_fn(int level, const char *msg, void *userdata)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	int l = MIN(MAX(level, CKPT_LOG_ERROR), CKPT_LOG_DEBUG);
	char *line = NULL;
	int n;

	if (!sink_foreground) {
		syslog(prio[l], "%s", msg);
		return;
	}
	n = asprintf(&line, "ckptd[%d]: %s%s\n", (int)getpid(), prefix[l], msg);
	if (n > 0)
		(void)write_all(STDERR_FILENO, line, (size_t)n);
	free(line);
}

void sink_start(bool foreground, int level)
{
	sink_foreground = foreground;
	if (!foreground)
		openlog("ckptd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	ckpt_set_log_fn(sink_fn, NULL);
	ckpt_set_log_level(level);
}

void sink_set_level(int level)
{
	ckpt_set_log_level(level);
}

int sink_parse_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	uint32_t v;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	if (safe_atou32(s, &v) == 0 && v <= CKPT_LOG_DEBUG)
		return (int)v;
	return -EINVAL;
}
