/* SPDX-License-Identifier: MIT */
/*
 * libckpt: checkpoint and restore of process trees.
 *
 * Every entry point takes an options struct whose first member is its size (set it with
 * sizeof), so that the library can grow the struct without breaking callers. Functions
 * return 0 (or a positive value) on success and a negative errno on failure; the reason is
 * reported through the log callback.
 */
#ifndef CKPT_H
#define CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_VERSION "0.1.0"

enum ckpt_log_level {
	CKPT_LOG_ERROR = 0,
	CKPT_LOG_WARN = 1,
	CKPT_LOG_INFO = 2,
	CKPT_LOG_DEBUG = 3,
};

/* Receives every message at or below the level set; msg has no trailing newline. */
typedef void (*ckpt_log_fn)(int level, const char *msg, void *userdata);
void ckpt_set_log_fn(ckpt_log_fn fn, void *userdata);
void ckpt_set_log_level(int level);

/* An fd of the caller handed to the restored tree in place of an external one. */
struct ckpt_inherit_fd {
	int fd;		 /* the caller's fd */
	const char *key; /* the external object's key as `ckpt show` prints it, e.g. "pipe:[1234]" */
};

struct ckpt_service;

struct ckpt_dump_opts {
	size_t sz;		   /* sizeof(struct ckpt_dump_opts) */
	pid_t pid;		   /* root of the tree: it and its descendants are dumped */
	const char *images_dir;	   /* created (0700) when missing */
	bool leave_running;	   /* -R: resume the tree after the dump */
	bool leave_stopped;	   /* -s: leave the tree stopped (SIGSTOP) after the dump */
	bool shell_job;		   /* the root's session and tty are outside the tree */
	const char *freeze_cgroup; /* freeze this cgroup (v1 freezer or v2) around the dump */
	/*
	 * When *cancel becomes non-zero (e.g. from a signal handler), the dump stops at its next
	 * safe point, releases the tree as it was and fails with -ECANCELED. Killing the dumping
	 * process instead may catch a thread while it runs a syscall for us.
	 */
	const volatile int *cancel;
	/*
	 * NULL-terminated list of paths: a regular file open in the tree whose path equals an
	 * entry, or starts with an entry that ends in '/', is saved with the image (its content
	 * up to its size, read while the tree is frozen) and put back at restore, created or
	 * cut to that size, before the tree is rebuilt. For a job's output files and node-local
	 * scratch files.
	 */
	const char *const *save_paths;
	/*
	 * Dump the flock, POSIX and OFD locks held through the tree's fds (refused without);
	 * a lock an outside process holds on the same file is refused: the restore would
	 * conflict with it. Leases and delegations are refused in any case.
	 */
	bool file_locks;
	/*
	 * A unix socket connected to a peer outside the tree is recorded with the peer's address
	 * and connected again at restore to whatever is bound there then (without: an external
	 * fd to hand in with --inherit-fd).
	 */
	bool ext_unix_sk;
	/*
	 * Dump TCP sockets (IPv4, IPv6): established connections in repair mode (TCP_REPAIR),
	 * with their sequence numbers and queued data, listening ones without connections
	 * waiting to be accepted, and unconnected ones (refused without). An established
	 * socket stays in repair mode until the tree is released: a killed tree closes it
	 * without a packet to its peer; with leave_running or leave_stopped it leaves repair
	 * mode without sending anything. Needs CAP_NET_ADMIN.
	 */
	bool tcp_established;
	/*
	 * NULL: the dump runs in this process. A connection from ckpt_service_open(): ckptd
	 * runs it (it must be allowed to: see ckptd(8)); cancel, save_paths, file_locks,
	 * ext_unix_sk and tcp_established cannot go that way (-EOPNOTSUPP).
	 */
	struct ckpt_service *service;
};

struct ckpt_dump_stats {
	uint32_t nr_tasks;
	uint32_t nr_threads;
	uint64_t frozen_ns; /* from the first seize to the release */
	uint64_t total_ns;
	uint64_t pages_written;
	uint64_t bytes_written; /* all image files */
};

int ckpt_dump(const struct ckpt_dump_opts *opts, struct ckpt_dump_stats *ret_stats);

struct ckpt_restore_opts {
	size_t sz; /* sizeof(struct ckpt_restore_opts) */
	const char *images_dir;
	bool detach;	     /* -d: return once the tree runs */
	bool no_pidns;	     /* restore into the caller's PID namespace */
	bool shell_job;	     /* give the tree the caller's terminal and session */
	const char *pidfile; /* written with the host pid of the restored root */
	/*
	 * Keys are those `ckpt show` prints for external objects ("pipe:[1234]", "/dev/pts/3"),
	 * or "file:PATH" for a regular file open in the tree at PATH: the fd given replaces it
	 * (it is set to the recorded offset), e.g. a file whose path differs on this node.
	 */
	const struct ckpt_inherit_fd *inherit_fds;
	size_t n_inherit_fds;
	/*
	 * With check_owner, refuse images whose tasks' credentials are not exactly owner_uid
	 * and owner_gid (real, effective, saved, fs), whose supplementary groups are not
	 * among owner_groups (and owner_gid), or that hold any capability in their effective,
	 * permitted, inheritable or ambient sets while owner_uid is not 0: a restore run with
	 * privilege never gives a job more than its owner had.
	 */
	bool check_owner;
	uid_t owner_uid;
	gid_t owner_gid;
	const gid_t *owner_groups;
	size_t n_owner_groups;
	/* With a new PID namespace: also a new mount namespace where /proc shows that one. */
	bool mount_proc;
	/* Take the file locks of the images again (images with locks are refused without). */
	bool file_locks;
	/* Rebuild the TCP sockets of a dump with tcp_established (refused without). */
	bool tcp_established;
	/*
	 * NULL: restore in this process. A connection from ckpt_service_open(): ckptd restores
	 * (detach must be set; no_pidns, shell_job, inherit_fds, check_owner, mount_proc,
	 * file_locks and tcp_established cannot go that way: -EOPNOTSUPP). ckptd gives a user's tree the
	 * credentials the images record, and refuses images that are not the caller's.
	 */
	struct ckpt_service *service;
};

/*
 * Restore the tree of images_dir. With detach, returns once it runs, *ret_pid the host pid
 * of its root. Without, waits for the root to end and stores its wait status in
 * *ret_status.
 */
int ckpt_restore(const struct ckpt_restore_opts *opts, pid_t *ret_pid, int *ret_status);

/* One kernel feature ckpt relies on or can use. */
struct ckpt_feature {
	const char *name;
	bool present;
	bool required; /* dump/restore cannot work without it */
	const char *detail;
};

/*
 * Probe the kernel and CPU (once; cached). *ret points at a static table of *ret_n entries.
 * Returns 0 when every required feature is present, -ENOTSUP otherwise.
 */
int ckpt_check(const struct ckpt_feature **ret, size_t *ret_n);

/*
 * ckptd(8), the node's daemon, as a second transport for the same operations: open a
 * connection and put it in the options' service field; ckpt_dump() and ckpt_restore() then
 * send the request and return the daemon's answer (its reason for a failure goes to the log
 * callback, as a local failure's does).
 *
 * address: the daemon's unix socket ("/run/ckptd.sock"), or "tcp://HOST:PORT"
 * ("tcp://[IPV6]:PORT") for its TCP listener on another node; each request then carries a
 * munge credential for the caller's uid from munged (its default socket, or the one given
 * to ckpt_service_set_munge_socket()). Credential errors: -EKEYEXPIRED, -EKEYREJECTED (a
 * replay), -EACCES, -EHOSTDOWN (munged is down). A connection serves one thread at a time.
 */
int ckpt_service_open(const char *address, struct ckpt_service **ret);
int ckpt_service_set_munge_socket(struct ckpt_service *s, const char *path);
/* Wait at most ms for an answer (0: forever, the default; a dump can take minutes). */
int ckpt_service_set_timeout(struct ckpt_service *s, unsigned int ms);
void ckpt_service_close(struct ckpt_service *s);

/* The daemon's version (malloc'ed) and protocol number. */
int ckpt_service_version(struct ckpt_service *s, char **ret_version, uint32_t *ret_protocol);
/*
 * ckpt_check() on the daemon's node: *ret gets a table of *ret_n features to free with
 * ckpt_service_features_free(); the return value is ckpt_check()'s.
 */
int ckpt_service_check(struct ckpt_service *s, struct ckpt_feature **ret, size_t *ret_n);
void ckpt_service_features_free(struct ckpt_feature *features, size_t n);
/* Cancel a queued job or a running dump of the daemon (ids as `ckpt status` shows them). */
int ckpt_service_cancel(struct ckpt_service *s, uint64_t job_id);

#ifdef __cplusplus
}
#endif
#endif
