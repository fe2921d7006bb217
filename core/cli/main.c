/* SPDX-License-Identifier: MIT */
/* ckpt: the command line front of libckpt. One verb per file, dispatched from this table. */
#include <stdio.h>
#include "cli.h"

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv, const struct cli_global *g);
	const char *summary;
} verbs[] = {
	{"check", cli_verb_check, "probe the kernel features ckpt needs"},
	{"dump", cli_verb_dump, "checkpoint a process tree into an images directory"},
	{"restore", cli_verb_restore, "restore a process tree from an images directory"},
	{"show", cli_verb_show, "print the images of a checkpoint as JSON"},
	{"status", cli_verb_status, "what ckptd is doing: running, queued and recent jobs"},
	{"cancel", cli_verb_cancel, "cancel a queued job or a running dump of ckptd"},
	{"job", cli_verb_job, "checkpoint, list or forget Slurm jobs' checkpoints (ckptd)"},
};

static void usage(FILE *out)
{
	fputs("Usage: ckpt [-v[N]] [-o FILE] [--service SOCKET] COMMAND [options]\n"
	      "       ckpt -h | --help | -V | --version\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nOptions before the command apply to it as if given after it:\n"
	      "  -v, --verbosity[=N]  0 errors, 1 warnings (default), 2 info, 3 or 4 debug\n"
	      "  -o, --log-file FILE  every message at debug level to FILE\n"
	      "      --service SOCKET  have ckptd(8) on SOCKET (or tcp://HOST:PORT) carry out the command\n"
	      "      --munge-socket PATH  munged's socket, for a tcp:// service\n\n"
	      "'ckpt COMMAND --help' describes a command; see also ckpt(1).\n",
	      out);
}

int main(int argc, char **argv)
{
	struct cli_main m;
	const char *name;
	int r;

	if (cli_parse_main(argc, argv, &m) < 0)
		return CLI_EXIT_USAGE;
	if (m.help) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (m.version) {
		printf("ckpt %s\n", CKPT_VERSION);
		return CLI_EXIT_OK;
	}
	if (!m.verb) {
		fputs("Error: no command given\nTry 'ckpt --help'.\n", stderr);
		return CLI_EXIT_USAGE;
	}
	name = argv[m.verb];
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strcmp(name, verbs[i].name))
			continue;
		r = verbs[i].run(argc - m.verb, argv + m.verb, &m.g);
		cli_log_stop();
		return r;
	}
	fprintf(stderr, "Error: unknown command '%s'\nTry 'ckpt --help'.\n", name);
	return CLI_EXIT_USAGE;
}
