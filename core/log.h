/* SPDX-License-Identifier: MIT */
/* libckpt logging: one pluggable sink (ckpt_set_log_fn), messages name their object. */
#ifndef CKPT_LOG_H
#define CKPT_LOG_H

#include <errno.h>
#include "ckpt.h"
#include "util.h"

void ckpt_log(int level, const char *fmt, ...) _printf_(2, 3);
bool ckpt_log_enabled(int level);
/*
 * From now on in this process, keep the last error in buf (len bytes, NUL-terminated) and
 * emit nothing: a restored task, whose fd 2 becomes the job's own, reports its failure to
 * the restorer instead (rst_msg).
 */
void log_capture(char *buf, size_t len);

#define pr_err(fmt, ...)   ckpt_log(CKPT_LOG_ERROR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)  ckpt_log(CKPT_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  ckpt_log(CKPT_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) ckpt_log(CKPT_LOG_DEBUG, fmt, ##__VA_ARGS__)

/*
 * Log an error with the text of errno value r (negative) and return r, so that
 * a caller can write: return pr_err_errno(r, "seize %d", pid);
 */
#define pr_err_errno(r, fmt, ...)                                                    \
	({                                                                           \
		int _r_ = (r);                                                       \
		ckpt_log(CKPT_LOG_ERROR, fmt ": %s", ##__VA_ARGS__, strerror(-_r_)); \
		_r_;                                                                 \
	})
/* Same, taking the error from errno; returns -errno. */
#define pr_perror(fmt, ...)                                                          \
	({                                                                           \
		int _e_ = errno > 0 ? -errno : -EIO;                                 \
		ckpt_log(CKPT_LOG_ERROR, fmt ": %s", ##__VA_ARGS__, strerror(-_e_)); \
		_e_;                                                                 \
	})
/* A parser of untrusted input: debug message, -EINVAL. */
#define bad_input(fmt, ...)                                                 \
	({                                                                  \
		ckpt_log(CKPT_LOG_DEBUG, "bad input: " fmt, ##__VA_ARGS__); \
		-EINVAL;                                                    \
	})

#endif
