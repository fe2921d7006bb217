/* SPDX-License-Identifier: MIT */
/* The one log sink of libckpt. The CLI, ckptd and the plugin each install their own. */
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

static ckpt_log_fn log_fn;
static void *log_userdata;
static int log_level = CKPT_LOG_WARN;
static char *capture_buf; /* log_capture(): the last error goes here, nothing is emitted */
static size_t capture_len;

_public_ void ckpt_set_log_fn(ckpt_log_fn fn, void *userdata)
{
	log_fn = fn;
	log_userdata = userdata;
}

_public_ void ckpt_set_log_level(int level)
{
	log_level = level;
}

void log_capture(char *buf, size_t len)
{
	capture_buf = len ? buf : NULL;
	capture_len = len;
	if (capture_buf)
		capture_buf[0] = '\0';
}

bool ckpt_log_enabled(int level)
{
	return level <= log_level;
}

static void log_stderr(int level, const char *msg)
{
	static const char *const prefix[] = {"Error: ", "Warning: ", "", ""};

	fprintf(stderr, "%s%s\n", prefix[level & 3], msg);
}

void ckpt_log(int level, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int saved = errno;

	if (capture_buf && level == CKPT_LOG_ERROR) {
		va_start(ap, fmt);
		vsnprintf(capture_buf, capture_len, fmt, ap);
		va_end(ap);
		errno = saved;
		return;
	}
	if (capture_buf || !ckpt_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(level, buf, log_userdata);
	else
		log_stderr(level, buf);
	errno = saved;
}
