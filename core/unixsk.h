/* SPDX-License-Identifier: MIT */
/*
 * Unix sockets held in the tree: plain stream socketpairs (unixsk.c, unixsk.img) and every
 * other kind (unixsk-bound.c, unixsk-sk.img), recreated with what is queued in them.
 */
#ifndef CKPT_UNIXSK_H
#define CKPT_UNIXSK_H

#include <sys/un.h>
#include "files.h"
#include "pstree.h"
#include "unixsk.pb-c.h"

struct scm_set;

/*
 * fds[i] are the fds of t->tasks[i]. A pair of connected unnamed stream sockets whose two ends
 * are both held in the tree is written to unixsk.img with the bytes queued in each end; the
 * other unix sockets of the tree to unixsk-sk.img (unixsk_bound_dump). A socket connected to a
 * peer outside the tree becomes an external fd (FD_EXTERNAL, key "socket:[ino]"), unless
 * ext_unix_sk. Files in flight in their queues (SCM_RIGHTS) are handed to scm (unixsk-scm.c);
 * a pair whose queues hold some goes to unixsk-sk.img.
 */
int unixsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds, bool ext_unix_sk,
		struct scm_set *scm);

/* What sock_diag(7) tells of one unix socket of the system. */
struct sk_diag {
	uint64_t ino, peer; /* peer 0: not connected (or its peer is gone) */
	uint8_t type, state, shutdown;
	bool has_peer;
	uint8_t name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t name_len; /* 0: unnamed */
	uint32_t rqueue, wqueue;
	uint64_t vfs_ino, vfs_dev;
	bool has_vfs;
	uint32_t *icons; /* a listener's queue: the inodes of the clients, oldest first */
	size_t n_icons;
};

struct sk_list {
	struct sk_diag *v;
	size_t n;
};

/* The first fd of the tree that holds a socket. */
struct sk_ref {
	uint64_t ino;
	pid_t pid;
	int fd;
	uint32_t flags;
	const struct sk_diag *d;
	bool plain; /* a stream socketpair held at both ends with no file in flight: unixsk.img */
};

/* What is queued at a socket: bytes (stream) or records, and the messages that carry files. */
struct sk_queue {
	uint8_t *data;
	size_t len;
	ProtobufCBinaryData *recs;
	size_t n_recs;
	ScmEntry **scm;
	size_t n_scm;
};

const struct sk_diag *unixsk_find_diag(const struct sk_list *l, uint64_t ino);
struct sk_ref *unixsk_find_ref(struct sk_ref *v, size_t n, uint64_t ino);
void unixsk_make_external(struct fd_list *fds, size_t n_tasks, uint64_t ino);

/*
 * unixsk-queue.c: what is queued at s, read without consuming it (MSG_PEEK with SO_PEEK_OFF):
 * the bytes of a stream, the records of a datagram or seqpacket socket, oldest first. The
 * files of each message that carries some are handed to scm, which keeps them.
 */
int unixsk_peek_queue(const struct sk_ref *s, struct scm_set *scm, struct sk_queue *ret);
void unixsk_queue_free(struct sk_queue *q);

/* v: the sockets of the tree not dumped as plain stream socketpairs. */
int unixsk_bound_dump(int dirfd, const struct pstree *t, struct fd_list *fds, const struct sk_list *l,
		      struct sk_ref *v, size_t n, bool ext_unix_sk, struct scm_set *scm);

/*
 * unixsk-scm.c: files in flight in the queues of the tree's unix sockets. The peek installs
 * them as fds of ours; each open file description becomes one FdEntry of fl (its fd ours),
 * which dump.c passes to the file modules as the fds of a task of their own (scm_tree), so
 * that a file in flight is dumped like any file of the tree, sharing its ids (pipe, socket,
 * file_id) with the fds of the tree on the same file. scm.img: those entries, fd = index.
 */
struct scm_set {
	struct task self; /* the dumper */
	struct fd_list *fl;
	struct sk_ref *from; /* [fl->n]: the socket each was first seen queued at */
	uint64_t *carriers;  /* sockets whose queue holds files */
	size_t n_carriers;
};

void scm_init(struct scm_set *s, struct fd_list *fl);
/* Own fd (in flight at socket at): its index in s, a file seen before or a new one. */
int scm_take(struct scm_set *s, const struct sk_ref *at, int fd, uint32_t *ret_id);
/* t with the dumper as one more task, whose fds are s->fl (fds[t->nr_tasks]). */
int scm_tree(struct scm_set *s, const struct pstree *t, struct pstree *ret);
/* Refuse, naming the socket, a file in flight that cannot be sent again at restore. */
int scm_check(const struct scm_set *s, const struct pstree *t, const struct fd_list *fds);
int scm_write(int dirfd, struct scm_set *s);
/* Close our fds of the files in flight (the entries are freed with the fd lists). */
void scm_close(struct scm_set *s);

#endif
