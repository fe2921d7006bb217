/* SPDX-License-Identifier: MIT */
/*
 * Least privilege. ckptd keeps running as uid 0 (the engine reads /proc and writes images
 * as root) but with a permitted and effective set cut down to what dump and restore use; the
 * inheritable and ambient sets are emptied. The bounding set is left alone on purpose: it is
 * inherited by every restored task, and cutting it would take file capabilities (ping,
 * for instance) away from restored jobs for good. ckptd never executes a program, so the
 * bounding set gives a compromised ckptd nothing back.
 */
#include <sys/capability.h>
#include "caps.h"
#include "log.h"

static const cap_value_t keep[] = {
	CAP_SYS_PTRACE,		/* seize and inspect the tasks of any user (ptrace, /proc/PID/mem, pagemap) */
	CAP_CHECKPOINT_RESTORE, /* clone3 set_tid, /proc/PID/map_files, PR_SET_MM on kernels >= 5.9 */
	CAP_SYS_ADMIN,	     /* a new PID namespace for a restored tree; set_tid and PR_SET_MM before 5.9 */
	CAP_SYS_RESOURCE,    /* PR_SET_MM; restore rlimits above ours */
	CAP_SETUID,	     /* restore the tasks' uids; setfsuid to create a user's images directory */
	CAP_SETGID,	     /* restore the tasks' gids and groups; setfsgid, setgroups */
	CAP_SETPCAP,	     /* restore the tasks' capability sets and bounding sets */
	CAP_DAC_OVERRIDE,    /* write images in directories of any owner; reopen the tasks' files */
	CAP_DAC_READ_SEARCH, /* read /proc and the files of other users' tasks */
	CAP_FOWNER,	     /* chmod of images and directories that are not ours */
	CAP_CHOWN,	     /* hand a user's images directory to the service account */
	CAP_KILL,	/* stop, resume or end the trees of other users (leave_stopped, failed restore) */
	CAP_IPC_LOCK,	/* mlock()ed memory of restored tasks */
	CAP_SYS_CHROOT, /* restore the root directory of a chrooted task */
	CAP_SYS_NICE,	/* restore nice values and scheduling policies */
};

int caps_drop(void)
{
	cap_t cur = cap_get_proc(), want = cap_init();
	cap_value_t v[ARRAY_SIZE(keep)];
	int n = 0, r = 0;

	if (!cur || !want) {
		r = pr_perror("libcap");
		goto out;
	}
	/* Keep what we have of the list: ckptd run by a user for tests has none of it. */
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		cap_flag_value_t has = CAP_CLEAR;

		if (CAP_IS_SUPPORTED(keep[i]) && cap_get_flag(cur, keep[i], CAP_PERMITTED, &has) == 0 &&
		    has == CAP_SET)
			v[n++] = keep[i];
	}
	if (n && (cap_set_flag(want, CAP_PERMITTED, n, v, CAP_SET) < 0 ||
		  cap_set_flag(want, CAP_EFFECTIVE, n, v, CAP_SET) < 0)) {
		r = pr_perror("cap_set_flag");
		goto out;
	}
	if (cap_set_proc(want) < 0) {
		r = pr_perror("dropping capabilities");
		goto out;
	}
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		r = pr_perror("clearing the ambient capabilities");
	else
		pr_debug("kept %d capabilities", n);
out:
	if (cur)
		cap_free(cur);
	if (want)
		cap_free(want);
	return r;
}
