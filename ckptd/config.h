/* SPDX-License-Identifier: MIT */
/* ckptd's configuration: /etc/ckpt/ckptd.conf, `key = value` lines, each key also an option. */
#ifndef CKPTD_CONFIG_H
#define CKPTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ckptd_config {
	char *socket;	      /* path of the listening socket */
	uint32_t socket_mode; /* its mode: 0666 lets every user reach the daemon */
	uint32_t workers;     /* jobs (dump, restore, check) run at once */
	uint32_t queue_max;   /* jobs waiting for a worker; more are refused (EAGAIN) */
	uint32_t history;     /* finished jobs kept for status and list */
	uint32_t max_clients; /* connections at once; more are closed at accept */
	char *service_user;   /* may act on any job, as root may; "" for none */
	bool has_service;
	uid_t service_uid;
	gid_t service_gid;
	int log_level;	/* CKPT_LOG_* */
	char *pid_file; /* written when daemonized; "" for none */
	/* Slurm jobs registered by spank_ckpt.so (sjobs.c, watcher.c) */
	char *images_root;	    /* root of the shared checkpoint layout; "" turns them off */
	char *node_name;	    /* this node's Slurm name; "" for the short host name */
	bool slurm;		    /* watch the jobs through libslurm (off: tests without Slurm) */
	uint32_t watch_interval_ms; /* how often the watcher asks slurmctld */
	uint32_t maint_lead_s;	    /* checkpoint this long before a maintenance reservation */
	uint32_t walltime_lead_s;   /* ... and before a job's time limit; 0: never */
	uint32_t jitter_s;	    /* spread periodic checkpoints over this many seconds */
	uint32_t max_dumps;	    /* Slurm checkpoints at once on this node */
	uint32_t keep;		    /* committed checkpoints kept per job */
	bool keep_on_completion;    /* keep them after the job completed */
	uint32_t sweep_interval_s;  /* remove those of jobs Slurm completed or cancelled; 0: never */
	char *save_paths;	    /* comma-separated node-local paths saved with each checkpoint */
	/* Across nodes (tcp.h): requests over TCP, each with a munge credential */
	char *tcp_listen;	 /* "HOST:PORT"; "" (the default) for no TCP listener */
	char *munge_socket;	 /* munged's socket, which checks the credentials */
	uint32_t tcp_timeout_ms; /* for a TCP client to send a request, or take an answer */
};

/* A `--key value` of the command line, applied over the file. */
struct config_override {
	const char *key;
	const char *value;
};

/* The keys, in the order --help lists them. */
size_t config_nr_keys(void);
const char *config_key(size_t i);
const char *config_key_help(size_t i);

/*
 * Defaults, then the file (when path is set; a missing file is an error only if
 * must_exist), then the overrides. Errors name the file and line, or the option.
 */
int config_load(const char *path, bool must_exist, const struct config_override *ov, size_t n_ov,
		struct ckptd_config *ret);
/* One `key = value` line (for tests): 0 for a blank or comment line, 1 for a setting. */
int config_parse_line(char *line, char **ret_key, char **ret_value);
void config_free(struct ckptd_config *c);

#endif
