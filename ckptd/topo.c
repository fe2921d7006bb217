/* SPDX-License-Identifier: MIT */
#include <hwloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "topo.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *summary, *features;

static int count(hwloc_topology_t t, hwloc_obj_type_t type)
{
	int n = hwloc_get_nbobjs_by_type(t, type);

	return n < 0 ? 0 : n;
}

static void load_summary(void)
{
	hwloc_topology_t t;
	hwloc_obj_t root;

	if (hwloc_topology_init(&t) < 0)
		return;
	if (hwloc_topology_load(t) == 0) {
		root = hwloc_get_root_obj(t);
		if (asprintf(&summary, "packages=%d numa=%d cores=%d pus=%d mem_mib=%llu",
			     count(t, HWLOC_OBJ_PACKAGE), count(t, HWLOC_OBJ_NUMANODE),
			     count(t, HWLOC_OBJ_CORE), count(t, HWLOC_OBJ_PU),
			     (unsigned long long)(root ? root->total_memory >> 20 : 0)) < 0)
			summary = NULL;
	}
	hwloc_topology_destroy(t);
}

/* The flags of /proc/cpuinfo that compiled code depends on. */
static void load_features(void)
{
	static const char *const wanted[] = {"sse4_2",	    "avx",	"avx2",	    "fma",	"bmi2",
					     "avx512f",	    "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
					     "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "asimd",
					     "sve",	    "sve2"};
	char *line = NULL, *flags = NULL;
	size_t cap = 0, len = 0;
	FILE *f = fopen("/proc/cpuinfo", "re");

	while (f && getline(&line, &cap, f) > 0)
		if (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8)) {
			flags = strchr(line, ':');
			break;
		}
	if (f)
		fclose(f);
	features = flags ? calloc(1, 512) : NULL;
	for (size_t i = 0; features && i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		size_t wl = strlen(wanted[i]);

		for (char *p = strstr(flags, wanted[i]); p; p = strstr(p + 1, wanted[i]))
			if ((p[-1] == ' ' || p[-1] == ':') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl])) {
				len += (size_t)snprintf(features + len, 512 - len, "%s%s", len ? " " : "",
							wanted[i]);
				break;
			}
	}
	free(line);
}

static void load(void)
{
	load_summary();
	load_features();
}

const char *topo_summary(void)
{
	pthread_once(&once, load);
	return summary;
}

const char *topo_cpu_features(void)
{
	pthread_once(&once, load);
	return features;
}
