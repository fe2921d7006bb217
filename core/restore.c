/* SPDX-License-Identifier: MIT */
/*
 * ckpt_restore(): load and check every image, create the tree (in a new PID namespace under
 * a ckpt init unless no_pidns), seize each task, rebuild it by syscall injection, then
 * release all tasks together. Nothing writes to the images directory: a failed restore
 * leaves the images as they were, and kills whatever it had created.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include "imgdir.h"
#include "infect.h"
#include "log.h"
#include "proc.h"
#include "rst.h"
#include "seize.h"
#include "service.h"
#include "syscalls.h"

#define READY_TIMEOUT_MS 60000

static int own_gate(uint64_t *ret)
{
	struct proc_vma *v = NULL;
	size_t n = 0, ilen;
	const uint8_t *insn = arch_syscall_insn(&ilen);
	int r = proc_parse_smaps(getpid(), &v, &n);

	if (r < 0)
		return pr_err_errno(r, "reading our own mappings");
	r = -ENOTSUP;
	for (size_t i = 0; i < n && r < 0; i++) {
		if (!v[i].path || strcmp(v[i].path, "[vdso]"))
			continue;
		for (uint64_t a = v[i].start; a + ilen <= v[i].end; a++)
			if (!memcmp((const void *)(uintptr_t)a, insn, ilen)) {
				*ret = a;
				r = 0;
				break;
			}
	}
	proc_vmas_free(v, n);
	if (r < 0)
		pr_err("no syscall instruction in our own [vdso]");
	return r;
}

/* Receive one message; its sender's pid, as the kernel translated it for us, in *ret_pid. */
static int recv_msg(int fd, struct rst_msg *m, pid_t *ret_pid)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;
	int r;

	r = poll(&pfd, 1, READY_TIMEOUT_MS);
	if (r == 0)
		return pr_err("restored tasks did not report within %d s", READY_TIMEOUT_MS / 1000),
		       -ETIMEDOUT;
	if (r < 0)
		return pr_perror("waiting for restored tasks");
	n = recvmsg(fd, &mh, 0);
	if (n < 0)
		return pr_perror("receiving from restored tasks");
	if (n != sizeof(*m))
		return pr_err("restored tasks: short message"), -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*ret_pid = uc.pid;
			return 0;
		}
	return pr_err("restored tasks: message without credentials"), -EPROTO;
}

static int wait_ready(struct rst_tree *t)
{
	for (size_t got = 0; got < t->n_tasks;) {
		struct rst_msg m;
		pid_t pid = 0;
		int idx, r = recv_msg(t->sync_fd[0], &m, &pid);

		if (r < 0)
			return r;
		if (m.err < 0) {
			m.why[sizeof(m.why) - 1] = '\0';
			if (m.why[0])
				return pr_err("%s", m.why), m.err;
			return pr_err_errno(m.err, "restored task %u failed", m.ns_pid);
		}
		idx = rst_task_index(t, m.ns_pid);
		if (idx < 0 || t->tasks[idx].host_pid)
			return pr_err("restored tasks: unexpected message from pid %u", m.ns_pid), -EPROTO;
		t->tasks[idx].host_pid = pid;
		if (t->tasks[idx].pe->n_threads)
			t->tasks[idx].host_tids[0] = pid;
		t->tasks[idx].sync_fd = m.sync_fd;
		got++;
	}
	return 0;
}

static int seize_task(struct rst_task *task)
{
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;
	int status;

	if (ptrace(PTRACE_SEIZE, task->host_pid, 0, opts) < 0)
		return pr_perror("pid %u: seizing the restored task", task->pe->pid);
	task->seized = true;
	if (ptrace(PTRACE_INTERRUPT, task->host_pid, 0, 0) < 0)
		return pr_perror("pid %u: interrupting the restored task", task->pe->pid);
	for (;;) {
		status = seize_wait_stop(task->host_pid);
		if (status < 0)
			return pr_err_errno(status, "pid %u: restored task died", task->pe->pid);
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (ptrace(PTRACE_CONT, task->host_pid, 0, 0) < 0)
			return pr_perror("pid %u: continuing", task->pe->pid);
	}
}

/*
 * The task is a fork of us and inherited glibc's rseq registration of our thread; the kernel
 * would go on writing to that address after the address space is replaced.
 */
static int unregister_rseq(struct rst_inject *in)
{
	struct ckpt_rseq_config rc;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, in->tid, sizeof(rc), &rc) != sizeof(rc) ||
	    !rc.rseq_abi_pointer)
		return 0;
	return rst_syscall_ok(in, "unregistering rseq", __NR_rseq, rc.rseq_abi_pointer, rc.rseq_abi_size,
			      1 /* RSEQ_FLAG_UNREGISTER */, rc.signature, 0, 0, NULL);
}

static int rebuild_task(struct rst_tree *t, struct rst_task *task)
{
	struct rst_inject in = {.tid = task->host_pid, .gate = t->gate};
	uint64_t all = ~0ull;
	int r;

	r = seize_task(task);
	if (r < 0)
		return r;
	if (ptrace(PTRACE_SETSIGMASK, task->host_pid, sizeof(all), &all) < 0)
		return pr_perror("pid %u: blocking signals", task->pe->pid);
	r = arch_gpregs_get(task->host_pid, &in.base);
	if (r == 0)
		r = rst_syscall_ok(&in, "closing the sync socket", __NR_close, (uint64_t)task->sync_fd, 0, 0,
				   0, 0, 0, NULL);
	if (r == 0)
		r = unregister_rseq(&in);
	if (r == 0)
		r = rst_mm_rebuild(t, task, &in);
	if (r == 0)
		r = rst_locks_take_posix(&in, task);
	if (r == 0)
		r = rst_state_restore(t, task, &in);
	return r;
}

static void release_all(struct rst_tree *t)
{
	/* Queued while still traced: a stopped task stops again before any instruction runs. */
	for (size_t i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].seized && t->tasks[i].core->has_stopped && t->tasks[i].core->stopped)
			kill(t->tasks[i].host_pid, SIGSTOP);
	for (size_t i = 0; i < t->n_tasks; i++)
		for (size_t k = 0; k < t->tasks[i].pe->n_threads && t->tasks[i].seized; k++)
			if (t->tasks[i].host_tids[k] > 0 &&
			    ptrace(PTRACE_DETACH, t->tasks[i].host_tids[k], 0, 0) < 0)
				pr_warn("thread %d: detach: %s", t->tasks[i].host_tids[k], strerror(errno));
}

/*
 * Undo a failed restore. Every task dies; the ones we trace must be waited for by us first
 * (threads before their group leader), or they stay zombies their parents, and so the ns
 * init, wait for forever.
 */
static void kill_all(struct rst_tree *t, pid_t child)
{
	for (size_t i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].host_pid > 0)
			kill(t->tasks[i].host_pid, SIGKILL);
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct rst_task *task = &t->tasks[i];

		for (size_t k = task->pe->n_threads; task->seized && k-- > 0;)
			if (task->host_tids[k] > 0)
				waitpid(task->host_tids[k], NULL, __WALL);
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, __WALL);
	}
}

/* Written whole under a temporary name, then renamed: a reader never sees half a pid. */
static int write_pidfile(const char *path, pid_t pid)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", pid), r;

	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return pr_perror("cannot write pidfile '%s'", tmp);
	r = write_all(fd, buf, (size_t)n);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return pr_err_errno(r, "cannot write pidfile '%s'", path);
	}
	return 0;
}

/* Create the tree: returns our direct child (the ns init, or the root with no_pidns). */
static int create_tree(struct rst_tree *t, pid_t *ret_child)
{
	struct clone_args ca = {.flags = CLONE_NEWPID, .exit_signal = SIGCHLD};
	long pid;
	int r;

	if (t->opts->no_pidns) {
		r = rst_fork_task(t, 0);
		if (r < 0)
			return r;
		*ret_child = 0; /* known once it reports */
		return 0;
	}
	fflush(NULL);
	pid = sys_clone3(&ca, sizeof(ca));
	if (pid == 0) {
		close(t->sync_fd[0]);
		_exit(rst_init_main(t));
	}
	if (pid < 0)
		return pr_err_errno((int)pid, "creating a PID namespace");
	*ret_child = (pid_t)pid;
	return 0;
}

static int wait_child(pid_t child, int *ret_status)
{
	int status;

	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return pr_perror("waiting for pid %d", child);
	*ret_status = status;
	return 0;
}

static int do_restore(struct rst_tree *t, pid_t *ret_pid, int *ret_status)
{
	pid_t child = 0;
	int r, one = 1;

	r = own_gate(&t->gate);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, t->sync_fd) < 0)
		return pr_perror("socketpair");
	if (setsockopt(t->sync_fd[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return pr_perror("SO_PASSCRED");
	r = rst_shmem_create(t);
	if (r == 0)
		r = create_tree(t, &child);
	closep(&t->sync_fd[1]);
	if (r == 0)
		r = wait_ready(t);
	pr_debug("restore: %zu task(s) created and ready", t->n_tasks);
	if (t->opts->no_pidns)
		child = t->tasks[0].host_pid;
	for (size_t i = 0; i < t->n_tasks && r == 0; i++)
		if (!t->tasks[i].pe->zombie)
			r = rebuild_task(t, &t->tasks[i]);
	/* Every task has mapped the shared objects: last seals, removed segments, our fds. */
	r = rst_shmem_finish(t, r == 0) ?: r;
	if (r < 0) {
		kill_all(t, child);
		return r;
	}
	pr_debug("restore: all tasks rebuilt; releasing them");
	release_all(t);
	*ret_pid = t->tasks[0].host_pid;
	if (t->opts->pidfile) {
		r = write_pidfile(t->opts->pidfile, *ret_pid);
		if (r < 0)
			return r;
	}
	pr_info("restored %zu task(s) in %.3f s; root pid %u is %d here", t->n_tasks,
		(double)(now_ns(CLOCK_MONOTONIC) - t->t_start) / 1e9, t->tasks[0].pe->pid, *ret_pid);
	if (t->opts->detach)
		return 0;
	return wait_child(child, ret_status);
}

static int find_tty(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

_public_ int ckpt_restore(const struct ckpt_restore_opts *opts, pid_t *ret_pid, int *ret_status)
{
	struct rst_tree t = {.opts = opts,
			     .sync_fd = {-EBADF, -EBADF},
			     .shell_tty = -1,
			     .t_start = now_ns(CLOCK_MONOTONIC)};
	_cleanup_close_ int dirfd = -EBADF;
	pid_t pid = 0;
	int status = 0, r;

	if (!opts || opts->sz < sizeof(*opts) || !opts->images_dir)
		return pr_err("ckpt_restore: bad options"), -EINVAL;
	if (opts->mount_proc && opts->no_pidns)
		return pr_err("--mount-proc needs a new PID namespace (no --no-pidns)"), -EINVAL;
	if (opts->service)
		return service_restore(opts, ret_pid);
	if (opts->shell_job)
		t.shell_tty = find_tty();
	r = imgdir_open_for_restore(opts->images_dir, &dirfd);
	if (r < 0)
		return r;
	r = rst_load(&t, dirfd);
	if (r == 0)
		pr_debug("restore: images of '%s' loaded and checked", opts->images_dir);
	if (r == 0)
		r = savedfiles_restore(dirfd, t.saved, t.n_saved);
	if (r == 0)
		r = do_restore(&t, &pid, &status);
	closep(&t.sync_fd[0]);
	closep(&t.sync_fd[1]);
	rst_free(&t);
	if (r < 0)
		return r;
	if (ret_pid)
		*ret_pid = pid;
	if (ret_status)
		*ret_status = status;
	return 0;
}
