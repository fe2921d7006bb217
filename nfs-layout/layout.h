/* SPDX-License-Identifier: MIT */
/*
 * Where checkpoints live on the shared filesystem (DESIGN.md, "Shared layout"):
 *
 *   <root>/<jobid>/<seq>/          one committed checkpoint, seq = 1, 2, ... (decimal)
 *   <root>/<jobid>/<seq>/ckpt.meta its metadata, key=value lines
 *   <root>/<jobid>/latest          symlink -> "<seq>", the checkpoint to restore
 *   <root>/<jobid>/.tmp-<seq>-<r>/ a checkpoint being written
 *
 * A checkpoint is written under .tmp-*, every file fsynced, renamed to <seq>, and only then
 * does latest point at it: a crash at any moment leaves the previous checkpoint intact and
 * latest naming a complete one. Only close-to-open consistency and rename atomicity are
 * relied on (NFS); no locks. Directories and files are owned by the service account
 * (chown is skipped with a warning where root is squashed), root 0711, the rest 0700/0600.
 * Nothing is ever removed through a symlink. Link with libckpt.a (util, log) after this.
 */
#ifndef CKPT_LAYOUT_H
#define CKPT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct layout;	    /* root dirfd, path, owner */
struct layout_ckpt; /* one checkpoint being written */

/* One checkpoint's metadata, stored as <seq>/ckpt.meta. NULL strings are not stored. */
struct layout_meta {
	uint32_t job_id;
	uint32_t uid; /* the job's user */
	uint32_t gid;
	char *node;
	int64_t time; /* unix seconds */
	char *reason; /* "preempt", "drain", "reboot", "maint", "interval", "walltime", "request" */
	uint32_t restart_count;
	char *engine_version;
	uint32_t image_version;
	char *cpu_features; /* free-form summaries */
	char *topology;
	uint64_t bytes;
	uint64_t duration_ns;
	uint64_t frozen_ns;
	char *script_path; /* the job's files at dump time */
	char *stdout_path;
	char *stderr_path;
	uint32_t kept; /* 1: kept after the job ends (ckpt job checkpoint --cancel) */
};

/* Strict: 1..4294967294, digits only, no sign, blank or leading zero; -EINVAL otherwise. */
int layout_parse_jobid(const char *s, uint32_t *ret);

/* Open root (created 0711 if missing, its parent must exist); owner is the service account. */
int layout_open(const char *root, uid_t owner_uid, gid_t owner_gid, struct layout **ret);
/* Open an existing root as it is, to read it (the plugin): -ENOENT when missing. */
int layout_open_existing(const char *root, struct layout **ret);
void layout_close(struct layout *l);
/* The root's absolute path. */
const char *layout_root(const struct layout *l);

/* Make the job dir (if missing) and a fresh temp dir for the next seq. */
int layout_begin(struct layout *l, uint32_t job_id, struct layout_ckpt **ret);
/* Absolute path of the temp dir: the engine writes its images there. */
const char *layout_ckpt_path(const struct layout_ckpt *c);
/* The seq the checkpoint is meant to get; layout_commit may take a later one on a race. */
uint32_t layout_ckpt_seq(const struct layout_ckpt *c);
/*
 * Write ckpt.meta (m->job_id must be the checkpoint's job, m->reason one of the names
 * above), fix owners/modes of what the engine wrote (regular files and directories; anything
 * else fails the commit), fsync, rename to <seq>, update latest. Frees c, always; on a failure
 * before the rename the temp dir is removed, after it the checkpoint stays (and layout_latest
 * finds it even if latest could not be moved). 0 or -errno.
 */
int layout_commit(struct layout_ckpt *c, const struct layout_meta *m);
/* The same, telling the seq committed (another writer of the same job may have taken ours). */
int layout_commit_seq(struct layout_ckpt *c, const struct layout_meta *m, uint32_t *ret_seq);
/* Remove the temp dir recursively; frees c. NULL is fine. */
void layout_abort(struct layout_ckpt *c);

/*
 * The checkpoint to restore: latest's target when it is a committed dir with a ckpt.meta,
 * otherwise (crash between rename and latest, or latest damaged) the newest committed one
 * with a warning. -ENOENT when none. ret_path (malloc'ed, absolute) may be NULL.
 */
int layout_latest(struct layout *l, uint32_t job_id, uint32_t *ret_seq, char **ret_path);

/* Strict parser: unknown keys ignored; missing required keys, duplicates, junk: -EINVAL. */
int layout_meta_read(struct layout *l, uint32_t job_id, uint32_t seq, struct layout_meta *ret);
/* layout_latest()'s seq (ret_seq may be NULL) and that checkpoint's metadata: 0 or -errno. */
int layout_latest_meta(struct layout *l, uint32_t job_id, uint32_t *ret_seq, struct layout_meta *ret);
/* Free the strings of m (not m itself) and zero it. */
void layout_meta_free(struct layout_meta *m);

/* Committed seqs (real <seq> dirs holding a ckpt.meta), ascending; malloc'ed (NULL when n = 0).
 * -ENOENT: no job dir. */
int layout_list(struct layout *l, uint32_t job_id, uint32_t **ret_seqs, size_t *ret_n);
/* Job ids that have a job dir, ascending; malloc'ed (NULL when n = 0). */
int layout_list_jobs(struct layout *l, uint32_t **ret_ids, size_t *ret_n);

/*
 * Delete all but the newest keep (>= 1) committed checkpoints (never latest's target),
 * temp dirs and temp symlinks untouched for an hour, and leftovers of earlier deletions.
 * Returns the number of checkpoints deleted.
 */
int layout_retain(struct layout *l, uint32_t job_id, unsigned keep);
/* Delete the job's whole dir: latest first, then the dir is renamed away and removed. 0 if none. */
int layout_forget(struct layout *l, uint32_t job_id);

/* The name of the metadata file inside a checkpoint dir. */
#define LAYOUT_META_NAME "ckpt.meta"
/* Temp dirs and symlinks untouched for this long are stale (retain removes them). */
#define LAYOUT_STALE_S 3600

#endif
