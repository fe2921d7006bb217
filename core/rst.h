/* SPDX-License-Identifier: MIT */
/* Restore: the images loaded in memory, and the steps that turn them back into a tree. */
#ifndef CKPT_RST_H
#define CKPT_RST_H

#include "arch.h"
#include "ckpt.h"
#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "shmem.pb-c.h"
#include "inetsk.pb-c.h"
#include "unixsk.pb-c.h"
#include "savedfiles.h"

struct rst_task {
	PstreeEntry *pe;
	TaskCoreEntry *core;
	MmEntry *mm;
	FdEntry **fds;
	size_t n_fds;
	PagemapEntry **pm;
	size_t n_pm;
	const uint8_t *pages; /* the pages file, mapped read-only */
	size_t pages_len;
	int parent;	  /* index in rst_tree.tasks, -1 for the root */
	pid_t host_pid;	  /* known once the task reported ready */
	pid_t *host_tids; /* [n_threads], filled while threads are created */
	int sync_fd;	  /* the task's fd of the sync socket */
	bool seized;
};

struct rst_pipe {
	PipeEntry *pe;
	int creator;	  /* the task that creates it: the nearest common ancestor of its holders */
	int fd_rd, fd_wr; /* its ends in the creator, inherited by the creator's descendants */
};

/* A unix socketpair held at both ends in the tree: made like a pipe, by a common ancestor. */
struct rst_unix {
	UnixPairEntry *ue;
	int creator;
	int fd[2]; /* end a (ue->id_a) and end b in the creator, inherited by its descendants */
};

/* A unix socket of unixsk-sk.img: all are made by one task (rst-unixsk.c), inherited below it. */
struct rst_unixsk {
	UnixSkEntry *se;
	int fd; /* in the creator, above pipe_fd_base once made */
};

/* A TCP socket of inetsk.img: all are made by one task (rst-inetsk.c), inherited below it. */
struct rst_inetsk {
	InetSkEntry *se;
	int fd; /* in the creator, above pipe_fd_base once made */
};

/* An open file several fds share (dup, fork): opened once, like a pipe, by a common ancestor. */
struct rst_file {
	const FdEntry *fe; /* the first fd of it: path, flags, offset */
	uint32_t id;
	int creator;
	int holders; /* fds of the tree that share it */
	int fd;
};

struct rst_tree {
	const struct ckpt_restore_opts *opts;
	int dirfd;
	InventoryEntry *inv;
	PstreeEntry **pstree;
	size_t n_pstree;
	struct rst_task *tasks; /* tasks[0] is the root; parents before children */
	size_t n_tasks;
	uint64_t gate;	  /* a syscall instruction in our own [vdso]: forks have it too */
	int sync_fd[2];	  /* datagrams from tasks to us: [0] ours, [1] theirs */
	int shell_tty;	  /* our terminal fd for --shell-job, or -1 */
	uint64_t t_start; /* CLOCK_MONOTONIC when ckpt_restore() began */
	struct rst_pipe *pipes;
	size_t n_pipes;
	int pipe_fd_base; /* above every fd number any task will have */
	struct rst_unix *unix_pairs;
	size_t n_unix;
	struct rst_file *files;
	size_t n_files;
	struct rst_unixsk *unixsk; /* unixsk-sk.img */
	size_t n_unixsk;
	int unixsk_creator;	   /* the nearest common ancestor of their holders */
	struct rst_inetsk *inetsk; /* inetsk.img */
	size_t n_inetsk;
	int inetsk_creator;
	struct rst_shmem *shmem; /* shmem.img: rst-shmem.c */
	size_t n_shmem;
	struct saved_file *saved; /* savedfiles.img: put back before the tree is built */
	size_t n_saved;
	struct rst_fifo *fifos; /* fifo.img: rst-fifo.c */
	size_t n_fifos;
	struct rst_anon *anon; /* anonfd.img: rst-anonfd.c */
	size_t n_anon;
	FdEntry **scm; /* scm.img: files in flight in unix sockets, scm[i]->fd == i */
	size_t n_scm;
};

/* rst-images.c: load everything and check it before any process is created. */
int rst_load(struct rst_tree *t, int dirfd);
void rst_free(struct rst_tree *t);
int rst_task_index(const struct rst_tree *t, uint32_t ns_pid);
struct rst_pipe *rst_find_pipe(const struct rst_tree *t, uint64_t id);
/* The socketpair one of whose ends is socket id; *ret_end is 0 for end a, 1 for end b. */
struct rst_unix *rst_find_unix(const struct rst_tree *t, uint64_t id, int *ret_end);
/* The shared open file of fd e, or NULL when e is its only fd. */
struct rst_file *rst_shared_file(const struct rst_tree *t, const FdEntry *e);
/* Check an fd record (pid 0: a file in flight, scm.img). */
int rst_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
/* Count task as a holder of e's open file (file_id), made by the common ancestor of all. */
int rst_note_file(struct rst_tree *t, int task, const FdEntry *e);
/* rst-task.c: a new fd of ours for e, in a task whose pipes and shared files are in place. */
int rst_open_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
/* The nearest common ancestor of tasks a and b (indexes; a < 0: b), which creates what both hold. */
int rst_lca(const struct rst_tree *t, int a, int b);
/* The caller's fd handed in for a regular file with key "file:PATH", as an index of opts->inherit_fds, or -1.
 */
int rst_inherited_file(const struct rst_tree *t, const FdEntry *e);

/*
 * rst-shmem.c: shared memory objects and deleted files. _load (from rst_load) reads and
 * checks shmem.img and every reference to it; _create makes each object once, in the
 * restorer, before the tree; _fds lists their fds for a task to keep; _finish (ok or not)
 * adds the last seals, removes the segments to remove, closes ours.
 */
struct rst_shmem;
struct rst_inject;
int rst_shmem_load(struct rst_tree *t);
int rst_shmem_create(struct rst_tree *t);
size_t rst_shmem_fds(const struct rst_tree *t, int *keep);
/* A new open file of deleted file or memfd fd e, with its flags and offset. */
int rst_shmem_open_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
/* Map v from its object (mmap, or shmat for a System V segment) by injection. */
int rst_shmem_map(struct rst_inject *in, const struct rst_tree *t, const VmaEntry *v, uint32_t prot);
/* Close the object fds the task inherited, once its mappings are in place. */
int rst_shmem_close_in_task(struct rst_inject *in, const struct rst_tree *t);
int rst_shmem_finish(struct rst_tree *t, bool ok);
void rst_shmem_free(struct rst_tree *t);

/*
 * rst-anonfd.c: FIFOs (rst-fifo.c) and anonymous-inode fds (eventfd, timerfd, signalfd, epoll,
 * inotify). _load (from rst_load, before the fds) reads fifo.img and anonfd.img; _check_fd
 * checks an fd of these kinds; _place (after place_pipes) picks who creates each FIFO's holder
 * and checks epoll targets; _create opens, in the creator, the FIFOs it holds for its
 * descendants, and _fds lists those for a task to keep until its fds are placed; _open makes
 * one fd; _finish, once a task's fds are placed, adds the watched fds of its epoll instances.
 */
struct rst_fifo;
struct rst_anon;
int rst_anonfd_load(struct rst_tree *t);
int rst_anonfd_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
int rst_anonfd_place(struct rst_tree *t);
bool rst_anonfd_kind(const FdEntry *e);
int rst_anonfd_create(struct rst_tree *t, size_t idx);
size_t rst_anonfd_fds(const struct rst_tree *t, int *keep);
int rst_anonfd_open(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
int rst_anonfd_finish(const struct rst_tree *t, const struct rst_task *task);
void rst_anonfd_free(struct rst_tree *t);
/* rst-fifo.c, behind the rst_anonfd_ calls */
int rst_fifo_load(struct rst_tree *t);
int rst_fifo_check_fd(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
int rst_fifo_place(struct rst_tree *t);
int rst_fifo_create(struct rst_tree *t, size_t idx);
size_t rst_fifo_fds(const struct rst_tree *t, int *keep);
int rst_fifo_open(const struct rst_tree *t, uint32_t pid, const FdEntry *e);
void rst_fifo_free(struct rst_tree *t);

/*
 * rst-unixsk.c: _load (from rst_load) reads unixsk-sk.img and checks its names against the
 * system; _create makes them all in task idx if it is their creator; _fds lists the fds to
 * keep until each task has placed its own.
 */
int rst_unixsk_load(struct rst_tree *t);
struct rst_unixsk *rst_unixsk_find(const struct rst_tree *t, uint64_t id);
int rst_unixsk_create(struct rst_tree *t, size_t idx);
size_t rst_unixsk_fds(const struct rst_tree *t, int *keep);
void rst_unixsk_free(struct rst_tree *t);

/*
 * rst-unixsk-queue.c: _load (from rst_load, after the fds) reads scm.img and checks the
 * messages of unixsk-sk.img that refer to it; _place (from place_pipes) makes the creator of
 * the sockets a holder of each file in flight; _requeue, in that creator, sends what was
 * queued at e again from socket from (to name, if given), with the files in flight.
 */
int rst_scm_load(struct rst_tree *t);
int rst_scm_place(struct rst_tree *t);
void rst_scm_free(struct rst_tree *t);
int rst_unixsk_requeue(const struct rst_tree *t, const UnixSkEntry *e, int from,
		       const ProtobufCBinaryData *name);

/*
 * rst-inetsk.c: _load (from rst_load) reads inetsk.img, refuses it without --tcp-established
 * and checks the local addresses are free; _create makes them all in task idx if it is their
 * creator; _fds lists the fds to keep until each task has placed its own.
 */
int rst_inetsk_load(struct rst_tree *t);
struct rst_inetsk *rst_inetsk_find(const struct rst_tree *t, uint64_t id);
int rst_inetsk_create(struct rst_tree *t, size_t idx);
size_t rst_inetsk_fds(const struct rst_tree *t, int *keep);
void rst_inetsk_free(struct rst_tree *t);

/*
 * rst-locks.c (--file-locks): _validate (from rst_load) checks every lock of the images and
 * refuses one something outside holds now; _take, in the forked task once its fds are in
 * place, takes the task's flock and OFD locks again; _take_posix, injected once the task's
 * mappings are made (their opens and closes would drop them), its POSIX locks.
 */
int rst_locks_validate(const struct rst_tree *t);
int rst_locks_take(const struct rst_tree *t, const struct rst_task *task);
struct rst_inject;
int rst_locks_take_posix(struct rst_inject *in, const struct rst_task *task);

/* rst-task.c: the forked side. Creates task idx (and, recursively, its children). */
int rst_fork_task(struct rst_tree *t, size_t idx);
/* The body of the ns init: reap, forward signals, exit with the root's status. */
int rst_init_main(struct rst_tree *t);

/* Messages from a task process to the restorer over sync_fd. */
struct rst_msg {
	uint32_t ns_pid;
	int32_t err;	 /* 0: ready; else -errno, why says why */
	int32_t sync_fd; /* the task's own copy of the sync socket, closed by injection */
	char why[256];	 /* the task's last error (it prints nothing itself: log_capture) */
};

/* rst-mm.c: rebuild the address space of a seized task by syscall injection. */
struct rst_inject {
	pid_t tid;
	uint64_t gate;
	uint64_t tramp; /* trampoline: code page, then data page */
	arch_gpregs_t base;
};

#define RST_TRAMP_PAGES 2
#define RST_DATA_OFF	4096u

int rst_syscall(struct rst_inject *in, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		uint64_t a4, uint64_t a5, long *ret);
/* Same, failing with a message naming what when the syscall itself failed. */
int rst_syscall_ok(struct rst_inject *in, const char *what, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5, long *ret);
/* Copy data into the trampoline's data page at off; returns its address in the task. */
int rst_put_data(struct rst_inject *in, size_t off, const void *buf, size_t len, uint64_t *ret_addr);

int rst_mm_rebuild(struct rst_tree *t, struct rst_task *task, struct rst_inject *in);
/* The last injected syscall: unmap the trampoline. */
int rst_mm_drop_tramp(struct rst_inject *in);

/* rst-state.c: threads, signals, timers, creds; then final registers. */
int rst_state_restore(struct rst_tree *t, struct rst_task *task, struct rst_inject *in);

#endif
