/* SPDX-License-Identifier: MIT */
/*
 * What a checkpoint's metadata says of the node it was taken on: a summary of its hardware
 * topology (hwloc) and of the CPU features a job's code may use, for `ckpt job list` and
 * for an admin deciding where a checkpoint can go.
 */
#ifndef CKPTD_TOPO_H
#define CKPTD_TOPO_H

/* "packages=1 numa=1 cores=2 pus=2 mem_mib=24000" (malloc'ed), or NULL. Cached. */
const char *topo_summary(void);
/* The SIMD and other code-generation features of this CPU, e.g. "avx avx2 avx512f", or NULL. */
const char *topo_cpu_features(void);

#endif
