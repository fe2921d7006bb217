/* SPDX-License-Identifier: MIT */
/* Room for a restore's memory on this node and under the restorer's cgroup limits. */
#ifndef CKPT_MEMCHECK_H
#define CKPT_MEMCHECK_H

#include <stdint.h>

/* 0 when need bytes fit in MemAvailable and under every memory limit; -ENOMEM (logged) if not. */
int memcheck_room_for(uint64_t need);

#endif
