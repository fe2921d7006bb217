/* SPDX-License-Identifier: MIT */
/* Freezing a cgroup around the seize (--freeze-cgroup): cgroup v1 freezer or v2 cgroup.freeze. */
#ifndef CKPT_FREEZER_H
#define CKPT_FREEZER_H

#include <stdbool.h>

struct freezer {
	int dirfd;
	bool v2;
	bool frozen;
};

/* Open the cgroup directory path and tell which interface it has. */
int freezer_open(const char *path, struct freezer *ret);
/* Freeze and wait until the kernel reports every task frozen (up to a few seconds). */
int freezer_freeze(struct freezer *f);
int freezer_thaw(struct freezer *f);
void freezer_close(struct freezer *f);

#endif
