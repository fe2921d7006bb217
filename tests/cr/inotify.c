/* SPDX-License-Identifier: MIT */
/*
 * An inotify instance (O_NONBLOCK) watching the directory given as argv[1] (IN_CREATE) and
 * its subdirectory sub2 (IN_CREATE | IN_ONLYDIR); a watch on sub1 was added in between and
 * removed, so the watch descriptors are 1 and 3. Nothing is queued at READY (queued events
 * are lost by a restore: docs/engine.md). After SIGTERM: creating a file in the directory,
 * then one in sub2, gives one IN_CREATE event each, with the right watch descriptor and name.
 *
 * usage: inotify DIR
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include "crtest.h"

static int wd_dir, wd_sub2;

static void create(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path); /* no event: IN_DELETE is not watched */
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		cr_fail("creating %s: %s", path, strerror(errno));
	close(fd);
}

static void expect_event(int in, int wd, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = {.fd = in, .events = POLLIN};
	const struct inotify_event *e = (const void *)buf;
	ssize_t n;

	if (poll(&p, 1, 5000) != 1)
		cr_fail("no event for %s", name);
	n = read(in, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(*e))
		cr_fail("read: %zd (%s)", n, strerror(errno));
	if (e->wd != wd || !(e->mask & IN_CREATE) || strcmp(e->name, name))
		cr_fail("event wd %d mask %#x name '%s', want wd %d IN_CREATE '%s'", e->wd, e->mask,
			e->len ? e->name : "", wd, name);
	if (n != (ssize_t)(sizeof(*e) + e->len))
		cr_fail("more than one event for %s", name);
}

int main(int argc, char **argv)
{
	char sub1[PATH_MAX], sub2[PATH_MAX], buf[4096];
	int in, wd;

	cr_init();
	if (argc != 2)
		cr_fail("setup: usage: inotify DIR");
	snprintf(sub1, sizeof(sub1), "%s/sub1", argv[1]);
	snprintf(sub2, sizeof(sub2), "%s/sub2", argv[1]);
	mkdir(sub1, 0700);
	mkdir(sub2, 0700);
	in = inotify_init1(IN_NONBLOCK);
	if (in < 0)
		cr_die("inotify_init1");
	wd_dir = inotify_add_watch(in, argv[1], IN_CREATE);
	wd = inotify_add_watch(in, sub1, IN_CREATE);
	if (wd < 0 || inotify_rm_watch(in, wd) < 0)
		cr_die("watch on sub1");
	wd_sub2 = inotify_add_watch(in, sub2, IN_CREATE | IN_ONLYDIR);
	if (wd_dir != 1 || wd_sub2 != 3)
		cr_fail("setup: watch descriptors %d and %d, want 1 and 3", wd_dir, wd_sub2);
	while (read(in, buf, sizeof(buf)) > 0) /* the IN_IGNORED of sub1 */
		;
	cr_ready();
	cr_wait_sigterm();
	if (!(fcntl(in, F_GETFL) & O_NONBLOCK))
		cr_fail("lost O_NONBLOCK");
	if (read(in, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		cr_fail("events queued after the restore");
	create(argv[1], "created-after");
	expect_event(in, wd_dir, "created-after");
	create(sub2, "in-sub2");
	expect_event(in, wd_sub2, "in-sub2");
	cr_pass();
}
