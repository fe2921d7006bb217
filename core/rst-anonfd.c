/* SPDX-License-Identifier: MIT */
/*
 * Restore of anonymous-inode fds, made again in plain C by the forked task before its fds are
 * placed (or, when several fds share the description, once by their nearest common ancestor,
 * like a shared file: rst-task.c create_files):
 *   eventfd   eventfd(2) with EFD_SEMAPHORE, then the counter written back;
 *   timerfd   timerfd_create(2) on its clock, armed relative with the time that was left and
 *             its interval (TFD_TIMER_ABSTIME and TFD_TIMER_CANCEL_ON_SET are not kept:
 *             the time left is what counts), then the expirations not read yet put back
 *             with the TFD_IOC_SET_TICKS ioctl (CONFIG_CHECKPOINT_RESTORE);
 *   signalfd  signalfd4 with its mask (raw: glibc's sigset refuses signals 32 and 33);
 *   inotify   inotify_init1(2), each watch added again by path with its mask and, by adding
 *             and removing it until the cyclic allocator gets there, its watch descriptor;
 *             events queued at the dump are lost;
 *   epoll     epoll_create1(2); the watched fds are added (EPOLL_CTL_ADD, same events and
 *             data) by the first task holding it once all its fds are placed: they are its
 *             fds, which must exist by then.
 * File status flags (O_NONBLOCK) are set last with F_SETFL.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "anonfd.pb-c.h"
#include "image.h"
#include "log.h"
#include "rst.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t) /* linux/timerfd.h, which clashes with fcntl.h */
#endif

struct rst_anon {
	AnonFdEntry *ae;
	const FdEntry *first; /* its first fd in the tree, which adds an epoll's targets */
	int first_task;
};

static struct rst_anon *find(const struct rst_tree *t, uint32_t id)
{
	for (size_t i = 0; i < t->n_anon; i++)
		if (t->anon[i].ae->id == id)
			return &t->anon[i];
	return NULL;
}

bool rst_anonfd_kind(const FdEntry *e)
{
	return e->kind >= FD_KIND__FD_FIFO && e->kind <= FD_KIND__FD_INOTIFY;
}

static bool timer_ok(const TimerfdState *s)
{
	switch (s->clockid) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
		break;
	default:
		return false;
	}
	return (!s->has_value_ns || s->value_ns < (1ull << 62)) &&
	       (!s->has_interval_ns || s->interval_ns < (1ull << 62));
}

static bool entry_ok(const struct rst_tree *t, const struct rst_anon *a)
{
	const AnonFdEntry *ae = a->ae;

	if (find(t, ae->id) != a)
		return false;
	switch (ae->kind) {
	case FD_KIND__FD_EVENTFD:
		return ae->eventfd && ae->eventfd->count < UINT64_MAX;
	case FD_KIND__FD_TIMERFD:
		return ae->timerfd && timer_ok(ae->timerfd);
	case FD_KIND__FD_SIGNALFD:
		return ae->has_sigmask;
	case FD_KIND__FD_EPOLL:
		return true;
	case FD_KIND__FD_INOTIFY:
		for (size_t i = 0; i < ae->n_watches; i++)
			if (ae->watches[i]->path[0] != '/' || !ae->watches[i]->wd ||
			    ae->watches[i]->wd > INT32_MAX)
				return false;
		return true;
	default:
		return false;
	}
}

int rst_anonfd_load(struct rst_tree *t)
{
	_cleanup_free_ ProtobufCMessage **v = NULL;
	size_t n = 0;
	int r = rst_fifo_load(t);

	if (r < 0)
		return r;
	if (faccessat(t->dirfd, "anonfd.img", F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = img_read_all(t->dirfd, "anonfd.img", IMG_ANONFD, &v, &n);
	if (r < 0)
		return r;
	t->anon = calloc(n ?: 1, sizeof(*t->anon));
	if (!t->anon) {
		img_free_all(TAKE_PTR(v), n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		t->anon[t->n_anon++] = (struct rst_anon){.ae = (AnonFdEntry *)v[i], .first_task = -1};
	for (size_t i = 0; i < n; i++)
		if (!entry_ok(t, &t->anon[i]))
			return pr_err("'anonfd.img': bad record %u", t->anon[i].ae->id), -EBADMSG;
	return 0;
}

static int check_watches(uint32_t pid, const FdEntry *e, const AnonFdEntry *ae)
{
	struct stat st;

	for (size_t i = 0; i < ae->n_watches; i++)
		if (stat(ae->watches[i]->path, &st) < 0)
			return pr_err("pid %u: fd %u: inotify watch %u: '%s' is gone (%s)", pid, e->fd,
				      ae->watches[i]->wd, ae->watches[i]->path, strerror(errno)),
			       -ENOENT;
	return 0;
}

int rst_anonfd_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	const struct rst_anon *a;

	if (e->kind == FD_KIND__FD_FIFO)
		return rst_fifo_check_fd(t, pid, e);
	a = e->has_file_id ? find(t, e->file_id) : NULL;
	if (!a || a->ae->kind != (uint32_t)e->kind || !e->path)
		return pr_err("pid %u: fd %u: its state is missing from 'anonfd.img'", pid, e->fd), -EBADMSG;
	if (e->kind == FD_KIND__FD_INOTIFY)
		return check_watches(pid, e, a->ae);
	return 0;
}

static bool task_has_fd(const struct rst_task *task, uint32_t fd)
{
	for (size_t i = 0; i < task->n_fds; i++)
		if (task->fds[i]->fd == fd)
			return true;
	return false;
}

/* The first fd of each description; an epoll's targets must be fds of the task that holds it. */
int rst_anonfd_place(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_tasks; i++)
		for (size_t k = 0; k < t->tasks[i].n_fds; k++) {
			const FdEntry *e = t->tasks[i].fds[k];
			struct rst_anon *a;

			if (!rst_anonfd_kind(e) || e->kind == FD_KIND__FD_FIFO)
				continue;
			a = find(t, e->file_id);
			if (a->first)
				continue;
			a->first = e;
			a->first_task = (int)i;
			for (size_t n = 0; n < a->ae->n_targets; n++)
				if (!task_has_fd(&t->tasks[i], a->ae->targets[n]->fd))
					return pr_err("pid %u: fd %u: epoll instance watches fd %u, which is "
						      "not "
						      "in 'fdinfo-%u.img'",
						      t->tasks[i].pe->pid, e->fd, a->ae->targets[n]->fd,
						      t->tasks[i].pe->pid),
					       -EBADMSG;
		}
	return rst_fifo_place(t);
}

int rst_anonfd_create(struct rst_tree *t, size_t idx)
{
	return rst_fifo_create(t, idx);
}

size_t rst_anonfd_fds(const struct rst_tree *t, int *keep)
{
	return rst_fifo_fds(t, keep);
}

static int make_eventfd(const EventfdState *s)
{
	int fd = eventfd(0, EFD_CLOEXEC | (s->semaphore ? EFD_SEMAPHORE : 0));

	/* eventfd(2) takes an unsigned int; a write adds any count below 2^64-1 without blocking. */
	if (fd >= 0 && s->count && write(fd, &s->count, sizeof(s->count)) != sizeof(s->count)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int make_timerfd(const TimerfdState *s, uint32_t pid, const FdEntry *e)
{
	struct itimerspec its = {
		.it_interval = {(time_t)(s->interval_ns / 1000000000ull),
				(long)(s->interval_ns % 1000000000ull)},
		.it_value = {(time_t)(s->value_ns / 1000000000ull), (long)(s->value_ns % 1000000000ull)},
	};
	uint64_t ticks = s->ticks;
	int fd = timerfd_create((int)s->clockid, TFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (s->value_ns && timerfd_settime(fd, 0, &its, NULL) < 0)
		goto fail;
	if (s->settime_flags)
		pr_info("pid %u: fd %u: timerfd armed with flags %#x is armed again relative to now", pid,
			e->fd, s->settime_flags);
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static int make_signalfd(uint64_t mask)
{
	return (int)syscall(SYS_signalfd4, -1, &mask, sizeof(mask), SFD_CLOEXEC);
}

/* Add a watch on path until it gets wd: inotify hands them out cyclically (idr_alloc_cyclic). */
static int add_watch(int fd, const InotifyWatch *w, bool *ret_removed)
{
	for (unsigned int tries = 0; tries <= w->wd; tries++) {
		int wd = inotify_add_watch(fd, w->path, w->mask);

		if (wd < 0 || (uint32_t)wd == w->wd)
			return wd < 0 ? -errno : 0;
		if ((uint32_t)wd > w->wd)
			break;
		inotify_rm_watch(fd, wd);
		*ret_removed = true;
	}
	return -EEXIST;
}

static int make_inotify(const AnonFdEntry *ae, uint32_t pid, const FdEntry *e)
{
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	bool removed = false;
	uint32_t last = 0;
	char buf[4096];

	if (fd < 0)
		return -1;
	/* in the order of their watch descriptors */
	for (size_t done = 0; done < ae->n_watches; done++) {
		const InotifyWatch *w = NULL;
		int r;

		for (size_t i = 0; i < ae->n_watches; i++)
			if (ae->watches[i]->wd > last && (!w || ae->watches[i]->wd < w->wd))
				w = ae->watches[i];
		if (!w)
			break;
		last = w->wd;
		r = add_watch(fd, w, &removed);
		if (r < 0)
			return pr_err("pid %u: fd %u: inotify watch %u on '%s': %s", pid, e->fd, w->wd,
				      w->path,
				      r == -EEXIST ? "cannot get that watch descriptor again" : strerror(-r)),
			       -2;
	}
	/* The IN_IGNORED events of the watches we removed on the way. */
	while (removed && read(fd, buf, sizeof(buf)) > 0)
		;
	return fcntl(fd, F_SETFL, 0) < 0 ? -1 : TAKE_FD(fd);
}

static int make(const AnonFdEntry *ae, uint32_t pid, const FdEntry *e)
{
	switch (e->kind) {
	case FD_KIND__FD_EVENTFD:
		return make_eventfd(ae->eventfd);
	case FD_KIND__FD_TIMERFD:
		return make_timerfd(ae->timerfd, pid, e);
	case FD_KIND__FD_SIGNALFD:
		return make_signalfd(ae->sigmask);
	case FD_KIND__FD_EPOLL:
		return epoll_create1(EPOLL_CLOEXEC);
	case FD_KIND__FD_INOTIFY:
		return make_inotify(ae, pid, e);
	default:
		errno = EINVAL;
		return -1;
	}
}

int rst_anonfd_open(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	const struct rst_anon *a;
	int fd;

	if (e->kind == FD_KIND__FD_FIFO)
		return rst_fifo_open(t, pid, e);
	a = find(t, e->file_id);
	fd = make(a->ae, pid, e);
	if (fd == -2)
		return -EINVAL; /* logged */
	if (fd < 0)
		return pr_perror("pid %u: fd %u: making its %s again", pid, e->fd, e->path);
	if (fcntl(fd, F_SETFL, (int)(e->flags & O_NONBLOCK)) < 0) {
		int r = pr_perror("pid %u: fd %u: F_SETFL", pid, e->fd);

		close(fd);
		return r;
	}
	return fd;
}

static int add_targets(uint32_t pid, const FdEntry *e, const AnonFdEntry *ae)
{
	for (size_t i = 0; i < ae->n_targets; i++) {
		const EpollTarget *tg = ae->targets[i];
		struct epoll_event ev = {.events = tg->events, .data.u64 = tg->data};

		if (epoll_ctl((int)e->fd, EPOLL_CTL_ADD, (int)tg->fd, &ev) < 0)
			return pr_perror("pid %u: fd %u: adding fd %u to the epoll instance (events %#x)",
					 pid, e->fd, tg->fd, tg->events);
	}
	return 0;
}

int rst_anonfd_finish(const struct rst_tree *t, const struct rst_task *task)
{
	for (size_t i = 0; i < task->n_fds; i++) {
		const FdEntry *e = task->fds[i];
		const struct rst_anon *a;
		int r;

		if (e->kind != FD_KIND__FD_EPOLL)
			continue;
		a = find(t, e->file_id);
		if (a->first != e)
			continue;
		r = add_targets(task->pe->pid, e, a->ae);
		if (r < 0)
			return r;
	}
	return 0;
}

void rst_anonfd_free(struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_anon; i++)
		protobuf_c_message_free_unpacked(&t->anon[i].ae->base, NULL);
	free(t->anon);
	t->anon = NULL;
	t->n_anon = 0;
	rst_fifo_free(t);
}
