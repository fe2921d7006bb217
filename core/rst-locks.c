/* SPDX-License-Identifier: MIT */
/*
 * Restore side of file locks (--file-locks). flock and OFD locks belong to the open file
 * description they are taken through (fcntl(2), flock(2)), which is the restored one: each
 * task takes them again once its fds are in place, before it reports ready. Taking a lock its
 * file description already holds changes nothing, so every fd of a shared description may
 * take it again.
 *
 * A POSIX lock belongs to the process, and any close(2) of the file by that process drops it,
 * whichever fd was closed. The address space is rebuilt afterwards by injected syscalls that
 * open files by path to map them, and close those fds again (as well as the executable's, and
 * the fds of the shared objects, deleted files among them). So POSIX locks are taken last, by
 * an injected F_SETLK once the task's mappings are made (rst_locks_take_posix).
 *
 * Before anything is created, each lock is tried against the system as it is (F_OFD_GETLK,
 * flock(LOCK_NB) on a file of our own): a file locked by someone else is refused there.
 */
#include <fcntl.h>
#include <sys/file.h>
#include "log.h"
#include "rst.h"
#include "syscalls.h"

static const char *kind_name(FileLockKind k)
{
	return k == FILE_LOCK_KIND__FL_POSIX ? "POSIX" : k == FILE_LOCK_KIND__FL_FLOCK ? "flock" : "OFD";
}

static struct flock range_of(const FileLockEntry *l)
{
	return (struct flock){.l_type = l->write ? F_WRLCK : F_RDLCK,
			      .l_whence = SEEK_SET,
			      .l_start = (off_t)l->start,
			      .l_len = (off_t)l->len};
}

/* Is l free to take now? Refused, naming the holder, when something outside holds it. */
static int probe(uint32_t pid, const FdEntry *e, const FileLockEntry *l)
{
	_cleanup_close_ int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct flock fl = range_of(l);

	if (fd < 0)
		return 0; /* put back later (saved files) or missing: reported where it is opened */
	if (l->kind == FILE_LOCK_KIND__FL_FLOCK) {
		if (flock(fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return 0; /* ours, released with fd */
		if (errno != EWOULDBLOCK)
			return pr_perror("pid %u: fd %u: trying its flock lock on '%s'", pid, e->fd, e->path);
		return pr_err("pid %u: fd %u: '%s' is flock()ed by another process: its flock lock cannot be "
			      "taken again",
			      pid, e->fd, e->path),
		       -EBUSY;
	}
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return pr_perror("pid %u: fd %u: F_OFD_GETLK on '%s'", pid, e->fd, e->path);
	if (fl.l_type == F_UNLCK)
		return 0;
	if (fl.l_pid > 0)
		return pr_err("pid %u: fd %u: '%s' is locked by pid %d: its %s lock cannot be taken again",
			      pid, e->fd, e->path, fl.l_pid, kind_name(l->kind)),
		       -EBUSY;
	return pr_err("pid %u: fd %u: '%s' is locked by another process (an OFD lock): its %s lock cannot be "
		      "taken again",
		      pid, e->fd, e->path, kind_name(l->kind)),
	       -EBUSY;
}

static int check_lock(const struct rst_tree *t, uint32_t pid, const FdEntry *e, const FileLockEntry *l)
{
	if (l->kind != FILE_LOCK_KIND__FL_POSIX && l->kind != FILE_LOCK_KIND__FL_FLOCK &&
	    l->kind != FILE_LOCK_KIND__FL_OFD)
		return pr_err("pid %u: fd %u: unknown lock kind %d", pid, e->fd, l->kind), -EBADMSG;
	if (l->kind != FILE_LOCK_KIND__FL_FLOCK &&
	    (!l->has_start || l->start > INT64_MAX || (l->has_len && l->len > INT64_MAX - l->start)))
		return pr_err("pid %u: fd %u: bad lock range", pid, e->fd), -EBADMSG;
	if (!e->path || e->path[0] != '/' ||
	    (e->kind != FD_KIND__FD_REG && e->kind != FD_KIND__FD_DIR && e->kind != FD_KIND__FD_CHR))
		return pr_err("pid %u: fd %u: a lock on an fd that is not a file", pid, e->fd), -EBADMSG;
	if (!t->opts->file_locks)
		return pr_err("pid %u: fd %u: holds a%s %s lock on '%s': restore with --file-locks", pid,
			      e->fd, l->kind == FILE_LOCK_KIND__FL_OFD ? "n" : "", kind_name(l->kind),
			      e->path),
		       -ENOTSUP;
	return e->has_shmem_id ? 0 : probe(pid, e, l);
}

int rst_locks_validate(const struct rst_tree *t)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct rst_task *task = &t->tasks[i];

		for (size_t k = 0; k < task->n_fds; k++)
			for (size_t j = 0; j < task->fds[k]->n_locks; j++) {
				int r = check_lock(t, task->pe->pid, task->fds[k], task->fds[k]->locks[j]);

				if (r < 0)
					return r;
			}
	}
	return 0;
}

static int take(uint32_t pid, const FdEntry *e, const FileLockEntry *l)
{
	struct flock fl = range_of(l);
	int r;

	if (l->kind == FILE_LOCK_KIND__FL_FLOCK)
		r = flock((int)e->fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
	else
		r = fcntl((int)e->fd, F_OFD_SETLK, &fl);
	if (r < 0)
		return pr_perror("pid %u: fd %u: taking its %s lock on '%s' again", pid, e->fd,
				 kind_name(l->kind), e->path);
	return 0;
}

int rst_locks_take(const struct rst_tree *t, const struct rst_task *task)
{
	(void)t;
	for (size_t k = 0; k < task->n_fds; k++)
		for (size_t j = 0; j < task->fds[k]->n_locks; j++) {
			const FileLockEntry *l = task->fds[k]->locks[j];
			int r;

			if (l->kind == FILE_LOCK_KIND__FL_POSIX)
				continue; /* rst_locks_take_posix */
			r = take(task->pe->pid, task->fds[k], l);
			if (r < 0)
				return r;
		}
	return 0;
}

static int take_posix(struct rst_inject *in, uint32_t pid, const FdEntry *e, const FileLockEntry *l)
{
	struct flock fl = range_of(l);
	uint64_t p;
	long v;
	int r;

	r = rst_put_data(in, 0, &fl, sizeof(fl), &p);
	if (r == 0)
		r = rst_syscall(in, __NR_fcntl, e->fd, F_SETLK, p, 0, 0, 0, &v);
	if (r < 0)
		return r;
	if (v < 0)
		return pr_err_errno((int)v,
				    "pid %u: fd %u: taking its POSIX %s lock on '%s' [%" PRIu64 ", +%" PRIu64
				    ") again",
				    pid, e->fd, l->write ? "WRITE" : "READ", e->path, l->start, l->len);
	return 0;
}

int rst_locks_take_posix(struct rst_inject *in, const struct rst_task *task)
{
	for (size_t k = 0; k < task->n_fds; k++)
		for (size_t j = 0; j < task->fds[k]->n_locks; j++) {
			const FileLockEntry *l = task->fds[k]->locks[j];
			int r;

			if (l->kind != FILE_LOCK_KIND__FL_POSIX)
				continue; /* rst_locks_take, in the task */
			r = take_posix(in, task->pe->pid, task->fds[k], l);
			if (r < 0)
				return r;
		}
	return 0;
}
