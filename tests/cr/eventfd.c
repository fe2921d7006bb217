/* SPDX-License-Identifier: MIT */
/*
 * eventfds:
 *   counter    counter 5000000000 (above what eventfd(2) takes as initval), blocking; its
 *              fd dup'ed to fd 90 and shared with a child by fork (one description);
 *   semaphore  EFD_SEMAPHORE | EFD_NONBLOCK, counter 3;
 *   empty      EFD_NONBLOCK, counter 0.
 * After SIGTERM: the counter is read back whole; the semaphore gives 1 three times, then
 * EAGAIN; the empty one EAGAIN; the child adds 7 to the shared counter, which the parent reads.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include "crtest.h"

#define DUP_FD 90

static uint64_t get(int fd, const char *what)
{
	uint64_t v;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 10000) != 1)
		cr_fail("%s: not readable", what);
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		cr_fail("%s: read: %s", what, strerror(errno));
	return v;
}

static void expect_empty(int fd, const char *what)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != -1 || errno != EAGAIN)
		cr_fail("%s: not empty", what);
}

int main(void)
{
	uint64_t big = 5000000000ull, v;
	int cnt, sem, empty, status;
	pid_t child, r;

	cr_init();
	cnt = eventfd(0, EFD_CLOEXEC);
	sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	empty = eventfd(0, EFD_NONBLOCK);
	if (cnt < 0 || sem < 0 || empty < 0 || write(cnt, &big, sizeof(big)) != sizeof(big) ||
	    dup2(cnt, DUP_FD) != DUP_FD)
		cr_die("eventfd");
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		uint64_t seven = 7;

		cr_wait_sigterm();
		_exit(write(DUP_FD, &seven, sizeof(seven)) == sizeof(seven) ? 0 : 1);
	}
	cr_ready();
	cr_wait_sigterm();
	if (fcntl(cnt, F_GETFL) & O_NONBLOCK || !(fcntl(sem, F_GETFL) & O_NONBLOCK) ||
	    !(fcntl(cnt, F_GETFD) & FD_CLOEXEC) || fcntl(DUP_FD, F_GETFD) & FD_CLOEXEC)
		cr_fail("flags changed");
	v = get(cnt, "counter");
	if (v != big)
		cr_fail("counter: %llu, want %llu", (unsigned long long)v, (unsigned long long)big);
	for (int i = 0; i < 3; i++)
		if ((v = get(sem, "semaphore")) != 1)
			cr_fail("semaphore: read %llu, want 1", (unsigned long long)v);
	expect_empty(sem, "semaphore after 3 reads");
	expect_empty(empty, "empty");
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	v = get(DUP_FD, "counter from the child");
	if (v != 7)
		cr_fail("counter from the child: %llu, want 7", (unsigned long long)v);
	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("child ended with status %#x", status);
	cr_pass();
}
