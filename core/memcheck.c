/* SPDX-License-Identifier: MIT */
/*
 * Is there room for the images' memory here? Before a restore creates anything: the pages the
 * dump wrote, against the node's MemAvailable and the room left under every memory limit of
 * the restorer's cgroup (v1 memory.limit_in_bytes, v2 memory.max, up to the root), which the
 * restored tree, created by the restorer, is charged to. A restore that would run the node or
 * the job's allocation out of memory is refused with both figures instead of being killed by
 * the OOM killer halfway.
 */
#include <fcntl.h>
#include "log.h"
#include "memcheck.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

/* MemAvailable of /proc/meminfo, in bytes. */
static int meminfo_available(uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t kib;
	char *p, *end;
	int r = read_file_at(AT_FDCWD, "/proc/meminfo", &buf, NULL);

	if (r < 0)
		return r;
	p = strstr(buf, "\nMemAvailable:");
	if (!p)
		return -ENODATA;
	p += strlen("\nMemAvailable:");
	p += strspn(p, " ");
	end = p + strcspn(p, " \n");
	*end = '\0';
	r = safe_atou64(p, 10, &kib);
	if (r < 0 || kib > UINT64_MAX / 1024)
		return -EBADMSG;
	*ret = kib * 1024;
	return 0;
}

/* A number file of a cgroup: "max" is UINT64_MAX. */
static int cg_read_u64(const char *dir, const char *name, uint64_t *ret)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = read_file_at(AT_FDCWD, path, &buf, NULL);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	if (!strcmp(buf, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	return safe_atou64(buf, 10, ret);
}

/*
 * The least room (limit - usage) over the cgroup at rel under mount and its ancestors;
 * UINT64_MAX when none is limited. A level whose files cannot be read is skipped.
 */
static uint64_t cg_room(const char *mount, const char *rel, const char *limit_file, const char *usage_file)
{
	_cleanup_free_ char *path = NULL;
	uint64_t room = UINT64_MAX;

	if (asprintf(&path, "%s%s", mount, rel) < 0)
		return UINT64_MAX;
	for (;;) {
		uint64_t limit, usage;
		char *slash;

		if (cg_read_u64(path, limit_file, &limit) == 0 && limit < (UINT64_MAX >> 2) &&
		    cg_read_u64(path, usage_file, &usage) == 0)
			room = MIN(room, limit > usage ? limit - usage : 0);
		slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) < strlen(mount))
			break;
		*slash = '\0';
	}
	return room;
}

/* The room under the memory limits of our cgroup: the v1 memory controller's, else v2's. */
static uint64_t cgroup_room(void)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t room = UINT64_MAX;

	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", &buf, NULL) < 0)
		return UINT64_MAX;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *ctrl = strchr(line, ':'), *rel = ctrl ? strchr(ctrl + 1, ':') : NULL;

		if (!rel)
			continue;
		*rel++ = '\0';
		ctrl++;
		if (!strcmp(ctrl, "memory") || !strncmp(ctrl, "memory,", 7) || strstr(ctrl, ",memory"))
			room = MIN(room, cg_room("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes",
						 "memory.usage_in_bytes"));
		else if (!*ctrl)
			room = MIN(room, cg_room("/sys/fs/cgroup", rel, "memory.max", "memory.current"));
	}
	return room;
}

int memcheck_room_for(uint64_t need)
{
	uint64_t avail, room = cgroup_room();
	int r = meminfo_available(&avail);

	if (r < 0) {
		pr_warn("cannot read MemAvailable of /proc/meminfo (%s): memory not checked", strerror(-r));
		return 0;
	}
	pr_debug("memory: the images need %.1f MiB; %.1f MiB available, cgroup room %.1f MiB", need / MIB,
		 avail / MIB, room == UINT64_MAX ? -1.0 : room / MIB);
	if (need > avail)
		return pr_err("not enough memory: the images hold %.1f MiB, this node has %.1f MiB available",
			      need / MIB, avail / MIB),
		       -ENOMEM;
	if (need > room)
		return pr_err("not enough memory: the images hold %.1f MiB, the memory limit of this "
			      "cgroup leaves %.1f MiB",
			      need / MIB, room / MIB),
		       -ENOMEM;
	return 0;
}
