/* SPDX-License-Identifier: MIT */
/*
 * Who may do what. The caller is identified by SO_PEERCRED (and SO_PEERGROUPS), or over TCP
 * by a munge credential (mauth.c: pid 0, the user's groups from NSS). Root and the
 * service account may act on anything; any other user may dump only a tree that runs
 * entirely as him, and restore only images that ckptd wrote and whose tasks all ran as him.
 * Every refusal is -EPERM with *ret_why (malloc'ed) saying why.
 */
#ifndef CKPTD_AUTH_H
#define CKPTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups */
	size_t n_groups;
};

int peer_from_socket(int fd, struct peer *ret);
int peer_copy(const struct peer *src, struct peer *ret);
void peer_free(struct peer *p);

/* Paths in requests: absolute, no `..` component, shorter than PATH_MAX. -EINVAL otherwise. */
int auth_check_path(const char *path, char **ret_why);

/*
 * Every task and thread of the tree rooted at pid (it and its descendants, from /proc) has
 * all its uids equal to the peer's and all its gids among the peer's groups.
 * -ESRCH when pid does not exist.
 */
int auth_dump_tree(const struct peer *p, pid_t pid, char **ret_why);

/*
 * The images of dirfd: every task of pstree.img has a core image whose recorded uids are the
 * peer's, gids among its groups, and no capability. Also the check after a dump.
 */
int auth_image_creds(const struct peer *p, int dirfd, char **ret_why);

/*
 * dirfd and its *.img files belong to root or owner_uid and are writable by nobody else:
 * images a user could edit are not restored for him.
 */
int auth_image_owner(int dirfd, uid_t owner_uid, char **ret_why);

#endif
