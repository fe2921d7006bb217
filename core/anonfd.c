/* SPDX-License-Identifier: MIT */
/*
 * Dump side of anonymous-inode fds. Their state is read from /proc/PID/fdinfo/FD, which
 * changes nothing (reading an eventfd or a timerfd would consume it), as each kind's
 * show_fdinfo prints it in the kernel:
 *   eventfd   "eventfd-count: %16llx", "eventfd-semaphore: %d" (fs/eventfd.c)
 *   timerfd   "clockid: %d", "ticks: %llu", "settime flags: 0%o", "it_value: (%llu, %llu)"
 *             (time left, relative), "it_interval: (%llu, %llu)" (fs/timerfd.c)
 *   signalfd  "sigmask:\t%016llx" (fs/signalfd.c)
 *   epoll     "tfd: %8d events: %8x data: %16llx ..." per watched file (fs/eventpoll.c)
 *   inotify   "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x
 *             fhandle-type:%x f_handle:%s" per watch (fs/notify/fdinfo.c); the watched
 *             inode's path is found again with open_by_handle_at(2), which needs
 *             CAP_DAC_READ_SEARCH.
 * Events queued in an inotify instance are not saved: they are lost at restore.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <linux/kcmp.h>
#include "anonfd.h"
#include "anonfd.pb-c.h"
#include "image.h"
#include "log.h"
#include "pipes.h"
#include "syscalls.h"

static const struct {
	const char *link;
	int kind;
} kinds[] = {
	{"anon_inode:[eventfd]", FD_KIND__FD_EVENTFD},	 {"anon_inode:[timerfd]", FD_KIND__FD_TIMERFD},
	{"anon_inode:[signalfd]", FD_KIND__FD_SIGNALFD}, {"anon_inode:[eventpoll]", FD_KIND__FD_EPOLL},
	{"anon_inode:inotify", FD_KIND__FD_INOTIFY},
};

int anonfd_link_kind(const char *link)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(link, kinds[i].link))
			return kinds[i].kind;
	return 0;
}

int anonfd_describe(pid_t pid, int fd, const char *link, const struct stat *st, FdEntry *e)
{
	int kind = anonfd_link_kind(link);
	size_t len = strlen(link);

	if (!kind && !(S_ISFIFO(st->st_mode) && link[0] == '/'))
		return 0;
	if (!kind && len > 10 && !strcmp(link + len - 10, " (deleted)"))
		return pr_err("pid %d: fd %d: FIFO '%s' was deleted while open: not supported", pid, fd,
			      link),
		       -ENOTSUP;
	e->kind = kind ?: FD_KIND__FD_FIFO;
	e->path = strdup(link);
	return e->path ? 1 : -ENOMEM;
}

/* The value after "key" at the start of a line of buf, or NULL. */
static const char *field(const char *buf, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, kl))
			return l + kl;
	return NULL;
}

static int field_u64(const char *buf, const char *key, int base, uint64_t *ret)
{
	const char *v = field(buf, key);
	char *end;

	if (!v)
		return -ENOENT;
	v += strspn(v, " \t");
	errno = 0;
	*ret = strtoull(v, &end, base);
	if (errno || end == v || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

static int dump_eventfd(const char *buf, AnonFdEntry *a)
{
	EventfdState *s = calloc(1, sizeof(*s));
	uint64_t sem = 0;
	int r;

	if (!s)
		return -ENOMEM;
	eventfd_state__init(s);
	a->eventfd = s;
	r = field_u64(buf, "eventfd-count:", 16, &s->count);
	if (r < 0)
		return r;
	/* Linux 6.6 and later; before, EFD_SEMAPHORE cannot be seen and is lost. */
	if (field_u64(buf, "eventfd-semaphore:", 10, &sem) == 0) {
		s->has_semaphore = true;
		s->semaphore = sem != 0;
	}
	return 0;
}

static int timespec_field(const char *buf, const char *key, uint64_t *ret_ns)
{
	const char *v = field(buf, key);
	unsigned long long sec, nsec;

	if (!v || sscanf(v, " (%llu, %llu)", &sec, &nsec) != 2 || nsec >= 1000000000ull ||
	    sec > UINT64_MAX / 1000000000ull - 1)
		return -EINVAL;
	*ret_ns = sec * 1000000000ull + nsec;
	return 0;
}

/*
 * A periodic timer that expired is not started again until it is read or asked for its time
 * (timerfd_read, timerfd_gettime: hrtimer_forward_now): until then fdinfo shows no time left
 * and only the ticks counted so far. timerfd_gettime(2) on a copy of the fd does what a read
 * would do without consuming the ticks: counts the missed periods into them and restarts it.
 */
static int timer_forward(pid_t pid, const FdEntry *e)
{
	_cleanup_close_ int fd = pipes_grab_fd(pid, (int)e->fd);
	struct itimerspec its;

	if (fd < 0)
		return fd;
	if (timerfd_gettime(fd, &its) < 0)
		return pr_perror("pid %d: fd %u: timerfd_gettime", pid, e->fd);
	return 0;
}

/*
 * No time left but an interval: a periodic timer that expired again between the forward and
 * the fdinfo read, to forward once more. (Or one disarmed with an interval set, which
 * timerfd_settime() keeps: it shows the same after any number of forwards.)
 */
static bool timer_pending_restart(const char *buf)
{
	uint64_t value = 0, interval = 0;

	return timespec_field(buf, "it_value:", &value) == 0 &&
	       timespec_field(buf, "it_interval:", &interval) == 0 && !value && interval;
}

static int dump_timerfd(const char *buf, AnonFdEntry *a)
{
	TimerfdState *s = calloc(1, sizeof(*s));
	uint64_t clk, flags;
	int r;

	if (!s)
		return -ENOMEM;
	timerfd_state__init(s);
	a->timerfd = s;
	s->has_ticks = s->has_settime_flags = s->has_value_ns = s->has_interval_ns = true;
	r = field_u64(buf, "clockid:", 10, &clk);
	if (r == 0)
		r = field_u64(buf, "ticks:", 10, &s->ticks);
	if (r == 0)
		r = field_u64(buf, "settime flags:", 8, &flags);
	if (r == 0)
		r = timespec_field(buf, "it_value:", &s->value_ns);
	if (r == 0)
		r = timespec_field(buf, "it_interval:", &s->interval_ns);
	if (r < 0 || clk > INT32_MAX)
		return -EINVAL;
	s->clockid = (uint32_t)clk;
	s->settime_flags = (uint32_t)flags;
	return 0;
}

static int add_target(AnonFdEntry *a, uint32_t fd, uint32_t events, uint64_t data)
{
	EpollTarget **v = realloc(a->targets, (a->n_targets + 1) * sizeof(*v));
	EpollTarget *t = calloc(1, sizeof(*t));

	if (v)
		a->targets = v;
	if (!v || !t) {
		free(t);
		return -ENOMEM;
	}
	epoll_target__init(t);
	t->fd = fd;
	t->events = events;
	t->data = data;
	a->targets[a->n_targets++] = t;
	return 0;
}

/*
 * Each watched file is known by the fd number it was added with. A file that is no longer
 * open at that number in the task (dup'ed, then closed) could not be added again: kcmp(2)
 * KCMP_EPOLL_TFD tells whether the task's fd is that very file.
 */
static int check_target(pid_t pid, int efd, const AnonFdEntry *a, uint32_t tfd)
{
	struct kcmp_epoll_slot slot = {.efd = (uint32_t)efd, .tfd = tfd};
	int r;

	for (size_t i = 0; i + 1 < a->n_targets; i++)
		slot.toff += a->targets[i]->fd == tfd;
	r = sys_kcmp(pid, pid, KCMP_EPOLL_TFD, tfd, (unsigned long)&slot);
	if (r == 0)
		return 0;
	return pr_err("pid %d: fd %d: epoll instance watches a file added as fd %u, which the task no "
		      "longer has open at that number (closed after a dup?): not supported",
		      pid, efd, tfd),
	       -ENOTSUP;
}

static int dump_epoll(pid_t pid, int fd, const char *buf, AnonFdEntry *a)
{
	for (const char *l = field(buf, "tfd:"); l;
	     l = strchr(l, '\n'), l = l ? field(l + 1, "tfd:") : NULL) {
		unsigned int tfd, events;
		unsigned long long data;
		int r;

		if (sscanf(l, " %u events: %x data: %llx", &tfd, &events, &data) != 3)
			return pr_err("pid %d: fd %d: unexpected epoll fdinfo line", pid, fd), -EINVAL;
		r = add_target(a, tfd, events, data);
		if (r == 0)
			r = check_target(pid, fd, a, tfd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The mount point of a mount of device sdev (the kernel's encoding: major << 20 | minor). */
static int mount_of_dev(uint32_t sdev, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	char want[32];
	int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &buf, NULL);

	if (r < 0)
		return r;
	snprintf(want, sizeof(want), " %u:%u ", sdev >> 20, sdev & 0xfffff);
	for (char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		/* "36 35 98:0 /root /mnt ...": id, parent, maj:min, root, mount point */
		char *p = strstr(l, want), *nl = strchr(l, '\n'), *mp, *o;

		if (!p || (nl && p > nl))
			continue;
		p = strchr(p + strlen(want), ' ');
		if (!p)
			continue;
		mp = ++p;
		for (o = mp; *p && *p != ' ' && *p != '\n'; p++) {
			unsigned int c;

			/* octal escapes of space, tab, newline and backslash (show_mountinfo) */
			if (*p == '\\' && sscanf(p + 1, "%3o", &c) == 1) {
				*o++ = (char)c;
				p += 3;
			} else {
				*o++ = *p;
			}
		}
		*o = '\0';
		*ret = strdup(mp);
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

static int handle_path(uint32_t sdev, uint64_t ino, uint32_t bytes, int type, const char *hex, char **ret)
{
	_cleanup_free_ struct file_handle *fh = NULL;
	_cleanup_free_ char *mp = NULL;
	_cleanup_close_ int mfd = -EBADF, fd = -EBADF;
	struct stat st;
	char path[64];
	int r;

	if (bytes > MAX_HANDLE_SZ || strspn(hex, "0123456789abcdef") < 2 * (size_t)bytes)
		return -EINVAL;
	fh = calloc(1, sizeof(*fh) + bytes);
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = bytes;
	fh->handle_type = type;
	for (uint32_t i = 0; i < bytes; i++) {
		unsigned int b;

		sscanf(hex + 2 * i, "%2x", &b);
		fh->f_handle[i] = (unsigned char)b;
	}
	r = mount_of_dev(sdev, &mp);
	if (r < 0)
		return r;
	mfd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* not O_PATH: EBADF */
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_ino != ino)
		return -ESTALE;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = readlink_malloc(AT_FDCWD, path, ret);
	if (r == 0 && (*ret)[0] != '/')
		r = -ENOENT; /* deleted, or not reachable from our root */
	return r;
}

static int add_watch(pid_t pid, int fd, const char *l, AnonFdEntry *a)
{
	unsigned int wd, sdev, mask, ign, bytes = 0;
	unsigned long ino;
	int type = 0, n, r;
	char hex[2 * MAX_HANDLE_SZ + 1] = "";
	InotifyWatch **v, *w;

	n = sscanf(l,
		   "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x "
		   "f_handle:%256s",
		   &wd, &ino, &sdev, &mask, &ign, &bytes, &type, hex);
	if (n < 4)
		return pr_err("pid %d: fd %d: unexpected inotify fdinfo line", pid, fd), -EINVAL;
	w = calloc(1, sizeof(*w));
	v = realloc(a->watches, (a->n_watches + 1) * sizeof(*v));
	if (v)
		a->watches = v;
	if (!w || !v) {
		free(w);
		return -ENOMEM;
	}
	inotify_watch__init(w);
	a->watches[a->n_watches++] = w;
	w->wd = wd;
	w->mask = mask;
	w->has_ino = true;
	w->ino = ino;
	r = n == 8 ? handle_path(sdev, ino, bytes, type, hex, &w->path) : -EOPNOTSUPP;
	if (r < 0)
		return pr_err("pid %d: fd %d: inotify watch %u on inode %lu of device %u:%u: cannot find its "
			      "path (%s%s): not supported",
			      pid, fd, wd, ino, sdev >> 20, sdev & 0xfffff, strerror(-r),
			      r == -EPERM ? "; open_by_handle_at needs CAP_DAC_READ_SEARCH" : ""),
		       -ENOTSUP;
	return 0;
}

static int dump_inotify(pid_t pid, int fd, const char *buf, AnonFdEntry *a)
{
	for (const char *l = field(buf, "inotify wd:"); l;
	     l = strchr(l, '\n'), l = l ? field(l + 1, "inotify wd:") : NULL) {
		int r = add_watch(pid, fd, l - strlen("inotify wd:"), a);

		if (r < 0)
			return r;
	}
	return 0;
}

static int dump_one(pid_t pid, const FdEntry *e, AnonFdEntry *a)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	uint64_t mask;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%u", pid, e->fd);
	for (int tries = 0;; tries++) {
		r = e->kind == FD_KIND__FD_TIMERFD ? timer_forward(pid, e) : 0;
		if (r < 0)
			return r;
		free(TAKE_PTR(buf));
		r = read_file_at(AT_FDCWD, path, &buf, NULL);
		if (r < 0)
			return pr_err_errno(r, "pid %d: fd %u: reading its fdinfo", pid, e->fd);
		if (e->kind != FD_KIND__FD_TIMERFD || tries == 8 || !timer_pending_restart(buf))
			break;
	}
	a->id = e->file_id;
	a->kind = (uint32_t)e->kind;
	switch (e->kind) {
	case FD_KIND__FD_EVENTFD:
		r = dump_eventfd(buf, a);
		break;
	case FD_KIND__FD_TIMERFD:
		r = dump_timerfd(buf, a);
		break;
	case FD_KIND__FD_SIGNALFD:
		r = field_u64(buf, "sigmask:", 16, &mask);
		a->has_sigmask = true;
		a->sigmask = mask;
		break;
	case FD_KIND__FD_EPOLL:
		return dump_epoll(pid, (int)e->fd, buf, a);
	case FD_KIND__FD_INOTIFY:
		return dump_inotify(pid, (int)e->fd, buf, a);
	default:
		return -EINVAL;
	}
	if (r < 0)
		return pr_err_errno(r, "pid %d: fd %u: unexpected fdinfo of its %s", pid, e->fd, e->path);
	return 0;
}

static bool is_anon(const FdEntry *e)
{
	return e->kind >= FD_KIND__FD_EVENTFD && e->kind <= FD_KIND__FD_INOTIFY;
}

/* Was an earlier fd of the tree (before task ti, fd fk) of the same description? */
static bool seen(const struct pstree *t, const struct fd_list *fds, size_t ti, size_t fk)
{
	for (size_t i = 0; i <= ti; i++)
		for (size_t k = 0; k < (i == ti ? fk : fds[i].n); k++)
			if (is_anon(fds[i].v[k]) && fds[i].v[k]->file_id == fds[ti].v[fk]->file_id)
				return true;
	(void)t;
	return false;
}

static void anon_free(AnonFdEntry *a)
{
	free(a->eventfd);
	free(a->timerfd);
	for (size_t i = 0; i < a->n_targets; i++)
		free(a->targets[i]);
	free(a->targets);
	for (size_t i = 0; i < a->n_watches; i++) {
		free(a->watches[i]->path);
		free(a->watches[i]);
	}
	free(a->watches);
}

int anonfd_dump(int dirfd, const struct pstree *t, const struct fd_list *fds)
{
	struct img *img;
	int r = img_create(dirfd, "anonfd.img", IMG_ANONFD, &img);

	if (r < 0)
		return r;
	for (size_t i = 0; i < t->nr_tasks && r >= 0; i++)
		for (size_t k = 0; k < fds[i].n && r >= 0; k++) {
			AnonFdEntry a = ANON_FD_ENTRY__INIT;

			/* The first fd of a description, as the restore sees it: rst-anonfd.c. */
			if (!is_anon(fds[i].v[k]) || seen(t, fds, i, k))
				continue;
			r = dump_one(t->tasks[i]->pid, fds[i].v[k], &a);
			if (r >= 0)
				r = img_write_msg(img, &a.base);
			anon_free(&a);
		}
	if (r < 0) {
		img_discard(img);
		return r;
	}
	return img_close(img);
}
