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

/*
 * fds[i] are the fds of t->tasks[i]. A pair of connected unnamed stream sockets whose two ends
 * are both held in the tree is written to unixsk.img with the bytes queued in each end; the
 * other unix sockets of the tree to unixsk-sk.img (unixsk_bound_dump). A socket connected to a
 * peer outside the tree becomes an external fd (FD_EXTERNAL, key "socket:[ino]"), unless
 * ext_unix_sk. Queued file descriptors are refused, naming the fd.
 */
int unixsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds, bool ext_unix_sk);

/* What sock_diag(7) tells of one unix socket of the system. */
struct sk_diag {
	uint64_t ino, peer; /* peer 0: not connected (or its peer is gone) */
	uint8_t type, state, shutdown;
	bool has_peer;
	uint8_t name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t name_len; /* 0: unnamed */
	uint32_t rqueue, wqueue;
	uint64_t vfs_ino;
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
};

const struct sk_diag *unixsk_find_diag(const struct sk_list *l, uint64_t ino);
struct sk_ref *unixsk_find_ref(struct sk_ref *v, size_t n, uint64_t ino);
void unixsk_make_external(struct fd_list *fds, size_t n_tasks, uint64_t ino);
/* The bytes (stream) queued for reading at s, read without consuming them. */
int unixsk_peek_stream(const struct sk_ref *s, uint8_t **ret_data, size_t *ret_len);
/* The records (datagrams, seqpackets) queued at s, oldest first, without consuming them. */
int unixsk_peek_records(const struct sk_ref *s, ProtobufCBinaryData **ret, size_t *ret_n);

/* v: the sockets of the tree not dumped as plain stream socketpairs. */
int unixsk_bound_dump(int dirfd, const struct pstree *t, struct fd_list *fds, const struct sk_list *l,
		      struct sk_ref *v, size_t n, bool ext_unix_sk);

#endif
