/* SPDX-License-Identifier: MIT */
/*
 * The ckpt command: a thin front over libckpt, one file per verb. Option parsing lives in
 * opts.c and runs without main(), so that tests/unit/test_cli.c drives it directly.
 */
#ifndef CKPT_CLI_H
#define CKPT_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "ckpt.h"
#include "util.h"

/* Exit codes of ckpt (restore without -d exits with the restored root's status instead). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,  /* the operation failed; its one "Error: " line is printed */
	CLI_EXIT_USAGE = 2, /* bad command line */
};

/* What a parser returns when it succeeded: run the verb, or the help was printed (exit 0). */
enum {
	CLI_RUN = 0,
	CLI_HELP = 1,
};

/* ckptd's socket when status or cancel are given no --service (ckptd/ckptd.h has the same). */
#define CLI_DEFAULT_SERVICE "/run/ckptd.sock"

#define CLI_VERBOSITY_DEFAULT 1
#define CLI_VERBOSITY_MAX     4

/* Options every verb takes (also before the verb: ckpt -v4 dump ...). */
struct cli_global {
	int verbosity;		  /* -v: 0 errors, 1 +warnings, 2 +info, 3 and 4 +debug */
	const char *log_file;	  /* -o: relative to the images directory unless absolute */
	const char *service;	  /* --service: ckptd's socket; the verb is sent there, not run here */
	const char *munge_socket; /* --munge-socket: munged's, for a tcp:// service */
};

struct cli_main {
	struct cli_global g;
	bool help;
	bool version;
	int verb; /* index in argv of the verb, 0 when none was given */
};

struct cli_dump {
	struct cli_global g;
	struct ckpt_dump_opts opts;
	const char **save_paths; /* owned, NULL-terminated; opts.save_paths points here */
	size_t n_save_paths;
};

struct cli_restore {
	struct cli_global g;
	struct ckpt_restore_opts opts;
	struct ckpt_inherit_fd *inherit_fds; /* owned; opts.inherit_fds points here */
};

struct cli_check {
	struct cli_global g;
};

struct cli_show {
	struct cli_global g;
	const char *images_dir;
};

/* status and cancel talk to ckptd only: g.service, or CKPTD_DEFAULT_SOCKET when NULL. */
struct cli_status {
	struct cli_global g;
};

struct cli_cancel {
	struct cli_global g;
	uint64_t job_id;
};

/* ckpt job checkpoint|list|forget: Slurm jobs' checkpoints, through ckptd. */
enum cli_job_action { CLI_JOB_CHECKPOINT, CLI_JOB_LIST, CLI_JOB_FORGET };
struct cli_job {
	struct cli_global g;
	enum cli_job_action action;
	uint32_t job_id; /* 0: list every job */
	bool requeue, cancel;
};

/*
 * Parsers. argv[0] is the program (cli_parse_main) or the verb; argv may be permuted.
 * Strings in the results point into argv. Each returns CLI_RUN, CLI_HELP after printing the
 * help on stdout, or -EINVAL after printing one "Error: " line (and for an unknown option a
 * hint line) on stderr: the caller exits with CLI_EXIT_USAGE. base (may be NULL) holds the
 * global options given before the verb; options after it override them.
 */
int cli_parse_main(int argc, char **argv, struct cli_main *ret);
int cli_parse_dump(int argc, char **argv, const struct cli_global *base, struct cli_dump *ret);
int cli_parse_restore(int argc, char **argv, const struct cli_global *base, struct cli_restore *ret);
int cli_parse_check(int argc, char **argv, const struct cli_global *base, struct cli_check *ret);
int cli_parse_show(int argc, char **argv, const struct cli_global *base, struct cli_show *ret);
int cli_parse_status(int argc, char **argv, const struct cli_global *base, struct cli_status *ret);
int cli_parse_cancel(int argc, char **argv, const struct cli_global *base, struct cli_cancel *ret);
int cli_parse_job(int argc, char **argv, const struct cli_global *base, struct cli_job *ret);
void cli_restore_free(struct cli_restore *r);

/* -v's argument: NULL (one more), "v", "vv"... (one more each) or a level 0..4. */
int cli_parse_verbosity(const char *arg, int cur, int *ret);
/* --inherit-fd fd[N]:KEY; N must be an open fd of this process. */
int cli_parse_inherit_fd(const char *arg, struct ckpt_inherit_fd *ret);

/*
 * The log sink: stderr gets messages up to the -v level (errors as "Error: ...", warnings as
 * "Warning: ..."), the log file, when there is one, every message with a timestamp and pid.
 * It is in place from the start (stderr only, default level); cli_log_start() sets the level
 * and opens the file: g->log_file, resolved against dir unless absolute or dir is NULL, else
 * default_name in dir when both are given, else none. Returns 0, or -errno after printing
 * the error.
 */
int cli_log_start(const struct cli_global *g, const char *dir, const char *default_name);
void cli_log_stop(void);
/* A message of the CLI itself, through the same sink. */
void cli_msg(int level, const char *fmt, ...) _printf_(2, 3);
/* One "Error: " line for a CLI-level failure; returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) _printf_(1, 2);
/*
 * A library call failed with r: print "Error: <what>: <strerror>" unless the library already
 * printed an error line (it normally has). Returns CLI_EXIT_FAIL.
 */
int cli_failed(int r, const char *what);
/* n bytes as "512.0 MiB". */
void cli_format_bytes(uint64_t n, char *buf, size_t len);

/* The verbs: parse argv (argv[0] is the verb), run, return the exit code. */
int cli_verb_check(int argc, char **argv, const struct cli_global *g);
int cli_verb_dump(int argc, char **argv, const struct cli_global *g);
int cli_verb_restore(int argc, char **argv, const struct cli_global *g);
int cli_verb_show(int argc, char **argv, const struct cli_global *g);
int cli_verb_status(int argc, char **argv, const struct cli_global *g);
int cli_verb_cancel(int argc, char **argv, const struct cli_global *g);
int cli_verb_job(int argc, char **argv, const struct cli_global *g);

/*
 * The verbs through ckptd (service.c), for a command line already parsed with --service.
 * Each prints what the local verb prints; a refusal or failure of the daemon is one
 * "Error: " line with its message. They return the exit code.
 */
/* Connect to g->service (default CLI_DEFAULT_SERVICE), printing an error line on failure. */
struct ckptd_client;
int cli_service_connect(const struct cli_global *g, struct ckptd_client **ret);
/* A failed call: the daemon's reason when it gave one; returns CLI_EXIT_FAIL. */
int cli_service_failed(const struct cli_global *g, const char *what, int r, const char *message);
int cli_service_dump(const struct cli_dump *d);
int cli_service_restore(const struct cli_restore *rs);
/* The features as ckpt_check() gives them, from the daemon's kernel; *ret_buf owns them. */
int cli_service_check(const struct cli_global *g, struct ckpt_feature **ret, size_t *ret_n, void **ret_buf);
void cli_service_check_free(struct ckpt_feature *f, void *buf);

#endif
