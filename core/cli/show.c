/* SPDX-License-Identifier: MIT */
/* ckpt show: every image of a checkpoint as JSON on stdout (ckpt_show_dir of core/show.c). */
#include "cli.h"
#include "show.h"

int cli_verb_show(int argc, char **argv, const struct cli_global *g)
{
	struct cli_show s;
	int r;

	r = cli_parse_show(argc, argv, g, &s);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_log_start(&s.g, s.images_dir, NULL) < 0)
		return CLI_EXIT_FAIL;
	r = ckpt_show_dir(s.images_dir, stdout);
	if (r < 0)
		return cli_failed(r, "show failed");
	if (fflush(stdout) != 0)
		return cli_error("writing to stdout: %m");
	return CLI_EXIT_OK;
}
