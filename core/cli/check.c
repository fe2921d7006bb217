/* SPDX-License-Identifier: MIT */
/* ckpt check: the kernel features of ckpt_check(), one line each. */
#include "cli.h"

#define NAME_WIDTH 26

static void print_feature(const struct ckpt_feature *f)
{
	int dots = NAME_WIDTH - (int)strlen(f->name);
	const char *state = f->present ? "yes" : f->required ? "MISSING" : "no";

	printf("  %s %.*s %-3s", f->name, MAX(dots, 3), "..............................................",
	       state);
	if (f->detail && *f->detail)
		printf("  (%s)", f->detail);
	putchar('\n');
}

/* "a, b" of the required features that are absent; malloc'ed. */
static char *missing_list(const struct ckpt_feature *f, size_t n)
{
	char *list = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&list, &len);

	if (!m)
		return NULL;
	for (size_t i = 0, k = 0; i < n; i++)
		if (f[i].required && !f[i].present)
			fprintf(m, "%s%s", k++ ? ", " : "", f[i].name);
	if (fclose(m)) {
		free(list);
		return NULL;
	}
	return list;
}

/* r is ckpt_check()'s: 0, or -ENOTSUP when a required feature is missing. */
static int report(const struct ckpt_feature *f, size_t n, int r)
{
	_cleanup_free_ char *missing = NULL;

	for (size_t i = 0; i < n; i++)
		print_feature(&f[i]);
	if (r == 0)
		puts("Looks good.");
	if (fflush(stdout) != 0)
		return cli_error("writing the report: %m");
	if (r == 0)
		return CLI_EXIT_OK;
	missing = missing_list(f, n);
	return cli_error("Missing required features: %s", missing ?: "(out of memory)");
}

/* Through ckptd: the daemon's kernel, as the daemon probed it. */
static int check_service(const struct cli_check *c)
{
	struct ckpt_feature *f = NULL;
	void *buf = NULL;
	size_t n = 0;
	int r = cli_service_check(&c->g, &f, &n, &buf);

	if (r < 0 && r != -ENOTSUP)
		return CLI_EXIT_FAIL;
	r = report(f, n, r);
	cli_service_check_free(f, buf);
	return r;
}

int cli_verb_check(int argc, char **argv, const struct cli_global *g)
{
	const struct ckpt_feature *f = NULL;
	struct cli_check c;
	size_t n = 0;
	int r;

	r = cli_parse_check(argc, argv, g, &c);
	if (r != CLI_RUN)
		return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (cli_log_start(&c.g, NULL, NULL) < 0)
		return CLI_EXIT_FAIL;
	if (c.g.service)
		return check_service(&c);
	r = ckpt_check(&f, &n);
	if (r < 0 && r != -ENOTSUP)
		return cli_failed(r, "kernel probe failed");
	return report(f, n, r);
}
