/* SPDX-License-Identifier: MIT */
/* nfs-layout internals shared by its files: the structs and the filesystem helpers. */
#ifndef CKPT_LAYOUT_INTERNAL_H
#define CKPT_LAYOUT_INTERNAL_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/types.h>
#include "layout.h"

struct layout {
	int dirfd; /* root, O_DIRECTORY */
	char *path;
	uid_t uid;
	gid_t gid;
};

struct layout_ckpt {
	struct layout *l;
	int jobfd;
	int tmpfd;
	uint32_t job_id;
	uint32_t seq;
	char *tmpname; /* .tmp-<seq>-<random>, in the job dir */
	char *path;    /* absolute path of the temp dir */
};

#define LAYOUT_TMP_PREFIX    ".tmp-"
#define LAYOUT_DEL_PREFIX    ".del-"
#define LAYOUT_LATEST_PREFIX ".latest-"
#define LAYOUT_LATEST	     "latest"
/* Fits "4294967295" and its NUL: the largest uint32 in decimal. */
#define LAYOUT_U32_NAME_MAX sizeof("4294967295")
/* Deeper than the engine ever writes: refuse rather than recurse without bound. */
#define LAYOUT_MAX_DEPTH 16
/* ckpt.meta is small: a larger one is refused unread. */
#define LAYOUT_META_MAX (64 * 1024)

/* fsutil.c */
int lay_random_name(const char *prefix, const char *mid, char **ret);
int lay_open_dir(int dirfd, const char *name);
DIR *lay_opendir(int dirfd);
int lay_fsync_dir(int dirfd, const char *name);
int lay_set_owner_mode(int fd, const struct layout *l, mode_t mode, bool *warned);
int lay_fix_tree(int dirfd, const struct layout *l, bool *warned, unsigned depth);
int lay_rm_rf(int dirfd, const char *name, unsigned depth);
int lay_remove_dir(int dirfd, const char *name);
int lay_newest_mtime(int dirfd, const char *name, int64_t *ret);
bool lay_is_dir_nofollow(int dirfd, const char *name);

/* meta.c */
int lay_meta_write(int dirfd, const struct layout_meta *m);
int lay_meta_parse(const char *buf, size_t len, struct layout_meta *ret);
int lay_meta_load(int dirfd, size_t max, char **ret, size_t *ret_len);
bool lay_reason_valid(const char *s);

/* layout.c */
int lay_parse_seq(const char *s, uint32_t *ret);
int lay_open_job(struct layout *l, uint32_t job_id, int *ret_fd);
int lay_make_job(struct layout *l, uint32_t job_id, int *ret_fd);
int lay_list_ids(int dirfd, uint32_t **ret, size_t *ret_n);
int lay_list_committed(int jobfd, uint32_t **ret, size_t *ret_n);
uint32_t lay_latest_seq(int jobfd, int *ret_err);
void lay_u32_name(char name[LAYOUT_U32_NAME_MAX], uint32_t v);

#endif
