/* SPDX-License-Identifier: MIT */
/* ckptd's log sink: stderr in the foreground (-f), syslog otherwise. */
#ifndef CKPTD_SINK_H
#define CKPTD_SINK_H

#include <stdbool.h>

/* Install the sink as libckpt's log function; every pr_*() of the daemon goes through it. */
void sink_start(bool foreground, int level);
void sink_set_level(int level);
/* "error", "warn", "info", "debug" (or 0..3) to CKPT_LOG_*; -EINVAL otherwise. */
int sink_parse_level(const char *s);

#endif
