/* SPDX-License-Identifier: MIT */
/*
 * The freezer stops every task of a cgroup at once, so a tree cannot fork or exit while it
 * is being seized. v1: write FROZEN to freezer.state and read it back until it says FROZEN
 * (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst); v2: write 1 to cgroup.freeze
 * and wait for "frozen 1" in cgroup.events (Documentation/admin-guide/cgroup-v2.rst).
 */
#include <fcntl.h>
#include <time.h>
#include "freezer.h"
#include "log.h"

#define FREEZE_TIMEOUT_MS 10000

int freezer_open(const char *path, struct freezer *ret)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pr_perror("cannot open cgroup '%s'", path);
	*ret = (struct freezer){.dirfd = dfd};
	if (faccessat(dfd, "freezer.state", W_OK, 0) == 0)
		return 0;
	if (faccessat(dfd, "cgroup.freeze", W_OK, 0) == 0) {
		ret->v2 = true;
		return 0;
	}
	close(dfd);
	return pr_err("cgroup '%s' has neither freezer.state (v1) nor cgroup.freeze (v2)", path), -ENOTSUP;
}

static int write_at(int dfd, const char *name, const char *val)
{
	_cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return pr_perror("cgroup: opening '%s'", name);
	if (write_all(fd, val, strlen(val)) < 0)
		return pr_perror("cgroup: writing '%s' to '%s'", val, name);
	return 0;
}

static bool is_frozen(const struct freezer *f)
{
	_cleanup_free_ char *buf = NULL;

	if (read_file_at(f->dirfd, f->v2 ? "cgroup.events" : "freezer.state", &buf, NULL) < 0)
		return false;
	return f->v2 ? strstr(buf, "frozen 1") != NULL : !strncmp(buf, "FROZEN", 6);
}

int freezer_freeze(struct freezer *f)
{
	int r = write_at(f->dirfd, f->v2 ? "cgroup.freeze" : "freezer.state", f->v2 ? "1" : "FROZEN");

	if (r < 0)
		return r;
	f->frozen = true;
	for (int ms = 0; ms < FREEZE_TIMEOUT_MS; ms += 10) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (is_frozen(f))
			return 0;
		nanosleep(&ts, NULL);
	}
	freezer_thaw(f);
	return pr_err("cgroup did not freeze within %d s", FREEZE_TIMEOUT_MS / 1000), -ETIMEDOUT;
}

int freezer_thaw(struct freezer *f)
{
	if (!f->frozen)
		return 0;
	f->frozen = false;
	return write_at(f->dirfd, f->v2 ? "cgroup.freeze" : "freezer.state", f->v2 ? "0" : "THAWED");
}

void freezer_close(struct freezer *f)
{
	freezer_thaw(f);
	closep(&f->dirfd);
}
