/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "imgdir.h"
#include "log.h"
#include "rpc.pb-c.h"
#include "runner.h"
#include "syscalls.h"

enum { MSG_LOG = 1, MSG_RESULT = 2 };

#define RUN_WHY_MAX 1024
#define RUN_LOG_MAX 4096

struct run_log {
	int32_t kind;
	int32_t level;
	char text[RUN_LOG_MAX];
};

struct run_result {
	int32_t kind;
	int32_t r;
	int32_t pid;
	struct ckpt_dump_stats stats;
	char why[RUN_WHY_MAX]; /* set for a refusal; else the last error logged says why */
};

/* ---- the job process ---- */

static int report_fd = -EBADF;

static void child_log(int level, const char *msg, void *userdata)
{
	struct run_log m = {.kind = MSG_LOG, .level = level};
	size_t n = strnlen(msg, sizeof(m.text) - 1);

	memcpy(m.text, msg, n);
	(void)send(report_fd, &m, offsetof(struct run_log, text) + n, MSG_NOSIGNAL);
}

static void set_why(struct run_result *res, char *why)
{
	if (why)
		snprintf(res->why, sizeof(res->why), "%s", why);
	free(why);
}

/* Switch the file-system identity (and groups) to the caller's, or back to ours (p NULL). */
static int fs_identity(const struct peer *p)
{
	if (setgroups(p ? p->n_groups : 0, p ? p->groups : NULL) < 0)
		return pr_perror("setgroups");
	/* setfsuid(2) reports no error: call it twice and compare to tell. */
	setfsgid(p ? p->gid : 0);
	setfsuid(p ? p->uid : 0);
	if ((uid_t)setfsuid((uid_t)-1) != (p ? p->uid : 0) || (gid_t)setfsgid((gid_t)-1) != (p ? p->gid : 0))
		return pr_err("cannot switch the file-system identity"), -EPERM;
	return 0;
}

static bool dir_is_empty(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool empty = true;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/*
 * The images directory of a user's dump. It is created with his file-system identity, so
 * that the kernel checks he may write in its parent; an existing one must be his and empty.
 * Then it is handed to the service account, mode 0700: he must not edit images that root
 * may restore, and they hold process memory.
 */
static int user_images_dir(const struct job *job, int *ret_fd, struct run_result *res)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r, e = 0, created;

	r = fs_identity(&job->peer);
	if (r < 0)
		return r;
	created = mkdir(job->images_dir, 0700) == 0;
	if (!created)
		e = errno;
	fd = open(job->images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && !e)
		e = errno;
	r = fs_identity(NULL);
	if (r < 0)
		return r;
	if (fd < 0 || (e && e != EEXIST)) {
		snprintf(res->why, sizeof(res->why), "cannot create images directory '%s' as uid %u: %s",
			 job->images_dir, (unsigned int)job->peer.uid, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0)
		return pr_perror("stat of '%s'", job->images_dir);
	if (!created && (st.st_uid != job->peer.uid || !dir_is_empty(fd))) {
		snprintf(res->why, sizeof(res->why),
			 "images directory '%s' exists and is not an empty one of yours", job->images_dir);
		return -EPERM;
	}
	if (fchown(fd, job->owner_uid, job->owner_gid) < 0 || fchmod(fd, 0700) < 0)
		return pr_perror("handing '%s' to uid %u", job->images_dir, (unsigned int)job->owner_uid);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The root the checks saw is still alive: its pid cannot have been given to another process. */
static int still_alive(int pidfd, pid_t pid, struct run_result *res)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	if (poll(&pfd, 1, 0) != 0) {
		snprintf(res->why, sizeof(res->why), "pid %d ended during the checks", pid);
		return -ESRCH;
	}
	return 0;
}

/*
 * A user's dump is checked three times. Before it is queued (rpc.c), here just before the
 * engine seizes the tree, and on the images it wrote. The first two read /proc and race with
 * the tree: a task can exec a set-uid program after the check, and the root could end and
 * its pid be reused. A pidfd held across the checks rules out the reuse of the root's pid;
 * the check of the images covers the rest, since they hold exactly the credentials of what
 * was frozen: when it fails the images are removed. The tree itself was the caller's to
 * signal either way (a set-uid program he started keeps his real uid), so stopping or
 * ending it gives him nothing he could not do.
 */
/* Set by SIGTERM from kill_job(): the engine stops at its next safe point (-ECANCELED). */
static volatile int child_cancel;

static void on_cancel(int sig)
{
	(void)sig;
	child_cancel = 1;
}

static int child_dump(const struct job *job, struct run_result *res)
{
	_cleanup_close_ int pidfd = -EBADF, dirfd = -EBADF;
	struct ckpt_dump_opts o = {
		.sz = sizeof(o),
		.pid = job->pid,
		.images_dir = job->images_dir,
		.leave_running = job->leave_running,
		.leave_stopped = job->leave_stopped,
		.shell_job = job->shell_job,
		.freeze_cgroup = job->freeze_cgroup,
		.cancel = &child_cancel,
		.save_paths = (const char *const *)job->save_paths,
		.file_locks = job->file_locks,
	};
	struct sigaction sa = {.sa_handler = on_cancel, .sa_flags = SA_RESTART};
	char path[64];
	char *why = NULL;
	int r;

	if (!job->privileged) {
		pidfd = sys_pidfd_open(job->pid, 0);
		if (pidfd < 0) {
			snprintf(res->why, sizeof(res->why), "no process %d", job->pid);
			return pidfd;
		}
		r = auth_dump_tree(&job->peer, job->pid, &why);
		set_why(res, why);
		if (r == 0)
			r = user_images_dir(job, &dirfd, res);
		if (r == 0)
			r = still_alive(pidfd, job->pid, res);
		if (r < 0)
			return r;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
		o.images_dir = path;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	r = ckpt_dump(&o, &res->stats);
	if (r < 0 || job->privileged)
		return r;
	r = auth_image_creds(&job->peer, dirfd, &why);
	set_why(res, why);
	if (r < 0) {
		pr_warn("the images of pid %d hold credentials that are not uid %u's: removed", job->pid,
			(unsigned int)job->peer.uid);
		imgdir_remove_images(dirfd);
	}
	return r;
}

/*
 * A user's restore: the directory is opened once, its owner and that of every image checked,
 * then the credentials of every task; the engine is given /proc/self/fd/N, so that what it
 * reads is what was checked even if a path on the way is changed meanwhile.
 */
static int child_restore(struct job *job, struct run_result *res)
{
	_cleanup_close_ int dirfd = -EBADF;
	struct ckpt_restore_opts o = {
		.sz = sizeof(o),
		.images_dir = job->images_dir,
		.detach = true,
		.pidfile = job->pidfile,
	};
	char path[64];
	char *why = NULL;
	pid_t pid = 0;
	int r, status = 0;

	if (!job->privileged) {
		dirfd = open(job->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			r = -errno;
			snprintf(res->why, sizeof(res->why), "cannot open images directory '%s': %s",
				 job->images_dir, strerror(-r));
			return r;
		}
		r = auth_image_owner(dirfd, job->owner_uid, &why);
		set_why(res, why);
		if (r == 0) {
			r = auth_image_creds(&job->peer, dirfd, &why);
			set_why(res, why);
		}
		if (r < 0)
			return r;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
		o.images_dir = path;
	}
	r = ckpt_restore(&o, &pid, &status);
	res->pid = pid;
	return r;
}

static _Noreturn void child_main(struct job *job, int fd)
{
	struct run_result res = {.kind = MSG_RESULT};
	sigset_t none;

	/* The daemon blocks its signals and ignores SIGPIPE: the job and the trees it makes must not. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Out of the daemon's session: a ^C to a foreground ckptd must not end a dump halfway. */
	setsid();
	report_fd = fd;
	ckpt_set_log_fn(child_log, NULL);
	/* Nothing of the daemon (listening socket, clients, epoll) is the job's business. */
	if (fd > 3)
		close_range(3, (unsigned int)fd - 1, 0);
	close_range((unsigned int)fd + 1, ~0u, 0);
	prctl(PR_SET_NAME, job->type == RPC_REQ_TYPE__RPC_DUMP ? "ckptd-dump" : "ckptd-restore");
	res.r = job->type == RPC_REQ_TYPE__RPC_DUMP ? child_dump(job, &res) : child_restore(job, &res);
	(void)send(fd, &res, sizeof(res), MSG_NOSIGNAL);
	_exit(0);
}

/* ---- the worker's side ---- */

struct run_reader {
	struct job *job;
	struct run_result res;
	bool have_result;
	char last_error[RUN_LOG_MAX];
};

static void on_packet(struct run_reader *rd, const void *buf, size_t n)
{
	const struct run_log *m = buf;
	int32_t kind;

	if (n < sizeof(kind))
		return;
	memcpy(&kind, buf, sizeof(kind));
	if (kind == MSG_RESULT && n == sizeof(rd->res)) {
		memcpy(&rd->res, buf, n);
		rd->res.why[sizeof(rd->res.why) - 1] = '\0';
		rd->have_result = true;
	} else if (kind == MSG_LOG && n >= offsetof(struct run_log, text) && n < sizeof(*m)) {
		int level = MIN(MAX(m->level, CKPT_LOG_ERROR), CKPT_LOG_DEBUG);
		int len = (int)(n - offsetof(struct run_log, text));

		ckpt_log(level, "job %" PRIu64 ": %.*s", rd->job->id, len, m->text);
		if (level == CKPT_LOG_ERROR)
			snprintf(rd->last_error, sizeof(rd->last_error), "%.*s", len, m->text);
	}
}

static bool read_one(int fd, struct run_reader *rd, char *buf, size_t size, int flags)
{
	ssize_t n;

	do
		n = recv(fd, buf, size, flags);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	on_packet(rd, buf, (size_t)n);
	return true;
}

/*
 * Read until the result, or until the job process ends. Not until the end of the socket: the
 * tasks a restore creates are forked by the job process and may hold its end for a while.
 */
static void read_reports(int fd, int pidfd, struct run_reader *rd)
{
	size_t size = sizeof(struct run_log) + sizeof(struct run_result);
	_cleanup_free_ char *buf = malloc(size);

	if (!buf)
		return;
	while (!rd->have_result) {
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents & POLLIN) {
			if (!read_one(fd, rd, buf, size, MSG_DONTWAIT))
				return;
			continue;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR) || pfd[1].revents)
			break;
	}
	/* Ended: what it sent before is still queued. */
	while (!rd->have_result && read_one(fd, rd, buf, size, MSG_DONTWAIT))
		;
}

/*
 * A cancelled dump's process was killed before it could remove what it wrote: the images
 * of a directory without inventory.img (so no complete checkpoint) go. Only for root and the
 * service account, whose path it is as much as the engine's; a user's directory is left (the
 * next dump into it starts over), its path being his to redirect.
 */
static void remove_partial_images(const struct job *job)
{
	_cleanup_close_ int dfd = -EBADF;

	if (!job->privileged || job->type != RPC_REQ_TYPE__RPC_DUMP)
		return;
	dfd = open(job->images_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || faccessat(dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return;
	imgdir_remove_images(dfd);
}

static void set_outcome(struct job *job, const struct run_reader *rd, int status)
{
	const char *why;

	if (!rd->have_result && pool_job_cancelled(job)) {
		job->error = ECANCELED;
		job->message = strdup("cancelled while running: the tree was let go and runs on");
		remove_partial_images(job);
		return;
	}
	if (!rd->have_result) {
		job->error = EIO;
		if (asprintf(&job->message, "the job's process ended (status 0x%x) without an answer",
			     status) < 0)
			job->message = NULL;
		return;
	}
	job->stats = rd->res.stats;
	if (job->type == RPC_REQ_TYPE__RPC_RESTORE && rd->res.r >= 0)
		job->pid = rd->res.pid;
	if (rd->res.r >= 0)
		return;
	job->error = -rd->res.r;
	why = rd->res.why[0] ? rd->res.why : rd->last_error[0] ? rd->last_error : strerror(job->error);
	job->message = strdup(why);
	if (job->error == EPERM)
		pr_warn("job %" PRIu64 ": refused for uid %u (pid %d): %s", job->id,
			(unsigned int)job->peer.uid, (int)job->peer.pid, why);
}

void runner_run(struct job *job)
{
	struct run_reader *rd = calloc(1, sizeof(*rd));
	int sp[2], status = 0;
	pid_t pid;

	if (!rd || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		job->error = rd ? errno : ENOMEM;
		job->message = strdup("cannot start the job's process");
		free(rd);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		child_main(job, sp[1]);
	}
	close(sp[1]);
	rd->job = job;
	if (pid > 0) {
		int pidfd = sys_pidfd_open(pid, 0);

		if (pidfd >= 0) {
			pool_job_process(job, pidfd);
			read_reports(sp[0], pidfd, rd);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (pidfd >= 0) {
			pool_job_process(job, -EBADF);
			close(pidfd);
		}
	} else {
		pr_perror("job %" PRIu64 ": fork", job->id);
	}
	close(sp[0]);
	set_outcome(job, rd, status);
	free(rd);
}
