/* SPDX-License-Identifier: MIT */
/*
 * TCP sockets of the tree (dump --tcp-established): inetsk.img. Established connections are
 * read in repair mode (TCP_REPAIR), which they keep until the tree is released.
 */
#ifndef CKPT_INETSK_H
#define CKPT_INETSK_H

#include "files.h"
#include "pstree.h"

/* Our copies (pidfd_getfd) of the sockets put in repair mode by inetsk_dump(). */
struct inetsk_repair {
	int *fds;
	bool *reuseaddr; /* leaving repair mode clears SO_REUSEADDR: the task's, to set again */
	size_t n;
};

/*
 * fds[i] are the fds of t->tasks[i]. Every socket fd (FD_UNIX so far) whose socket is an
 * IPv4 or IPv6 one becomes FD_INET, and each such socket is written once to inetsk.img.
 * Established sockets are put in repair mode; *rep holds them then, on failure too.
 */
int inetsk_dump(int dirfd, const struct pstree *t, struct fd_list *fds, struct inetsk_repair *rep);

/*
 * Once the tree is released. keep_repair (the tree was killed): the sockets stay in repair
 * mode, whose close sends nothing to the peer (tcp_disconnect()). Otherwise they leave repair
 * mode without the window probe that leaving it normally sends (TCP_REPAIR_OFF_NO_WP), and
 * get their SO_REUSEADDR back: the connection goes on as if nothing happened. Then our
 * copies are closed.
 */
int inetsk_release(struct inetsk_repair *rep, bool keep_repair);

#endif
