/* SPDX-License-Identifier: MIT */
/*
 * ckpt restore: restore a tree (ckpt_restore) and, without -d, exit as its root did. The
 * images directory is only read: no log file there unless -o asks for one.
 */
#include <sys/wait.h>
#include "cli.h"

/* The shell's convention: the exit code, or 128 + the signal that killed it. */
static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return CLI_EXIT_FAIL;
}

int cli_verb_restore(int argc, char **argv, const struct cli_global *g)
{
	struct cli_restore rs;
	pid_t pid = 0;
	int r, status = 0;

	r = cli_parse_restore(argc, argv, g, &rs);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (rs.g.service) {
		r = cli_service_restore(&rs);
		cli_restore_free(&rs);
		return r;
	}
	r = cli_log_start(&rs.g, rs.opts.images_dir, NULL);
	if (r == 0)
		r = ckpt_restore(&rs.opts, &pid, &status);
	cli_restore_free(&rs);
	if (r < 0)
		return cli_failed(r, "restore failed");
	if (rs.opts.detach) {
		cli_msg(CKPT_LOG_INFO, "Restored; the root runs as pid %d", pid);
		return CLI_EXIT_OK;
	}
	/* The root's status is passed on as it is, with no message of ours. */
	return exit_code_of(status);
}
