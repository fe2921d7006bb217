/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <sys/mount.h>
#include "log.h"
#include "pidns.h"

int pidns_mount_proc(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return pr_perror("unshare(CLONE_NEWNS)");
	/* mount(2): MS_SLAVE, so that nothing we mount leaks out and the host's still come in */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return pr_perror("making / a slave mount");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return pr_perror("mounting /proc of the new PID namespace");
	return 0;
}
