/* SPDX-License-Identifier: MIT */
/*
 * A process whose vfork(2) child has not called exec yet: the parent sleeps in the kernel
 * until the child execs or exits. Not restorable: tests/test_refusals.py expects a dump to
 * refuse it by pid and leave both running. The child prints READY (the parent cannot), then
 * polls its parent's pending signals; once SIGTERM is pending there it exits, the parent
 * resumes, takes the SIGTERM, checks the child's exit status and passes.
 *
 * The child only uses raw syscalls and its own stack: it runs on its parent's memory.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "crtest.h"

/* Is SIGTERM pending for pid (SigPnd or ShdPnd of its status)? */
static int sigterm_pending(pid_t pid)
{
	char path[64], buf[4096];
	const char *keys[] = {"SigPnd:", "ShdPnd:"};
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 2; i++) {
		const char *p = strstr(buf, keys[i]);

		if (p && (strtoull(p + strlen(keys[i]), NULL, 16) & (1ull << (SIGTERM - 1))))
			return 1;
	}
	return 0;
}

int main(void)
{
	pid_t parent, c;
	int status;

	cr_init();
	parent = getpid();
	c = vfork();
	if (c == 0) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		cr_ready();
		while (!sigterm_pending(parent))
			syscall(SYS_nanosleep, &ts, NULL);
		syscall(SYS_exit, 0);
	}
	if (c < 0)
		cr_die("vfork");
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("the vfork child ended with status %#x", status);
	cr_wait_sigterm();
	cr_pass();
}
