/* SPDX-License-Identifier: MIT */
/*
 * Restore, step two, in the forked processes. Each task is a fork of the restorer that
 * holds the images in memory: it makes its session and group, forks its children with
 * their pids (clone3 set_tid), puts its fds at their numbers, sets cwd, root, umask,
 * personality and limits in plain C, reports ready, and waits to be seized. What needs the
 * task's final address space is done later by syscall injection.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "log.h"
#include "pidns.h"
#include "rst.h"
#include "syscalls.h"

/* The task's last error, captured from the start of task_main (log_capture). */
static char task_error[sizeof(((struct rst_msg *)0)->why)];

static void send_msg(const struct rst_tree *t, int fd, uint32_t ns_pid, int err, int sync_fd)
{
	struct rst_msg m = {.ns_pid = ns_pid, .err = err, .sync_fd = sync_fd};

	if (err < 0)
		snprintf(m.why, sizeof(m.why), "%s", task_error);

	while (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static int fd_base(const struct rst_task *task)
{
	int base = 3;

	for (size_t i = 0; i < task->n_fds; i++)
		base = MAX(base, (int)task->fds[i]->fd + 1);
	return base;
}

static int close_others(int base, const int *keep, size_t n_keep)
{
	_cleanup_free_ int *fds = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;

	if (base > 0 && close_range(0, (unsigned int)base - 1, 0) < 0)
		return pr_perror("close_range");
	d = opendir("/proc/self/fd");
	if (!d)
		return pr_perror("opening /proc/self/fd");
	while ((de = readdir(d))) {
		int32_t fd;

		if (safe_atoi32(de->d_name, &fd) < 0 || fd == dirfd(d))
			continue;
		if (n == cap) {
			int *nf = realloc(fds, (cap = cap ? cap * 2 : 32) * sizeof(int));

			if (!nf) {
				closedir(d);
				return -ENOMEM;
			}
			fds = nf;
		}
		fds[n++] = fd;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		bool k = false;

		for (size_t j = 0; j < n_keep; j++)
			k |= keep[j] == fds[i];
		if (!k)
			close(fds[i]);
	}
	return 0;
}

/* A file, directory or device, opened with the flags and offset it had, or handed in (src). */
static int open_plain(uint32_t pid, const FdEntry *e, int src)
{
	int fd = src >= 0 ? fcntl(src, F_DUPFD_CLOEXEC, 0)
			  : open(e->path,
				 (int)(e->flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);

	if (fd < 0)
		return pr_perror("pid %u: fd %u: opening '%s'", pid, e->fd, e->path);
	/*
	 * A directory's offset is where its listing goes on (the filesystem's cookie, as
	 * fdinfo showed it); an O_PATH fd has none (lseek(2) fails with EBADF on it).
	 */
	if ((e->kind == FD_KIND__FD_REG || e->kind == FD_KIND__FD_DIR) && !(e->flags & O_PATH) &&
	    lseek(fd, (off_t)e->pos, SEEK_SET) < 0) {
		int r = pr_perror("pid %u: fd %u: seeking '%s' to %" PRIu64, pid, e->fd, e->path, e->pos);

		close(fd);
		return r;
	}
	return fd;
}

static int open_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e, const int *inh, int tty)
{
	int fd, in;

	if (e->kind == FD_KIND__FD_EXTERNAL) {
		int src = tty;

		for (size_t i = 0; i < t->opts->n_inherit_fds; i++)
			if (!strcmp(t->opts->inherit_fds[i].key, e->ext_key))
				src = inh[i];
		fd = fcntl(src, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return pr_perror("pid %u: fd %u: handing in '%s'", pid, e->fd, e->ext_key);
		return fd;
	}
	if (e->kind == FD_KIND__FD_PIPE) {
		const struct rst_pipe *p = rst_find_pipe(t, e->pipe_id);

		fd = fcntl((e->flags & O_ACCMODE) == O_WRONLY ? p->fd_wr : p->fd_rd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return pr_perror("pid %u: fd %u: its pipe", pid, e->fd);
		return fd;
	}
	if (e->kind == FD_KIND__FD_UNIX) {
		int end = 0;
		const struct rst_unix *u = rst_find_unix(t, e->sk_id, &end);

		fd = fcntl(u ? u->fd[end] : rst_unixsk_find(t, e->sk_id)->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return pr_perror("pid %u: fd %u: its socket", pid, e->fd);
		return fd;
	}
	if (e->kind == FD_KIND__FD_INET) {
		fd = fcntl(rst_inetsk_find(t, e->sk_id)->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return pr_perror("pid %u: fd %u: its TCP socket", pid, e->fd);
		return fd;
	}
	if (rst_shared_file(t, e)) {
		fd = fcntl(rst_shared_file(t, e)->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return pr_perror("pid %u: fd %u: sharing '%s'", pid, e->fd, e->path);
		return fd;
	}
	if (rst_anonfd_kind(e))
		return rst_anonfd_open(t, pid, e);
	if (e->has_shmem_id)
		return rst_shmem_open_fd(t, pid, e);
	in = rst_inherited_file(t, e);
	return open_plain(pid, e, in < 0 ? -1 : inh ? inh[in] : t->opts->inherit_fds[in].fd);
}

int rst_open_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e)
{
	if (e->kind == FD_KIND__FD_EXTERNAL)
		return pr_err("pid %u: fd %u: a file outside the tree cannot be opened here", pid, e->fd),
		       -EINVAL;
	return open_fd(t, pid, e, NULL, -1);
}

static int place_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e, const int *inh, int tty)
{
	int fd = open_fd(t, pid, e, inh, tty);

	if (fd < 0)
		return fd;
	if ((uint32_t)fd == e->fd) {
		if (!(e->flags & O_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0)
			return pr_perror("pid %u: fd %u: F_SETFD", pid, e->fd);
		return 0;
	}
	if (dup3(fd, (int)e->fd, (int)(e->flags & O_CLOEXEC)) < 0) {
		int r = pr_perror("pid %u: fd %u: dup3", pid, e->fd);

		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* Returns the task's new sync fd, above every fd the task will have. */
/*
 * The task's fds at their numbers; every other fd is closed, the sync socket too: it is
 * moved above them first, to *ret_sync, which the task reports through, failure or not.
 */
static int restore_fds(const struct rst_tree *t, const struct rst_task *task, int *ret_sync)
{
	size_t n_inh = t->opts->n_inherit_fds;
	int base = fd_base(task),
	    keep[n_inh + 2 + 2 * t->n_pipes + 2 * t->n_unix + t->n_files + t->n_shmem +
		 rst_anonfd_fds(t, NULL) + t->n_unixsk + t->n_inetsk],
	    inh[n_inh + 1], sync_fd, tty = -1, r;
	size_t n_keep = 0, n_close;

	sync_fd = fcntl(t->sync_fd[1], F_DUPFD_CLOEXEC, base);
	if (sync_fd < 0)
		return pr_perror("moving the sync socket above fd %d", base);
	*ret_sync = sync_fd;
	keep[n_keep++] = sync_fd;
	for (size_t i = 0; i < n_inh; i++) {
		inh[i] = fcntl(t->opts->inherit_fds[i].fd, F_DUPFD_CLOEXEC, base);
		if (inh[i] < 0)
			return pr_perror("--inherit-fd fd[%d]", t->opts->inherit_fds[i].fd);
		keep[n_keep++] = inh[i];
	}
	if (t->shell_tty >= 0) {
		tty = fcntl(t->shell_tty, F_DUPFD_CLOEXEC, base);
		if (tty < 0)
			return pr_perror("duplicating the terminal");
		keep[n_keep++] = tty;
	}
	/* Pipes made by an ancestor (or us) sit above every task's fds: keep them all for now. */
	for (size_t i = 0; i < t->n_pipes; i++) {
		if (t->pipes[i].fd_rd >= 0)
			keep[n_keep++] = t->pipes[i].fd_rd;
		if (t->pipes[i].fd_wr >= 0)
			keep[n_keep++] = t->pipes[i].fd_wr;
	}
	for (size_t i = 0; i < t->n_unix; i++)
		for (int k = 0; k < 2; k++)
			if (t->unix_pairs[i].fd[k] >= 0)
				keep[n_keep++] = t->unix_pairs[i].fd[k];
	for (size_t i = 0; i < t->n_files; i++)
		if (t->files[i].fd >= 0)
			keep[n_keep++] = t->files[i].fd;
	/* Shared memory objects stay until the task's mappings are made: rst_shmem_close_in_task. */
	n_keep += rst_anonfd_fds(t, keep + n_keep); /* FIFO holders */
	n_keep += rst_unixsk_fds(t, keep + n_keep);
	n_keep += rst_inetsk_fds(t, keep + n_keep);
	n_close = n_keep;
	n_keep += rst_shmem_fds(t, keep + n_keep);
	r = close_others(base, keep, n_keep);
	if (r < 0)
		return r;
	for (size_t i = 0; i < task->n_fds; i++) {
		r = place_fd(t, task->pe->pid, task->fds[i], inh, tty);
		if (r < 0)
			return r;
	}
	for (size_t i = 1; i < n_close; i++)
		close(keep[i]);
	return 0;
}

static int restore_rlimits(const struct rst_task *task)
{
	for (size_t i = 0; i < task->core->n_rlimits; i++) {
		const RlimitEntry *e = task->core->rlimits[i];
		struct rlimit rl = {e->cur, e->max}, cur;

		if (e->resource >= RLIM_NLIMITS)
			continue;
		if (setrlimit((int)e->resource, &rl) == 0)
			continue;
		/* A hard limit above ours needs CAP_SYS_RESOURCE: keep ours, as close as allowed. */
		if (errno != EPERM || getrlimit((int)e->resource, &cur) < 0)
			return pr_perror("pid %u: setrlimit(%u)", task->pe->pid, e->resource);
		rl.rlim_max = cur.rlim_max;
		rl.rlim_cur = MIN(e->cur, cur.rlim_max);
		pr_warn("pid %u: limit %u: hard limit %" PRIu64 " lowered to %" PRIu64
			" (raising needs CAP_SYS_RESOURCE)",
			task->pe->pid, e->resource, (uint64_t)e->max, (uint64_t)cur.rlim_max);
		if (setrlimit((int)e->resource, &rl) < 0)
			return pr_perror("pid %u: setrlimit(%u)", task->pe->pid, e->resource);
	}
	return 0;
}

static int restore_fs_and_misc(const struct rst_task *task)
{
	const TaskCoreEntry *c = task->core;

	if (strcmp(c->root, "/") && chroot(c->root) < 0)
		return pr_perror("pid %u: chroot '%s'", task->pe->pid, c->root);
	if (chdir(c->cwd) < 0)
		return pr_perror("pid %u: chdir '%s'", task->pe->pid, c->cwd);
	umask((mode_t)c->umask & 0777);
	if (personality(c->personality) < 0)
		return pr_perror("pid %u: personality %#x", task->pe->pid, c->personality);
	if (c->threads[0]->comm && prctl(PR_SET_NAME, c->threads[0]->comm) < 0)
		return pr_perror("pid %u: PR_SET_NAME", task->pe->pid);
	return restore_rlimits(task);
}

static int create_pipe(struct rst_tree *t, struct rst_pipe *p)
{
	const PipeEntry *pe = p->pe;
	int fds[2], r = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return pr_perror("pipe %" PRIu64 ": pipe2", pe->id);
	if (fcntl(fds[1], F_SETPIPE_SZ, (int)pe->size) < 0)
		r = pr_perror("pipe %" PRIu64 ": F_SETPIPE_SZ %u", pe->id, pe->size);
	if (r == 0 && pe->has_data && pe->data.len) {
		r = write_all(fds[1], pe->data.data, pe->data.len);
		if (r < 0)
			pr_err_errno(r, "pipe %" PRIu64 ": writing its data back", pe->id);
	}
	if (r == 0 && pe->has_rd_flags && fcntl(fds[0], F_SETFL, (int)pe->rd_flags) < 0)
		r = pr_perror("pipe %" PRIu64 ": F_SETFL", pe->id);
	if (r == 0 && pe->has_wr_flags && fcntl(fds[1], F_SETFL, (int)pe->wr_flags) < 0)
		r = pr_perror("pipe %" PRIu64 ": F_SETFL", pe->id);
	/* An end that was closed everywhere is closed here too, once the data is in. */
	if (r == 0 && !pe->no_reader && (p->fd_rd = fcntl(fds[0], F_DUPFD_CLOEXEC, t->pipe_fd_base)) < 0)
		r = pr_perror("pipe %" PRIu64 ": moving it above fd %d", pe->id, t->pipe_fd_base);
	if (r == 0 && !pe->no_writer && (p->fd_wr = fcntl(fds[1], F_DUPFD_CLOEXEC, t->pipe_fd_base)) < 0)
		r = pr_perror("pipe %" PRIu64 ": moving it above fd %d", pe->id, t->pipe_fd_base);
	close(fds[0]);
	close(fds[1]);
	return r;
}

/* Queue len bytes for reading at the other end; never block: nobody reads them yet. */
static int unix_requeue(const UnixPairEntry *ue, int fd, const ProtobufCBinaryData *d)
{
	int want = (int)MIN(d->len * 4 + 65536, (size_t)INT_MAX / 2), old = 0;
	socklen_t sl = sizeof(old);

	/*
	 * Sent bytes count against the sender's SO_SNDBUF (unix(7)): raised to fit them, then put
	 * back (the kernel doubles what is set, socket(7)).
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &old, &sl) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0)
		return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": SO_SNDBUF", ue->id_a, ue->id_b);
	for (size_t off = 0; off < d->len;) {
		ssize_t n = send(fd, d->data + off, d->len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": queueing %zu bytes back", ue->id_a,
					 ue->id_b, d->len);
		off += (size_t)n;
	}
	old /= 2;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &old, sizeof(old)) < 0)
		return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": SO_SNDBUF", ue->id_a, ue->id_b);
	return 0;
}

static int create_unix(struct rst_tree *t, struct rst_unix *u)
{
	const UnixPairEntry *ue = u->ue;
	_cleanup_close_ int a = -EBADF, b = -EBADF;
	int sv[2], r = 0;

	if (socketpair(AF_UNIX, (int)ue->type | SOCK_CLOEXEC, 0, sv) < 0)
		return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": socketpair", ue->id_a, ue->id_b);
	a = sv[0];
	b = sv[1];
	/* What end a had queued to read was sent by end b, and the other way round. */
	if (ue->has_data_a && ue->data_a.len)
		r = unix_requeue(ue, b, &ue->data_a);
	if (r == 0 && ue->has_data_b && ue->data_b.len)
		r = unix_requeue(ue, a, &ue->data_b);
	if (r < 0)
		return r;
	if ((ue->has_flags_a && fcntl(a, F_SETFL, (int)ue->flags_a) < 0) ||
	    (ue->has_flags_b && fcntl(b, F_SETFL, (int)ue->flags_b) < 0))
		return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": F_SETFL", ue->id_a, ue->id_b);
	u->fd[0] = fcntl(a, F_DUPFD_CLOEXEC, t->pipe_fd_base);
	if (u->fd[0] >= 0)
		u->fd[1] = fcntl(b, F_DUPFD_CLOEXEC, t->pipe_fd_base);
	if (u->fd[0] < 0 || u->fd[1] < 0)
		return pr_perror("sockets %" PRIu64 "/%" PRIu64 ": moving them above fd %d", ue->id_a,
				 ue->id_b, t->pipe_fd_base);
	return 0;
}

static int create_files(struct rst_tree *t, size_t idx)
{
	for (size_t i = 0; i < t->n_files; i++) {
		struct rst_file *f = &t->files[i];
		int fd, in;

		if (f->creator != (int)idx || f->holders < 2)
			continue;
		/* the caller's fds are all still open here: restore_fds has not run yet */
		in = rst_inherited_file(t, f->fe);
		fd = rst_anonfd_kind(f->fe) ? rst_anonfd_open(t, t->tasks[idx].pe->pid, f->fe)
		     : f->fe->has_shmem_id  ? rst_shmem_open_fd(t, t->tasks[idx].pe->pid, f->fe)
					    : open_plain(t->tasks[idx].pe->pid, f->fe,
							 in >= 0 ? t->opts->inherit_fds[in].fd : -1);
		if (fd < 0)
			return fd;
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, t->pipe_fd_base);
		close(fd);
		if (f->fd < 0)
			return pr_perror("'%s': moving it above fd %d", f->fe->path, t->pipe_fd_base);
	}
	return 0;
}

/* Pipes, socketpairs and shared files this task creates are inherited by the children it forks next. */
static int create_pipes(struct rst_tree *t, size_t idx)
{
	int r = rst_anonfd_create(t, idx); /* FIFOs, before the shared files opened from them */

	if (r == 0)
		r = create_files(t, idx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_pipes; i++) {
		if (t->pipes[i].creator != (int)idx)
			continue;
		r = create_pipe(t, &t->pipes[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < t->n_unix; i++) {
		if (t->unix_pairs[i].creator != (int)idx)
			continue;
		r = create_unix(t, &t->unix_pairs[i]);
		if (r < 0)
			return r;
	}
	r = rst_unixsk_create(t, idx);
	return r < 0 ? r : rst_inetsk_create(t, idx);
}

static int make_session(const struct rst_task *task)
{
	const PstreeEntry *pe = task->pe;

	if (pe->sid == pe->pid) {
		if (setsid() < 0)
			return pr_perror("pid %u: setsid", pe->pid);
	} else if (pe->pgid == pe->pid) {
		if (setpgid(0, 0) < 0)
			return pr_perror("pid %u: setpgid", pe->pid);
	}
	return 0;
}

static int fork_children(struct rst_tree *t, size_t idx)
{
	for (size_t i = 0; i < t->n_tasks; i++) {
		if (t->tasks[i].parent != (int)idx)
			continue;
		int r = rst_fork_task(t, i);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A zombie: report, then end the way it had ended, and stay unreaped. Its parent is still
 * a paused restorer with SIGCHLD at its default, so nothing reaps it.
 */
static void __attribute__((noreturn)) zombie_main(struct rst_tree *t, const struct rst_task *task)
{
	const PstreeEntry *pe = task->pe;
	int status = (int)pe->exit_code;

	if (pe->pgid != pe->pid && pe->sid != pe->pid && rst_task_index(t, pe->pgid) >= 0 &&
	    setpgid(0, (pid_t)pe->pgid) < 0)
		pr_warn("zombie %u: could not join process group %u: %s", pe->pid, pe->pgid, strerror(errno));
	send_msg(t, t->sync_fd[1], pe->pid, 0, -1);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
		kill(getpid(), SIGKILL);
	}
	_exit(WEXITSTATUS(status));
}

static int __attribute__((noreturn)) task_main(struct rst_tree *t, size_t idx)
{
	struct rst_task *task = &t->tasks[idx];
	int r, sync_fd = t->sync_fd[1];

	/* Its fd 2 becomes the job's own: its errors go to the restorer, not into the job's files. */
	log_capture(task_error, sizeof(task_error));
	/* Default dispositions, flags and masks until the task's own are injected. */
	for (int sig = 1; sig < NSIG; sig++) {
		/* The raw syscall: glibc's sigaction() would add SA_RESTORER. */
		uint64_t ka[4] = {0, 0, 0, 0};

		syscall(__NR_rt_sigaction, sig, ka, NULL, 8UL);
	}
	r = make_session(task);
	if (r == 0 && task->pe->zombie)
		zombie_main(t, task);
	if (r == 0)
		r = create_pipes(t, idx);
	if (r == 0)
		r = fork_children(t, idx);
	if (r < 0) {
		send_msg(t, t->sync_fd[1], task->pe->pid, r, -1);
		_exit(1);
	}
	r = restore_fds(t, task, &sync_fd);
	if (r == 0)
		r = rst_anonfd_finish(t, task);
	if (r == 0)
		r = restore_fs_and_misc(task);
	if (r == 0)
		r = rst_locks_take(t, task);
	if (r < 0) {
		send_msg(t, sync_fd, task->pe->pid, r, -1);
		_exit(1);
	}
	send_msg(t, sync_fd, task->pe->pid, 0, sync_fd);
	for (;;)
		pause();
}

int rst_fork_task(struct rst_tree *t, size_t idx)
{
	struct rst_task *task = &t->tasks[idx];
	pid_t want = (pid_t)task->pe->pid;
	uint32_t exit_signal = task->core && task->core->has_exit_signal ? task->core->exit_signal : SIGCHLD;
	struct clone_args ca = {
		.exit_signal = exit_signal < 65 ? exit_signal : SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&want,
		.set_tid_size = 1,
	};
	long pid;

	fflush(NULL);
	pid = sys_clone3(&ca, sizeof(ca));
	if (pid == 0)
		task_main(t, idx);
	if (pid == -EEXIST)
		return pr_err("pid %d is already in use: cannot restore the task that had it", want), -EEXIST;
	if (pid < 0)
		return pr_err_errno((int)pid, "creating task %d (clone3 set_tid)", want);
	return 0;
}

static pid_t init_root;

static void init_forward(int sig)
{
	kill(init_root, sig);
}

static void init_signals(void)
{
	static const int fwd[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGUSR1,
				  SIGUSR2, SIGCONT, SIGALRM, SIGPWR};
	struct sigaction sa = {.sa_handler = init_forward, .sa_flags = SA_RESTART};

	for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaction(fwd[i], &sa, NULL);
}

/*
 * PID 1 of the new namespace. The kernel ignores signals PID 1 has no handler for, so it
 * forwards the usual ones to the root; it reaps re-parented orphans; when the root ends it
 * ends too, with the root's status, which takes the rest of the namespace with it.
 */
int rst_init_main(struct rst_tree *t)
{
	int r, status, dn;

	init_root = (pid_t)t->tasks[0].pe->pid;
	log_capture(task_error, sizeof(task_error)); /* reported to the restorer, like a task's */
	init_signals();
	r = t->opts->mount_proc ? pidns_mount_proc() : 0;
	if (r == 0)
		r = rst_fork_task(t, 0);
	if (r < 0) {
		send_msg(t, t->sync_fd[1], t->tasks[0].pe->pid, r, -1);
		return 1;
	}
	close_range(3, ~0u, 0);
	dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (dn >= 0) {
		dup2(dn, 0);
		dup2(dn, 1);
		dup2(dn, 2);
		close(dn);
	}
	prctl(PR_SET_NAME, "ckpt-init");
	for (;;) {
		pid_t p = waitpid(-1, &status, 0);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return 127;
		if (p != init_root)
			continue;
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		return 128 + WTERMSIG(status);
	}
}
