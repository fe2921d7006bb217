/* SPDX-License-Identifier: MIT */
/*
 * A signalfd for SIGUSR1 and SIGUSR2 (both blocked), O_NONBLOCK, and a second one for
 * SIGRTMIN+3 only, dup'ed to fd 80. SIGUSR1 is sent before READY and stays pending through
 * the dump. After SIGTERM: the first signalfd reads that SIGUSR1 (from our own pid), then
 * nothing (EAGAIN); a SIGUSR2 sent now is read from it; SIGRTMIN+3 sent now is read from
 * fd 80, and the first signalfd does not see it.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include "crtest.h"

#define DUP_FD 80

static void expect_sig(int fd, int sig, const char *what)
{
	struct signalfd_siginfo si;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 10000) != 1)
		cr_fail("%s: nothing to read", what);
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		cr_fail("%s: read: %s", what, strerror(errno));
	if ((int)si.ssi_signo != sig)
		cr_fail("%s: signal %u, want %d", what, si.ssi_signo, sig);
}

int main(void)
{
	struct signalfd_siginfo si;
	sigset_t set, rt;
	int fd, fr, want_pid;

	cr_init();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 3);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || sigprocmask(SIG_BLOCK, &rt, NULL) < 0)
		cr_die("sigprocmask");
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	fr = signalfd(-1, &rt, 0);
	if (fd < 0 || fr < 0 || dup2(fr, DUP_FD) != DUP_FD)
		cr_die("signalfd");
	close(fr);
	want_pid = getpid();
	if (kill(getpid(), SIGUSR1) < 0)
		cr_die("kill");
	cr_ready();
	cr_wait_sigterm();
	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || fcntl(DUP_FD, F_GETFL) & O_NONBLOCK)
		cr_fail("flags changed");
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		cr_fail("the SIGUSR1 sent before the dump: read: %s", strerror(errno));
	if (si.ssi_signo != SIGUSR1 || (int)si.ssi_pid != want_pid)
		cr_fail("read signal %u from pid %u, want %d from %d", si.ssi_signo, si.ssi_pid, SIGUSR1,
			want_pid);
	if (read(fd, &si, sizeof(si)) != -1 || errno != EAGAIN)
		cr_fail("more than one signal pending");
	kill(getpid(), SIGUSR2);
	expect_sig(fd, SIGUSR2, "SIGUSR2 after the restore");
	kill(getpid(), SIGRTMIN + 3);
	if (read(fd, &si, sizeof(si)) != -1 || errno != EAGAIN)
		cr_fail("the first signalfd sees SIGRTMIN+3");
	expect_sig(DUP_FD, SIGRTMIN + 3, "SIGRTMIN+3");
	cr_pass();
}
