/* SPDX-License-Identifier: MIT */
/*
 * ckptd: the per-node checkpoint daemon.
 * Start-up: options and configuration, the socket, (daemonize), capabilities, the kernel
 * probe, the workers; then the event loop until SIGTERM, which lets running jobs finish.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "caps.h"
#include "ckptd.h"
#include "config.h"
#include "log.h"
#include "peers.h"
#include "tcp.h"
#include "rpc.h"
#include "server.h"
#include "sjobs.h"
#include "watcher.h"
#include "sink.h"
#include "workers.h"

struct args {
	const char *config;
	bool config_given;
	bool foreground;
	struct config_override *ov;
	size_t n_ov;
};

static struct args args = {.config = CKPTD_DEFAULT_CONFIG};
static struct ckptd_config *cfg;

enum { OPT_KEY = 1000 };

static void usage(FILE *f)
{
	fprintf(f, "Usage: ckptd [-f] [-c FILE] [--KEY VALUE]...\n"
		   "The checkpoint/restore daemon: serves dump, restore, check, status, list, cancel and\n"
		   "version requests on a unix socket.\n\n"
		   "  -c, --config FILE   configuration file (" CKPTD_DEFAULT_CONFIG ")\n"
		   "  -f, --foreground    stay in the foreground and log to stderr (default: daemonize, "
		   "syslog)\n"
		   "  -v, --verbose       same as --log-level debug\n"
		   "  -V, --version       print the version\n"
		   "  -h, --help          this text\n\n"
		   "Every configuration key is also an option, which wins over the file\n"
		   "(--service-user and --service_user are the same):\n");
	for (size_t i = 0; i < config_nr_keys(); i++)
		fprintf(f, "  --%-18s %s\n", config_key(i), config_key_help(i));
	fprintf(f,
		"\nSignals: SIGHUP re-reads the configuration; SIGTERM finishes running jobs, then exits.\n");
}

/* Fixed options plus one per configuration key, spelled with '_' and with '-'. */
static struct option *build_options(void)
{
	static const struct option fixed[] = {
		{"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},	  {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
	};
	size_t nk = config_nr_keys(), n = 0;
	struct option *o = calloc(ARRAY_SIZE(fixed) + 2 * nk + 1, sizeof(*o));

	if (!o)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		o[n++] = fixed[i];
	for (size_t i = 0; i < nk; i++) {
		char *dash = strdup(config_key(i));

		if (!dash)
			return NULL;
		for (char *s = dash; *s; s++)
			if (*s == '_')
				*s = '-';
		o[n++] = (struct option){config_key(i), required_argument, NULL, OPT_KEY + (int)i};
		if (strcmp(dash, config_key(i)))
			o[n++] = (struct option){dash, required_argument, NULL, OPT_KEY + (int)i};
		else
			free(dash);
	}
	return o;
}

/* 0 to run, 1 to return 0 (--help, --version), -EINVAL on a usage error. */
static int parse_args(int argc, char **argv)
{
	_cleanup_free_ struct option *opts = build_options();
	int c;

	args.ov = calloc((size_t)argc + 1, sizeof(*args.ov));
	if (!opts || !args.ov)
		return -ENOMEM;
	while ((c = getopt_long(argc, argv, "c:fvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			args.config = optarg;
			args.config_given = true;
			break;
		case 'f':
			args.foreground = true;
			break;
		case 'v':
			args.ov[args.n_ov++] = (struct config_override){"log_level", "debug"};
			break;
		case 'V':
			printf("ckptd %s (protocol %u)\n", CKPT_VERSION, CKPTD_PROTOCOL);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			if (c < OPT_KEY || c >= OPT_KEY + (int)config_nr_keys()) {
				usage(stderr);
				return -EINVAL;
			}
			args.ov[args.n_ov++] =
				(struct config_override){config_key((size_t)(c - OPT_KEY)), optarg};
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ckptd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int load_config(struct ckptd_config **ret)
{
	struct ckptd_config *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = config_load(args.config, args.config_given, args.ov, args.n_ov, c);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static int reload(void)
{
	struct ckptd_config *c = NULL;
	int r = load_config(&c);

	if (r < 0)
		return pr_err("the configuration has errors: keeping the current one"), r;
	if (strcmp(c->socket, cfg->socket) || c->socket_mode != cfg->socket_mode)
		pr_warn("a new socket or socket_mode takes a restart");
	if (strcmp(c->tcp_listen, cfg->tcp_listen) || strcmp(c->munge_socket, cfg->munge_socket))
		pr_warn("a new tcp_listen or munge_socket takes a restart");
	server_set_tcp_timeout(c->tcp_timeout_ms);
	sink_set_level(c->log_level);
	server_set_max_clients(c->max_clients);
	pool_configure(c->workers, c->queue_max, c->history);
	rpc_set_config(c);
	if (sjobs_configure(c) < 0)
		pr_warn("Slurm jobs keep their former configuration");
	config_free(cfg);
	free(cfg);
	cfg = c;
	pr_info("configuration reloaded: %u workers, service user '%s'", c->workers, c->service_user);
	return 0;
}

static int write_pid_file(const char *path)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return pr_perror("cannot write pid file '%s'", path);
	return write_all(fd, buf, (size_t)n);
}

/* Fork to the background: 1 in the parent (which returns), 0 in the daemon. */
static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return pr_perror("fork");
	if (pid > 0)
		return 1;
	setsid();
	if (chdir("/") < 0)
		return pr_perror("chdir /");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("/dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	sink_start(false, cfg->log_level);
	if (*cfg->pid_file)
		return write_pid_file(cfg->pid_file);
	return 0;
}

/* Signals: SIGTERM, SIGINT, SIGHUP go to the event loop's signalfd, in every thread. */
static int setup_process(void)
{
	struct rlimit rl;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return pr_perror("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	/* A client is one fd: allow as many as the hard limit does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return 0;
}

static void probe_kernel(void)
{
	const struct ckpt_feature *f = NULL;
	size_t n = 0;

	if (ckpt_check(&f, &n) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (f[i].required && !f[i].present)
			pr_warn("kernel feature '%s' is missing: %s", f[i].name, f[i].detail ?: "");
}

/*
 * tcp://HOST:PORT other nodes dial: the listener's address, with this host's name in place
 * of a wildcard (0.0.0.0, [::]).
 */
static int tcp_public_address(char **ret)
{
	const char *bound = tcp_bound_name(), *port = strrchr(bound, ':');
	char host[256];

	if (!port)
		return -ENOTCONN;
	if (strncmp(bound, "0.0.0.0:", 8) && strncmp(bound, "[::]:", 5))
		return asprintf(ret, "tcp://%s", bound) < 0 ? -ENOMEM : 0;
	if (gethostname(host, sizeof(host)) < 0)
		return -errno;
	host[sizeof(host) - 1] = '\0';
	return asprintf(ret, "tcp://%s%s", host, port) < 0 ? -ENOMEM : 0;
}

/* With a layout and a TCP listener: tell the other nodes where this one listens. */
static bool publish_address(void)
{
	_cleanup_free_ char *addr = NULL;

	if (!*cfg->images_root || !*cfg->tcp_listen)
		return false;
	if (tcp_public_address(&addr) < 0 || peers_publish(cfg->images_root, cfg->node_name, addr) < 0) {
		pr_warn("other nodes cannot forward requests about this node's jobs here");
		return false;
	}
	return true;
}

static int serve(int lfd)
{
	bool published;
	static const struct server_hooks hooks = {.reload = reload};
	int r;

	server_set_max_clients(cfg->max_clients);
	rpc_set_config(cfg);
	r = pool_start(cfg->workers, cfg->queue_max, cfg->history, rpc_job_done);
	if (r < 0)
		return r;
	r = sjobs_configure(cfg);
	if (r == 0)
		r = watcher_start(cfg);
	if (r < 0) {
		pool_stop();
		return r;
	}
	published = publish_address();
	pr_info("ckptd %s listening on '%s' with %u workers", CKPT_VERSION, cfg->socket, cfg->workers);
	r = server_run(lfd, &hooks);
	if (published)
		peers_unpublish(cfg->images_root, cfg->node_name);
	close(lfd);
	unlink(cfg->socket);
	watcher_stop();
	pool_stop();
	sjobs_shutdown();
	return r;
}

int main(int argc, char **argv)
{
	_cleanup_close_ int lfd = -EBADF;
	int r;

	r = parse_args(argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 2;
	/* stderr until daemonized: a bad configuration is reported where it was started. */
	sink_start(true, CKPT_LOG_INFO);
	r = load_config(&cfg);
	if (r < 0)
		return 1;
	sink_set_level(cfg->log_level);
	r = setup_process();
	if (r == 0)
		r = server_listen(cfg->socket, cfg->socket_mode, &lfd);
	if (r == 0 && *cfg->tcp_listen) /* off by default: other nodes, with munge credentials */
		r = server_listen_tcp(cfg->tcp_listen, cfg->munge_socket, cfg->tcp_timeout_ms);
	if (r == 0 && !args.foreground) {
		r = daemonize();
		if (r > 0) {
			lfd = -EBADF; /* the daemon's now: do not let a cleanup unlink or close anything */
			return 0;
		}
	}
	if (r == 0)
		r = caps_drop();
	if (r < 0)
		return 1;
	probe_kernel();
	r = serve(TAKE_FD(lfd));
	if (!args.foreground && *cfg->pid_file)
		unlink(cfg->pid_file);
	pr_info("ckptd stopped");
	return r < 0 ? 1 : 0;
}
