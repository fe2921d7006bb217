/* SPDX-License-Identifier: MIT */
/*
 * The refusals that must come before the tree is touched: fds of kinds no restore brings
 * back (fdcheck.c), SCHED_DEADLINE (procattr.c), seccomp strict mode or per-thread filters
 * (seccomp.c, which also suspends the filters of a filtered task for the injections).
 */
#include "fdcheck.h"
#include "precheck.h"
#include "procattr.h"
#include "seccomp.h"

int precheck_tree(const struct pstree *t, const struct ckpt_dump_opts *opts)
{
	for (size_t i = 0; i < t->nr_tasks; i++) {
		const struct task *task = t->tasks[i];
		int r;

		if (task->zombie)
			continue;
		r = fdcheck_task(task, opts);
		if (r == 0)
			r = procattr_check(task);
		if (r == 0)
			r = seccomp_check(task);
		if (r < 0)
			return r;
	}
	return 0;
}
