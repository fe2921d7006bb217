/* SPDX-License-Identifier: MIT */
/*
 * An epoll instance (dup'ed to fd 70, and shared with a child by fork) watching:
 *   a pipe's read end, 3 bytes queued, EPOLLIN | EPOLLET, data 0xa1a1a1a1a1a1a1a1;
 *   the same pipe's write end, EPOLLOUT, data 0xb2;
 *   an eventfd with counter 2, EPOLLIN, data 0xc3;
 *   a periodic timerfd (20 ms), EPOLLIN, data 0xd4;
 *   a second eventfd, counter 0, EPOLLIN, data 0xe5 (never ready).
 * After SIGTERM: within 2 s, epoll_wait reports the first four with their data and events
 * and never the fifth; the child then writes to the pipe, which the parent sees ready again
 * (edge triggered: a new edge) through fd 70.
 */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "crtest.h"

#define DUP_FD 70

static const uint64_t D_RD = 0xa1a1a1a1a1a1a1a1ull, D_WR = 0xb2, D_EV = 0xc3, D_TM = 0xd4, D_NO = 0xe5;

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		cr_die("epoll_ctl ADD %d", fd);
}

/* Wait until every bit of want (1: rd, 2: wr, 4: ev, 8: tm) was seen. */
static void expect_ready(int ep, unsigned int want, const char *what)
{
	unsigned int seen = 0;
	uint64_t t0 = cr_now_ns();

	while ((seen & want) != want) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, 100);

		if (n < 0 && errno != EINTR)
			cr_fail("%s: epoll_wait: %s", what, strerror(errno));
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;

			if (d == D_RD && evs[i].events & EPOLLIN)
				seen |= 1;
			else if (d == D_WR && evs[i].events & EPOLLOUT)
				seen |= 2;
			else if (d == D_EV && evs[i].events & EPOLLIN)
				seen |= 4;
			else if (d == D_TM && evs[i].events & EPOLLIN)
				seen |= 8;
			else
				cr_fail("%s: unexpected event %#x data %#llx", what, evs[i].events,
					(unsigned long long)d);
		}
		if (cr_now_ns() - t0 > 2000000000ull)
			cr_fail("%s: saw %#x of %#x within 2 s", what, seen, want);
	}
}

int main(void)
{
	struct itimerspec its = {{0, 20000000}, {0, 20000000}};
	int ep, p[2], ev, tm, no, status;
	pid_t child, r;
	char buf[8];

	cr_init();
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = eventfd(2, EFD_NONBLOCK);
	no = eventfd(0, EFD_NONBLOCK);
	tm = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep < 0 || ev < 0 || no < 0 || tm < 0 || pipe2(p, O_NONBLOCK) < 0 ||
	    timerfd_settime(tm, 0, &its, NULL) < 0 || write(p[1], "abc", 3) != 3)
		cr_die("setup");
	add(ep, p[0], EPOLLIN | EPOLLET, D_RD);
	add(ep, p[1], EPOLLOUT, D_WR);
	add(ep, ev, EPOLLIN, D_EV);
	add(ep, tm, EPOLLIN, D_TM);
	add(ep, no, EPOLLIN, D_NO);
	if (dup2(ep, DUP_FD) != DUP_FD)
		cr_die("dup2");
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		cr_wait_sigterm();
		_exit(write(p[1], "z", 1) == 1 ? 0 : 1);
	}
	cr_ready();
	cr_wait_sigterm();
	expect_ready(ep, 15, "after the restore");
	if (read(p[0], buf, sizeof(buf)) != 3 || memcmp(buf, "abc", 3))
		cr_fail("the pipe's data changed");
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	expect_ready(DUP_FD, 1, "the child's write, through the dup");
	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("child ended with status %#x", status);
	cr_pass();
}
