/* SPDX-License-Identifier: MIT */
/*
 * The configuration file: `key = value` lines; blank lines and lines whose first non-blank
 * character is `#` are ignored (a `#` after a value is part of the value: paths may hold
 * one). An unknown key, a line without `=`, or a bad value is an error naming the line.
 */
#include <pwd.h>
#include <stddef.h>
#include "config.h"
#include "ckptd.h"
#include "log.h"
#include "sink.h"
#include "tcp-wire.h"

#define CKPTD_DEFAULT_MUNGE_SOCKET "/run/munge/munge.socket.2" /* munged's own default */

#define CONFIG_MAX_LINE 4096

enum key_type { KEY_STR, KEY_U32, KEY_MODE, KEY_LEVEL, KEY_BOOL };

struct key_desc {
	const char *name;
	enum key_type type;
	size_t off;
	uint32_t min, max; /* KEY_U32 */
	const char *help;
};

#define OFF(f) offsetof(struct ckptd_config, f)
static const struct key_desc keys[] = {
	{"socket", KEY_STR, OFF(socket), 0, 0, "path of the listening socket (" CKPTD_DEFAULT_SOCKET ")"},
	{"socket_mode", KEY_MODE, OFF(socket_mode), 0, 0, "its mode, octal (0666)"},
	{"workers", KEY_U32, OFF(workers), 1, 256, "jobs run at once (4)"},
	{"queue_max", KEY_U32, OFF(queue_max), 1, 100000, "jobs waiting for a worker (256)"},
	{"history", KEY_U32, OFF(history), 0, 100000, "finished jobs remembered (64)"},
	{"max_clients", KEY_U32, OFF(max_clients), 1, 65536, "connections at once (1024)"},
	{"service_user", KEY_STR, OFF(service_user), 0, 0, "account that may act on any job, as root (none)"},
	{"log_level", KEY_LEVEL, OFF(log_level), 0, 0, "error, warn, info or debug (info)"},
	{"pid_file", KEY_STR, OFF(pid_file), 0, 0, "written when daemonized (none)"},
	{"images_root", KEY_STR, OFF(images_root), 0, 0,
	 "Slurm jobs: root of the shared checkpoints (none: off)"},
	{"node_name", KEY_STR, OFF(node_name), 0, 0, "this node's Slurm name (short host name)"},
	{"slurm", KEY_BOOL, OFF(slurm), 0, 0, "watch registered jobs through slurmctld (yes)"},
	{"watch_interval_ms", KEY_U32, OFF(watch_interval_ms), 100, 3600000, "how often, ms (1000)"},
	{"maint_lead_s", KEY_U32, OFF(maint_lead_s), 0, 604800, "checkpoint before a maintenance (600)"},
	{"walltime_lead_s", KEY_U32, OFF(walltime_lead_s), 0, 604800, "... before a time limit (0: never)"},
	{"jitter_s", KEY_U32, OFF(jitter_s), 0, 86400, "spread periodic checkpoints (60)"},
	{"max_dumps", KEY_U32, OFF(max_dumps), 1, 256, "Slurm checkpoints at once (1)"},
	{"keep", KEY_U32, OFF(keep), 1, 1000, "checkpoints kept per job (2)"},
	{"keep_on_completion", KEY_BOOL, OFF(keep_on_completion), 0, 0, "keep them after the job (no)"},
	{"sweep_interval_s", KEY_U32, OFF(sweep_interval_s), 0, 86400,
	 "remove those of jobs Slurm completed or cancelled, every (300; 0: never)"},
	{"save_paths", KEY_STR, OFF(save_paths), 0, 0, "node-local paths saved with checkpoints (none)"},
	{"tcp_listen", KEY_STR, OFF(tcp_listen), 0, 0,
	 "HOST:PORT for other nodes, munge-authenticated (none: off)"},
	{"munge_socket", KEY_STR, OFF(munge_socket), 0, 0,
	 "munged's socket (" CKPTD_DEFAULT_MUNGE_SOCKET ")"},
	{"tcp_timeout_ms", KEY_U32, OFF(tcp_timeout_ms), 100, 3600000,
	 "for a TCP request or answer, ms (10000)"},
};

size_t config_nr_keys(void)
{
	return ARRAY_SIZE(keys);
}

const char *config_key(size_t i)
{
	return i < ARRAY_SIZE(keys) ? keys[i].name : NULL;
}

const char *config_key_help(size_t i)
{
	return i < ARRAY_SIZE(keys) ? keys[i].help : NULL;
}

static const struct key_desc *find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* Set one key; *ret_why says what is wrong with the value. */
static int set_key(struct ckptd_config *c, const struct key_desc *k, const char *value, const char **ret_why)
{
	void *field = (char *)c + k->off;
	uint64_t v;
	char *s;
	int r;

	switch (k->type) {
	case KEY_STR:
		s = strdup(value);
		if (!s)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	case KEY_U32:
		r = safe_atou64(value, 10, &v);
		if (r < 0 || v < k->min || v > k->max) {
			*ret_why = "not a number in range";
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case KEY_MODE:
		r = safe_atou64(value, 8, &v);
		if (r < 0 || v > 0777) {
			*ret_why = "not an octal mode";
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case KEY_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)field = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)field = false;
		else
			return (*ret_why = "not yes or no"), -EINVAL;
		return 0;
	case KEY_LEVEL:
		r = sink_parse_level(value);
		if (r < 0) {
			*ret_why = "not one of error, warn, info, debug";
			return -EINVAL;
		}
		*(int *)field = r;
		return 0;
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_parse_line(char *line, char **ret_key, char **ret_value)
{
	char *s = trim(line), *eq;

	if (!*s || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*ret_key = trim(s);
	*ret_value = trim(eq + 1);
	if (!**ret_key)
		return -EINVAL;
	return 1;
}

static int parse_file(FILE *f, const char *path, struct ckptd_config *c)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned int lineno = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, f)) >= 0) {
		const struct key_desc *k;
		const char *why = "bad value";
		char *key, *value;
		int r;

		lineno++;
		if (n > CONFIG_MAX_LINE)
			return pr_err("%s:%u: line longer than %u characters", path, lineno, CONFIG_MAX_LINE),
			       -EINVAL;
		r = config_parse_line(line, &key, &value);
		if (r == 0)
			continue;
		if (r < 0)
			return pr_err("%s:%u: expected 'key = value'", path, lineno), -EINVAL;
		k = find_key(key);
		if (!k)
			return pr_err("%s:%u: unknown key '%s'", path, lineno, key), -EINVAL;
		r = set_key(c, k, value, &why);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return pr_err("%s:%u: %s: '%s' is %s", path, lineno, key, value, why), r;
	}
	if (ferror(f))
		return pr_perror("reading '%s'", path);
	return 0;
}

static int load_file(const char *path, bool must_exist, struct ckptd_config *c)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return pr_perror("cannot open configuration file '%s'", path);
	}
	return parse_file(f, path, c);
}

static int apply_overrides(struct ckptd_config *c, const struct config_override *ov, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct key_desc *k = find_key(ov[i].key);
		const char *why = "bad value";
		int r;

		if (!k)
			return pr_err("unknown option '--%s'", ov[i].key), -EINVAL;
		r = set_key(c, k, ov[i].value, &why);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return pr_err("--%s: '%s' is %s", ov[i].key, ov[i].value, why), r;
	}
	return 0;
}

static int resolve_service(struct ckptd_config *c)
{
	_cleanup_free_ char *buf = NULL;
	struct passwd pw, *res = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	int r;

	c->has_service = false;
	if (!c->service_user || !*c->service_user)
		return 0;
	if (sz < 4096)
		sz = 4096;
	buf = malloc((size_t)sz);
	if (!buf)
		return -ENOMEM;
	r = getpwnam_r(c->service_user, &pw, buf, (size_t)sz, &res);
	if (r)
		return pr_err_errno(-r, "looking up service_user '%s'", c->service_user);
	if (!res)
		return pr_err("service_user '%s': no such user", c->service_user), -ENOENT;
	c->has_service = true;
	c->service_uid = pw.pw_uid;
	c->service_gid = pw.pw_gid;
	return 0;
}

static int short_hostname(char **ret)
{
	char h[256] = "";
	char *dot, *s;

	if (gethostname(h, sizeof(h) - 1) < 0)
		return pr_perror("gethostname");
	dot = strchr(h, '.');
	if (dot)
		*dot = '\0';
	s = strdup(h);
	if (!s)
		return -ENOMEM;
	free(*ret);
	*ret = s;
	return 0;
}

/* tcp_listen (when set) is HOST:PORT, munge_socket an absolute path. */
static int check_tcp(const struct ckptd_config *c)
{
	_cleanup_free_ char *host = NULL, *port = NULL;
	int r;

	if (c->munge_socket[0] != '/')
		return pr_err("munge_socket '%s' must be an absolute path", c->munge_socket), -EINVAL;
	if (!c->tcp_listen[0])
		return 0;
	r = tcp_wire_split(c->tcp_listen, &host, &port);
	if (r == -EINVAL)
		return pr_err("tcp_listen '%s' is not HOST:PORT", c->tcp_listen), r;
	return r;
}

static int set_defaults(struct ckptd_config *c)
{
	*c = (struct ckptd_config){
		.socket = strdup(CKPTD_DEFAULT_SOCKET),
		.socket_mode = 0666,
		.workers = 4,
		.queue_max = 256,
		.history = 64,
		.max_clients = 1024,
		.service_user = strdup(""),
		.log_level = CKPT_LOG_INFO,
		.pid_file = strdup(""),
		.images_root = strdup(""),
		.node_name = strdup(""),
		.slurm = true,
		.watch_interval_ms = 1000,
		.maint_lead_s = 600,
		.jitter_s = 60,
		.max_dumps = 1,
		.keep = 2,
		.sweep_interval_s = 300,
		.save_paths = strdup(""),
		.tcp_listen = strdup(""),
		.munge_socket = strdup(CKPTD_DEFAULT_MUNGE_SOCKET),
		.tcp_timeout_ms = 10000,
	};
	if (!c->socket || !c->service_user || !c->pid_file || !c->images_root || !c->node_name ||
	    !c->save_paths || !c->tcp_listen || !c->munge_socket)
		return -ENOMEM;
	return 0;
}

int config_load(const char *path, bool must_exist, const struct config_override *ov, size_t n_ov,
		struct ckptd_config *ret)
{
	struct ckptd_config c;
	int r;

	r = set_defaults(&c);
	if (r == 0 && path)
		r = load_file(path, must_exist, &c);
	if (r == 0)
		r = apply_overrides(&c, ov, n_ov);
	if (r == 0 && c.socket[0] != '/')
		r = (pr_err("socket '%s' must be an absolute path", c.socket), -EINVAL);
	if (r == 0 && c.images_root[0] && c.images_root[0] != '/')
		r = (pr_err("images_root '%s' must be an absolute path", c.images_root), -EINVAL);
	if (r == 0)
		r = check_tcp(&c);
	if (r == 0 && !c.node_name[0])
		r = short_hostname(&c.node_name);
	if (r == 0)
		r = resolve_service(&c);
	if (r < 0) {
		config_free(&c);
		return r == -ENOMEM ? pr_err_errno(r, "loading the configuration") : r;
	}
	*ret = c;
	return 0;
}

void config_free(struct ckptd_config *c)
{
	free(c->socket);
	free(c->service_user);
	free(c->pid_file);
	free(c->images_root);
	free(c->node_name);
	free(c->save_paths);
	free(c->tcp_listen);
	free(c->munge_socket);
	c->tcp_listen = c->munge_socket = NULL;
	c->socket = c->service_user = c->pid_file = c->images_root = c->node_name = c->save_paths = NULL;
}
