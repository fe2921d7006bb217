/* SPDX-License-Identifier: MIT */
/*
 * Command line parsing of every verb, kept apart from running them so that the unit tests
 * drive it. Options follow CRIU's spelling; getopt_long(3) with a leading ':' in each short
 * option string, so that a missing argument (':') is told from an unknown option ('?').
 */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include "cli.h"

enum {
	OPT_FREEZE_CGROUP = 256, /* long-only options */
	OPT_PIDFILE,
	OPT_NO_PIDNS,
	OPT_INHERIT_FD,
	OPT_SERVICE,
	OPT_MUNGE_SOCKET,
	OPT_SAVE_PATH,
	OPT_MOUNT_PROC,
	OPT_OWNER,
	OPT_REQUEUE,
	OPT_CANCEL,
	OPT_FILE_LOCKS,
	OPT_EXT_UNIX_SK,
	OPT_TCP_ESTABLISHED,
};

#define COMMON_SHORT ":hv::o:"
/* clang-format off */
#define COMMON_LONG                                            \
	{ "help", no_argument, NULL, 'h' },                    \
	{ "verbosity", optional_argument, NULL, 'v' },         \
	{ "log-file", required_argument, NULL, 'o' },         \
	{ "service", required_argument, NULL, OPT_SERVICE },    \
	{ "munge-socket", required_argument, NULL, OPT_MUNGE_SOCKET }
/* clang-format on */

#define COMMON_HELP                                                                             \
	"  -v, --verbosity[=N]     0 errors only, 1 also warnings (default), 2 also info,\n"    \
	"                          3 or 4 also debug; -v alone adds one level, -vv two\n"       \
	"  -o, --log-file FILE     log every message at debug level to FILE (relative to\n"     \
	"                          the images directory unless absolute; with --service,\n"     \
	"                          the messages of ckpt itself, relative to the current one)\n" \
	"      --service SOCKET    send the command to ckptd(8) listening on SOCKET, or on\n"   \
	"                          another node's tcp://HOST:PORT with a munge credential\n"    \
	"      --munge-socket PATH munged's socket for tcp:// (default: libmunge's)\n"          \
	"  -h, --help              show this help\n"

struct verb_spec {
	const char *name;
	const char *shortopts;
	const struct option *longopts;
	const char *help;
	int max_args; /* positional arguments allowed */
};

static _printf_(3, 4) int usage_error(const char *verb, bool hint, const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "Try 'ckpt %s%s--help'.\n", verb ?: "", verb ? " " : "");
	return -EINVAL;
}

/*
 * getopt_long returned ':' or '?': name the option as the user wrote it. A long option is
 * always argv[optind - 1]; a short one is optopt (its element may not be consumed yet).
 */
static int option_error(int c, char **argv, const struct verb_spec *spec)
{
	const char *arg = argv[optind - 1];
	int len = (int)strcspn(arg, "=");
	bool known = optopt >= 256 || (optopt > 0 && optopt != ':' && strchr(spec->shortopts, optopt));

	if (c == ':' && !strncmp(arg, "--", 2))
		return usage_error(spec->name, true, "option '%.*s' requires an argument", len, arg);
	if (c == ':')
		return usage_error(spec->name, true, "option '-%c' requires an argument", optopt);
	if (optopt == 0) /* an unknown or ambiguous long option */
		return usage_error(spec->name, true, "unknown option '%.*s'", len, arg);
	if (!known)
		return usage_error(spec->name, true, "unknown option '-%c'", optopt);
	/* '?' for a known option: only a long one given "=value" it does not take. */
	return usage_error(spec->name, true, "option '%.*s' takes no argument", len, arg);
}

int cli_parse_verbosity(const char *arg, int cur, int *ret)
{
	size_t n;

	if (!arg) {
		n = 1;
	} else if (arg[0] == 'v' && strspn(arg, "v") == strlen(arg)) {
		n = strlen(arg) + 1; /* -vvv: getopt hands over "vv" */
	} else if (arg[0] >= '0' && arg[0] <= '0' + CLI_VERBOSITY_MAX && !arg[1]) {
		*ret = arg[0] - '0';
		return 0;
	} else {
		return -EINVAL;
	}
	*ret = (int)MIN((size_t)CLI_VERBOSITY_MAX, (size_t)MAX(cur, 0) + n);
	return 0;
}

int cli_parse_inherit_fd(const char *arg, struct ckpt_inherit_fd *ret)
{
	char num[16];
	size_t len;
	int32_t fd;

	if (strncmp(arg, "fd[", 3))
		return -EINVAL;
	arg += 3;
	len = strspn(arg, "0123456789");
	if (len == 0 || len >= sizeof(num) || arg[len] != ']' || arg[len + 1] != ':' || !arg[len + 2])
		return -EINVAL;
	memcpy(num, arg, len);
	num[len] = '\0';
	if (safe_atoi32(num, &fd) < 0 || fd < 0)
		return -EINVAL;
	ret->fd = fd;
	ret->key = arg + len + 2;
	return fcntl(fd, F_GETFD) < 0 ? -EBADF : 0;
}

static void global_init(struct cli_global *g, const struct cli_global *base)
{
	if (base)
		*g = *base;
	else
		*g = (struct cli_global){.verbosity = CLI_VERBOSITY_DEFAULT};
}

typedef int (*verb_opt_fn)(int c, const char *arg, void *ret);

/*
 * The loop shared by the verbs: common options here, the verb's own through fn. Returns
 * CLI_RUN with *ret_first the index of the first positional argument (argv is permuted),
 * CLI_HELP, or -EINVAL.
 */
static int parse_verb(const struct verb_spec *spec, int argc, char **argv, struct cli_global *g,
		      verb_opt_fn fn, void *ret, int *ret_first)
{
	int c, r;

	optind = 0; /* GNU: start over, this parser runs more than once in a process */
	opterr = 0;
	while ((c = getopt_long(argc, argv, spec->shortopts, spec->longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			if (spec->help) {
				fputs(spec->help, stdout);
				fputs(COMMON_HELP, stdout);
			}
			return CLI_HELP;
		case 'v':
			if (cli_parse_verbosity(optarg, g->verbosity, &g->verbosity) < 0)
				return usage_error(spec->name, false, "invalid verbosity '%s' (0 to 4)",
						   optarg);
			break;
		case 'o':
			if (!*optarg)
				return usage_error(spec->name, false, "empty --log-file");
			g->log_file = optarg;
			break;
		case OPT_SERVICE:
			if (!*optarg)
				return usage_error(spec->name, false, "empty --service");
			g->service = optarg;
			break;
		case OPT_MUNGE_SOCKET:
			if (!*optarg)
				return usage_error(spec->name, false, "empty --munge-socket");
			g->munge_socket = optarg;
			break;
		case ':':
		case '?':
			return option_error(c, argv, spec);
		default:
			r = fn(c, optarg, ret);
			if (r < 0)
				return r;
		}
	}
	if (argc - optind > spec->max_args)
		return usage_error(spec->name, true, "unexpected argument '%s'",
				   argv[optind + spec->max_args]);
	*ret_first = optind;
	return CLI_RUN;
}

static const struct option main_longopts[] = {
	COMMON_LONG,
	{"version", no_argument, NULL, 'V'},
	{},
};

static int main_opt(int c, const char *arg, void *p)
{
	struct cli_main *m = p;

	if (c == 'V')
		m->version = true;
	return 0;
}

int cli_parse_main(int argc, char **argv, struct cli_main *ret)
{
	/* '+': stop at the verb; its options are the verb's. */
	static const struct verb_spec spec = {
		.shortopts = "+" COMMON_SHORT "V",
		.longopts = main_longopts,
		.max_args = INT_MAX,
	};
	int r, first;

	*ret = (struct cli_main){0};
	global_init(&ret->g, NULL);
	r = parse_verb(&spec, argc, argv, &ret->g, main_opt, ret, &first);
	if (r == CLI_HELP) {
		ret->help = true;
		return CLI_RUN;
	}
	if (r < 0)
		return r;
	ret->verb = first < argc ? first : 0;
	return CLI_RUN;
}

/* A pid as the user wrote it: digits only (safe_atopid alone lets strtoul skip blanks). */
static int parse_pid(const char *verb, const char *opt, const char *arg, pid_t *ret)
{
	if (!isdigit((unsigned char)arg[0]) || safe_atopid(arg, ret) < 0)
		return usage_error(verb, false, "invalid pid '%s' for %s", arg, opt);
	return 0;
}

static int nonempty(const char *verb, const char *opt, const char *arg)
{
	return *arg ? 0 : usage_error(verb, false, "empty argument for %s", opt);
}

static const struct option dump_longopts[] = {
	COMMON_LONG,
	{"tree", required_argument, NULL, 't'},
	{"images-dir", required_argument, NULL, 'D'},
	{"leave-running", no_argument, NULL, 'R'},
	{"leave-stopped", no_argument, NULL, 's'},
	{"shell-job", no_argument, NULL, 'j'},
	{"freeze-cgroup", required_argument, NULL, OPT_FREEZE_CGROUP},
	{"save-path", required_argument, NULL, OPT_SAVE_PATH},
	{"file-locks", no_argument, NULL, OPT_FILE_LOCKS},
	{"ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK},
	{"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
	{},
};

static const struct verb_spec dump_spec = {
	.name = "dump",
	.shortopts = COMMON_SHORT "t:D:Rsj",
	.longopts = dump_longopts,
	.help = "Usage: ckpt dump -t PID [-D DIR] [options]\n"
		"Checkpoint the process tree rooted at PID into DIR. The tree is killed afterwards\n"
		"unless -R or -s is given.\n\n"
		"  -t, --tree PID          root of the tree to dump (required)\n"
		"  -D, --images-dir DIR    where the images go (default: .); created, mode 0700,\n"
		"                          when missing; the log goes to DIR/dump.log unless -o\n"
		"  -R, --leave-running     let the tree run on after the dump\n"
		"  -s, --leave-stopped     leave the tree stopped (SIGSTOP) after the dump\n"
		"  -j, --shell-job         the tree's session and terminal belong to the caller\n"
		"      --freeze-cgroup PATH\n"
		"                          freeze this cgroup (v1 freezer or v2) during the dump\n"
		"      --save-path PATH    save the regular files the tree has open at PATH (or\n"
		"                          under it, when PATH ends in /) with the image; restore\n"
		"                          puts them back as they were (repeatable)\n"
		"      --file-locks        dump the flock, POSIX and OFD locks the tree holds\n"
		"                          (restore them with restore --file-locks)\n"
		"      --ext-unix-sk       a unix socket connected to a peer outside the tree is\n"
		"                          connected again at restore to the peer's address\n"
		"      --tcp-established   dump TCP sockets: established connections (in repair\n"
		"                          mode: the peer sees nothing), listening and unbound\n"
		"                          ones (restore them with restore --tcp-established)\n",
	.max_args = 0,
};

static int add_save_path(struct cli_dump *d, const char *arg)
{
	const char **v;

	if (arg[0] != '/')
		return usage_error("dump", false, "--save-path '%s': not an absolute path", arg);
	v = reallocarray(d->save_paths, d->n_save_paths + 2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[d->n_save_paths++] = arg;
	v[d->n_save_paths] = NULL;
	d->save_paths = v;
	d->opts.save_paths = v;
	return 0;
}

static int dump_opt(int c, const char *arg, void *p)
{
	struct cli_dump *d = p;

	switch (c) {
	case 't':
		return parse_pid("dump", "--tree", arg, &d->opts.pid);
	case 'D':
		d->opts.images_dir = arg;
		return nonempty("dump", "--images-dir", arg);
	case 'R':
		d->opts.leave_running = true;
		return 0;
	case 's':
		d->opts.leave_stopped = true;
		return 0;
	case 'j':
		d->opts.shell_job = true;
		return 0;
	case OPT_FREEZE_CGROUP:
		d->opts.freeze_cgroup = arg;
		return nonempty("dump", "--freeze-cgroup", arg);
	case OPT_SAVE_PATH:
		return add_save_path(d, arg);
	case OPT_FILE_LOCKS:
		d->opts.file_locks = true;
		return 0;
	case OPT_EXT_UNIX_SK:
		d->opts.ext_unix_sk = true;
		return 0;
	case OPT_TCP_ESTABLISHED:
		d->opts.tcp_established = true;
		return 0;
	}
	return -EINVAL;
}

int cli_parse_dump(int argc, char **argv, const struct cli_global *base, struct cli_dump *ret)
{
	int r, first;

	*ret = (struct cli_dump){.opts = {.sz = sizeof(ret->opts), .images_dir = "."}};
	global_init(&ret->g, base);
	r = parse_verb(&dump_spec, argc, argv, &ret->g, dump_opt, ret, &first);
	if (r != CLI_RUN)
		return r;
	if (!ret->opts.pid)
		return usage_error("dump", true, "missing --tree (-t PID)");
	if (ret->opts.leave_running && ret->opts.leave_stopped)
		return usage_error("dump", false, "--leave-running and --leave-stopped exclude each other");
	if (ret->g.service && (ret->opts.file_locks || ret->opts.ext_unix_sk))
		return usage_error("dump", false,
				   "--file-locks and --ext-unix-sk cannot go through --service");
	if (ret->g.service && ret->opts.tcp_established)
		return usage_error("dump", false, "--tcp-established cannot go through --service");
	return CLI_RUN;
}

static const struct option restore_longopts[] = {
	COMMON_LONG,
	{"images-dir", required_argument, NULL, 'D'},
	{"restore-detached", no_argument, NULL, 'd'},
	{"pidfile", required_argument, NULL, OPT_PIDFILE},
	{"no-pidns", no_argument, NULL, OPT_NO_PIDNS},
	{"mount-proc", no_argument, NULL, OPT_MOUNT_PROC},
	{"owner", required_argument, NULL, OPT_OWNER},
	{"shell-job", no_argument, NULL, 'j'},
	{"inherit-fd", required_argument, NULL, OPT_INHERIT_FD},
	{"file-locks", no_argument, NULL, OPT_FILE_LOCKS},
	{"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
	{},
};

static const struct verb_spec restore_spec = {
	.name = "restore",
	.shortopts = COMMON_SHORT "D:dj",
	.longopts = restore_longopts,
	.help = "Usage: ckpt restore [-D DIR] [options]\n"
		"Restore the process tree checkpointed in DIR and, without -d, wait for its root: ckpt\n"
		"then exits with the root's exit code, or 128+N when signal N killed it. DIR is only\n"
		"read.\n\n"
		"  -D, --images-dir DIR    the checkpoint (default: .)\n"
		"  -d, --restore-detached  return once the tree runs\n"
		"      --pidfile FILE      write the host pid of the restored root to FILE\n"
		"      --no-pidns          restore into this PID namespace (pids must be free)\n"
		"      --mount-proc        also a new mount namespace whose /proc shows the new PID\n"
		"                          namespace\n"
		"      --owner UID:GID     refuse images whose tasks are not exactly UID:GID (no other\n"
		"                          groups) or hold capabilities UID has not\n"
		"  -j, --shell-job         give the tree this terminal and session\n"
		"      --inherit-fd fd[N]:KEY\n"
		"                          use this process's open fd N for the external object KEY\n"
		"                          (as 'ckpt show' prints it, e.g. pipe:[1234], or\n"
		"                          file:PATH for a regular file open at PATH); repeatable\n"
		"      --file-locks        take the file locks of a dump --file-locks again\n"
		"      --tcp-established   rebuild the TCP connections of a dump --tcp-established\n"
		"                          (their local addresses must be free)\n",
	.max_args = 0,
};

static int add_inherit_fd(struct cli_restore *r, const char *arg)
{
	struct ckpt_inherit_fd in, *n;
	int e = cli_parse_inherit_fd(arg, &in);

	if (e == -EBADF)
		return usage_error("restore", false, "--inherit-fd '%s': fd %d is not open", arg, in.fd);
	if (e < 0)
		return usage_error("restore", false, "invalid --inherit-fd '%s' (expected fd[N]:KEY)", arg);
	for (size_t i = 0; i < r->opts.n_inherit_fds; i++)
		if (!strcmp(r->inherit_fds[i].key, in.key))
			return usage_error("restore", false, "--inherit-fd: key '%s' given twice", in.key);
	n = reallocarray(r->inherit_fds, r->opts.n_inherit_fds + 1, sizeof(*n));
	if (!n)
		return usage_error("restore", false, "out of memory");
	n[r->opts.n_inherit_fds++] = in;
	r->inherit_fds = n;
	r->opts.inherit_fds = n;
	return 0;
}

static int parse_owner(const char *arg, struct ckpt_restore_opts *o)
{
	_cleanup_free_ char *u = strdup(arg);
	char *g = u ? strchr(u, ':') : NULL;
	uint32_t uid, gid;

	if (!g)
		return usage_error("restore", false, "--owner '%s': expected UID:GID", arg);
	*g++ = '\0';
	if (safe_atou32(u, &uid) < 0 || safe_atou32(g, &gid) < 0 || uid == (uint32_t)-1 ||
	    gid == (uint32_t)-1)
		return usage_error("restore", false, "--owner '%s': expected UID:GID", arg);
	o->check_owner = true;
	o->owner_uid = uid;
	o->owner_gid = gid;
	return 0;
}

static int restore_opt(int c, const char *arg, void *p)
{
	struct cli_restore *r = p;

	switch (c) {
	case 'D':
		r->opts.images_dir = arg;
		return nonempty("restore", "--images-dir", arg);
	case 'd':
		r->opts.detach = true;
		return 0;
	case OPT_PIDFILE:
		r->opts.pidfile = arg;
		return nonempty("restore", "--pidfile", arg);
	case OPT_NO_PIDNS:
		r->opts.no_pidns = true;
		return 0;
	case OPT_MOUNT_PROC:
		r->opts.mount_proc = true;
		return 0;
	case OPT_OWNER:
		return parse_owner(arg, &r->opts);
	case 'j':
		r->opts.shell_job = true;
		return 0;
	case OPT_INHERIT_FD:
		return add_inherit_fd(r, arg);
	case OPT_FILE_LOCKS:
		r->opts.file_locks = true;
		return 0;
	case OPT_TCP_ESTABLISHED:
		r->opts.tcp_established = true;
		return 0;
	}
	return -EINVAL;
}

/*
 * ckptd restores detached into a new PID namespace of its own: what needs this process
 * (waiting for the root, our terminal, our fds, our PID namespace) cannot go through it.
 */
static int restore_service_check(const struct cli_restore *r)
{
	if (!r->opts.detach)
		return usage_error("restore", false,
				   "a restore through --service is detached: add -d (--restore-detached)");
	if (r->opts.no_pidns)
		return usage_error("restore", false, "--no-pidns cannot go through --service");
	if (r->opts.shell_job)
		return usage_error("restore", false, "--shell-job cannot go through --service");
	if (r->opts.n_inherit_fds)
		return usage_error("restore", false, "--inherit-fd cannot go through --service");
	if (r->opts.mount_proc || r->opts.check_owner)
		return usage_error("restore", false, "--mount-proc and --owner cannot go through --service");
	if (r->opts.file_locks)
		return usage_error("restore", false, "--file-locks cannot go through --service");
	if (r->opts.tcp_established)
		return usage_error("restore", false, "--tcp-established cannot go through --service");
	return CLI_RUN;
}

int cli_parse_restore(int argc, char **argv, const struct cli_global *base, struct cli_restore *ret)
{
	int r, first;

	*ret = (struct cli_restore){.opts = {.sz = sizeof(ret->opts), .images_dir = "."}};
	global_init(&ret->g, base);
	r = parse_verb(&restore_spec, argc, argv, &ret->g, restore_opt, ret, &first);
	if (r == CLI_RUN && ret->g.service)
		r = restore_service_check(ret);
	if (r != CLI_RUN) {
		cli_restore_free(ret);
		return r;
	}
	return CLI_RUN;
}

void cli_restore_free(struct cli_restore *r)
{
	free(r->inherit_fds);
	r->inherit_fds = NULL;
	r->opts.inherit_fds = NULL;
	r->opts.n_inherit_fds = 0;
}

static const struct option check_longopts[] = {
	COMMON_LONG,
	{},
};

static const struct verb_spec check_spec = {
	.name = "check",
	.shortopts = COMMON_SHORT,
	.longopts = check_longopts,
	.help = "Usage: ckpt check [options]\n"
		"Probe the kernel features ckpt needs or can use and print one line for each. Exits 1\n"
		"when a required one is missing.\n\n",
	.max_args = 0,
};

static int no_opt(int c, const char *arg, void *p)
{
	return -EINVAL;
}

int cli_parse_check(int argc, char **argv, const struct cli_global *base, struct cli_check *ret)
{
	int first;

	*ret = (struct cli_check){0};
	global_init(&ret->g, base);
	return parse_verb(&check_spec, argc, argv, &ret->g, no_opt, ret, &first);
}

static const struct option show_longopts[] = {
	COMMON_LONG,
	{"images-dir", required_argument, NULL, 'D'},
	{},
};

static const struct verb_spec show_spec = {
	.name = "show",
	.shortopts = COMMON_SHORT "D:",
	.longopts = show_longopts,
	.help = "Usage: ckpt show [DIR | -D DIR] [options]\n"
		"Print every image of DIR (default: .) as one JSON document on stdout.\n\n"
		"  -D, --images-dir DIR    the checkpoint, as the DIR argument\n",
	.max_args = 1,
};

static int show_opt(int c, const char *arg, void *p)
{
	struct cli_show *s = p;

	if (c != 'D')
		return -EINVAL;
	s->images_dir = arg;
	return nonempty("show", "--images-dir", arg);
}

int cli_parse_show(int argc, char **argv, const struct cli_global *base, struct cli_show *ret)
{
	int r, first;

	*ret = (struct cli_show){0};
	global_init(&ret->g, base);
	r = parse_verb(&show_spec, argc, argv, &ret->g, show_opt, ret, &first);
	if (r != CLI_RUN)
		return r;
	if (ret->g.service)
		return usage_error("show", false, "show reads the images itself: it does not take --service");
	if (first < argc) {
		if (ret->images_dir)
			return usage_error("show", true, "give the directory once: as DIR or with -D");
		ret->images_dir = argv[first];
		if (nonempty("show", "DIR", argv[first]) < 0)
			return -EINVAL;
	}
	if (!ret->images_dir)
		ret->images_dir = ".";
	return CLI_RUN;
}

static const struct option status_longopts[] = {
	COMMON_LONG,
	{},
};

static const struct verb_spec status_spec = {
	.name = "status",
	.shortopts = COMMON_SHORT,
	.longopts = status_longopts,
	.help = "Usage: ckpt [--service SOCKET] status [options]\n"
		"Ask ckptd (default socket " CLI_DEFAULT_SERVICE ") what it is doing: its counters,\n"
		"then one line for each recent job you may see (all of them for root and the\n"
		"service account): queued, running, done, failed or cancelled.\n\n",
	.max_args = 0,
};

int cli_parse_status(int argc, char **argv, const struct cli_global *base, struct cli_status *ret)
{
	int first;

	*ret = (struct cli_status){0};
	global_init(&ret->g, base);
	return parse_verb(&status_spec, argc, argv, &ret->g, no_opt, ret, &first);
}

static const struct option cancel_longopts[] = {
	COMMON_LONG,
	{},
};

static const struct verb_spec cancel_spec = {
	.name = "cancel",
	.shortopts = COMMON_SHORT,
	.longopts = cancel_longopts,
	.help = "Usage: ckpt [--service SOCKET] cancel JOB\n"
		"Cancel job JOB of ckptd (default socket " CLI_DEFAULT_SERVICE "), as 'ckpt status'\n"
		"lists it. A queued job is dropped; a running dump is stopped and its tree left\n"
		"running, its images removed. A running restore cannot be cancelled.\n\n",
	.max_args = 1,
};

static const struct option job_longopts[] = {
	COMMON_LONG,
	{"requeue", no_argument, NULL, OPT_REQUEUE},
	{"cancel", no_argument, NULL, OPT_CANCEL},
	{},
};

static const struct verb_spec job_spec = {
	.name = "job",
	.shortopts = COMMON_SHORT,
	.longopts = job_longopts,
	.help = "Usage: ckpt [--service SOCKET] job checkpoint JOBID [--requeue | --cancel]\n"
		"       ckpt [--service SOCKET] job list [JOBID]\n"
		"       ckpt [--service SOCKET] job forget JOBID\n"
		"The checkpoints of Slurm jobs submitted with 'sbatch --checkpoint', through ckptd\n"
		"(default socket " CLI_DEFAULT_SERVICE "). Users act on their own jobs; root and\n"
		"ckptd's service account on any.\n\n"
		"  checkpoint JOBID   checkpoint the job now (on the node whose ckptd runs it) and\n"
		"                     wait until the checkpoint is committed\n"
		"      --requeue      then requeue the job: it goes on from the checkpoint\n"
		"      --cancel       then cancel it; the checkpoint is kept\n"
		"  list [JOBID]       the committed checkpoints, and the jobs this ckptd watches\n"
		"  forget JOBID       delete every checkpoint of the job\n\n",
	.max_args = 2,
};

static int job_opt(int c, const char *arg, void *p)
{
	struct cli_job *j = p;

	(void)arg;
	if (c == OPT_REQUEUE)
		j->requeue = true;
	else if (c == OPT_CANCEL)
		j->cancel = true;
	else
		return -EINVAL;
	return 0;
}

static int job_action(const char *s, enum cli_job_action *ret)
{
	static const char *const names[] = {"checkpoint", "list", "forget"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*ret = (enum cli_job_action)i;
			return 0;
		}
	return -EINVAL;
}

int cli_parse_job(int argc, char **argv, const struct cli_global *base, struct cli_job *ret)
{
	int r, first;

	*ret = (struct cli_job){0};
	global_init(&ret->g, base);
	r = parse_verb(&job_spec, argc, argv, &ret->g, job_opt, ret, &first);
	if (r != CLI_RUN)
		return r;
	if (first >= argc)
		return usage_error("job", true, "missing the action: checkpoint, list or forget");
	if (job_action(argv[first], &ret->action) < 0)
		return usage_error("job", true, "unknown action '%s'", argv[first]);
	if (first + 1 < argc && (!isdigit((unsigned char)argv[first + 1][0]) ||
				 safe_atou32(argv[first + 1], &ret->job_id) < 0 || ret->job_id == 0))
		return usage_error("job", false, "invalid job ID '%s'", argv[first + 1]);
	if (!ret->job_id && ret->action != CLI_JOB_LIST)
		return usage_error("job", true, "missing the job ID");
	if ((ret->requeue || ret->cancel) && ret->action != CLI_JOB_CHECKPOINT)
		return usage_error("job", false, "--requeue and --cancel go with 'checkpoint'");
	if (ret->requeue && ret->cancel)
		return usage_error("job", false, "--requeue and --cancel exclude each other");
	return CLI_RUN;
}

int cli_parse_cancel(int argc, char **argv, const struct cli_global *base, struct cli_cancel *ret)
{
	int r, first;

	*ret = (struct cli_cancel){0};
	global_init(&ret->g, base);
	r = parse_verb(&cancel_spec, argc, argv, &ret->g, no_opt, ret, &first);
	if (r != CLI_RUN)
		return r;
	if (first >= argc)
		return usage_error("cancel", true, "missing the job to cancel");
	if (!isdigit((unsigned char)argv[first][0]) || safe_atou64(argv[first], 10, &ret->job_id) < 0 ||
	    ret->job_id == 0)
		return usage_error("cancel", false, "invalid job '%s'", argv[first]);
	return CLI_RUN;
}
