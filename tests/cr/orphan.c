/* SPDX-License-Identifier: MIT */
/*
 * A child subreaper and an orphan: the root sets PR_SET_CHILD_SUBREAPER, forks a child that
 * forks a grandchild and exits; the root reaps the child, and the grandchild is re-parented
 * to the root. After SIGTERM the root checks it is still a subreaper, forwards SIGTERM to
 * the grandchild, and collects its status; the grandchild checks its ppid is the root and
 * that its pid, session and group are unchanged.
 */
#include <sys/prctl.h>
#include <sys/wait.h>
#include "crtest.h"

static void __attribute__((noreturn)) grandchild(pid_t root, int wfd)
{
	pid_t pid = getpid(), sid = getsid(0), pgid = getpgid(0);
	char c = 'r';
	int i;

	/* Wait for the re-parenting: the middle child exits after it forked us. */
	for (i = 0; i < 5000 && getppid() != root; i++)
		cr_sleep_ms(1);
	if (getppid() != root)
		cr_fail("setup: orphan's parent is %d, not the subreaper %d", getppid(), root);
	if (cr_write_all(wfd, &c, 1) < 0)
		cr_die("write sync pipe");
	close(wfd);
	cr_wait_sigterm();
	if (getppid() != root)
		cr_fail("orphan: parent %d, want the subreaper %d", getppid(), root);
	if (getpid() != pid || getsid(0) != sid || getpgid(0) != pgid)
		cr_fail("orphan: pid/sid/pgid %d/%d/%d, want %d/%d/%d", getpid(), getsid(0), getpgid(0), pid,
			sid, pgid);
	_exit(0);
}

int main(void)
{
	int sync[2], st, flag = -1;
	pid_t root, mid, gc = 0, r;
	char c;

	cr_init();
	root = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		cr_die("PR_SET_CHILD_SUBREAPER");
	if (pipe(sync) < 0)
		cr_die("pipe");
	mid = fork();
	if (mid < 0)
		cr_die("fork");
	if (mid == 0) {
		close(sync[0]);
		gc = fork();
		if (gc < 0)
			cr_die("fork grandchild");
		if (gc == 0)
			grandchild(root, sync[1]);
		/* Tell the root who the orphan will be, then leave it. */
		if (cr_write_all(sync[1], &gc, sizeof(gc)) < 0)
			cr_die("write sync pipe");
		_exit(0);
	}
	close(sync[1]);
	if (read(sync[0], &gc, sizeof(gc)) != sizeof(gc))
		cr_fail("setup: no grandchild pid from the middle child");
	r = waitpid(mid, &st, 0);
	if (r != mid || !WIFEXITED(st) || WEXITSTATUS(st))
		cr_fail("setup: middle child did not exit cleanly");
	if (read(sync[0], &c, 1) != 1)
		cr_fail("setup: orphan did not report");
	close(sync[0]);
	cr_ready();
	cr_wait_sigterm();

	if (prctl(PR_GET_CHILD_SUBREAPER, &flag, 0, 0, 0) < 0 || flag != 1)
		cr_fail("PR_GET_CHILD_SUBREAPER is %d, want 1", flag);
	if (kill(gc, SIGTERM) < 0)
		cr_fail("kill orphan %d: %s", gc, strerror(errno));
	do
		r = waitpid(gc, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r != gc)
		cr_fail("waitpid orphan %d: %s", gc, r < 0 ? strerror(errno) : "other pid");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		cr_fail("orphan failed (status %#x; see above)", st);
	cr_pass();
}
