/* SPDX-License-Identifier: MIT */
/*
 * FIFOs (named pipes) in the directory given as argv[1]:
 *   both  read end (O_NONBLOCK) and write end in the parent, the write end shared with a
 *         child by fork (one description); F_SETPIPE_SZ 128 KiB; 4000 bytes queued;
 *   rdonly  only a read end in the tree, the writer closed after queueing "queued-B": after
 *         the data, a read sees end of file;
 *   wronly  only a write end in the tree, "queued-C" queued and the reader closed: a reader
 *         opened after the restore reads it.
 * After SIGTERM (to the parent, which forwards it): sizes, flags, the queued data exactly
 * once, then new data from the child through its write end and from the parent through its.
 *
 * usage: fifo DIR
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "crtest.h"

#define SIZE_A	(128 * 1024)
#define LEN_A	4000
#define DATA_B	"queued-B"
#define DATA_C	"queued-C"
#define CHILD_A "from-child"

static char path_a[4096], path_b[4096], path_c[4096];

static int open_fifo(const char *dir, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
	unlink(path);
	if (mkfifo(path, 0600) < 0)
		cr_die("mkfifo %s", path);
	return 0;
}

static void expect_read(int fd, const char *what, const void *want, size_t len)
{
	char buf[LEN_A + 64];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			cr_fail("%s: nothing to read after %zu of %zu bytes", what, got, len);
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			cr_fail("%s: read returned %zd after %zu of %zu bytes (%s)", what, n, got, len,
				strerror(errno));
		got += (size_t)n;
	}
	if (got != len || memcmp(buf, want, len))
		cr_fail("%s: got %zu bytes that differ from the %zu expected", what, got, len);
}

static void __attribute__((noreturn)) child_main(int wr)
{
	cr_wait_sigterm();
	if (cr_write_all(wr, CHILD_A, strlen(CHILD_A)) < 0)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	static char a[LEN_A];
	int ra, wa, rb, wb, rc, wc, status, fl;
	pid_t child, r;
	ssize_t n;
	char c;

	cr_init();
	if (argc != 2)
		cr_fail("setup: usage: fifo DIR");
	open_fifo(argv[1], "fifo_both", path_a, sizeof(path_a));
	open_fifo(argv[1], "fifo_rdonly", path_b, sizeof(path_b));
	open_fifo(argv[1], "fifo_wronly", path_c, sizeof(path_c));
	ra = open(path_a, O_RDONLY | O_NONBLOCK);
	wa = open(path_a, O_WRONLY);
	if (ra < 0 || wa < 0 || fcntl(wa, F_SETPIPE_SZ, SIZE_A) < SIZE_A)
		cr_die("fifo_both");
	cr_fill_random(a, LEN_A, 42);
	if (cr_write_all(wa, a, LEN_A) < 0)
		cr_die("write fifo_both");
	rb = open(path_b, O_RDONLY | O_NONBLOCK);
	wb = open(path_b, O_WRONLY);
	if (rb < 0 || wb < 0 || cr_write_all(wb, DATA_B, strlen(DATA_B)) < 0)
		cr_die("fifo_rdonly");
	close(wb);
	rc = open(path_c, O_RDONLY | O_NONBLOCK);
	wc = open(path_c, O_WRONLY);
	if (rc < 0 || wc < 0 || cr_write_all(wc, DATA_C, strlen(DATA_C)) < 0)
		cr_die("fifo_wronly");
	close(rc);
	child = fork();
	if (child < 0)
		cr_die("fork");
	if (child == 0) {
		close(ra);
		close(rb);
		close(wc);
		child_main(wa);
	}
	cr_ready();
	cr_wait_sigterm();

	fl = fcntl(ra, F_GETFL);
	if (!(fl & O_NONBLOCK) || (fl & O_ACCMODE) != O_RDONLY)
		cr_fail("fifo_both: read end flags %#x", fl);
	fl = fcntl(wa, F_GETFL);
	if ((fl & O_NONBLOCK) || (fl & O_ACCMODE) != O_WRONLY)
		cr_fail("fifo_both: write end flags %#x", fl);
	if (fcntl(ra, F_GETPIPE_SZ) != SIZE_A)
		cr_fail("fifo_both: size %d, want %d", fcntl(ra, F_GETPIPE_SZ), SIZE_A);
	expect_read(ra, "fifo_both queued", a, LEN_A);
	n = read(ra, &c, 1);
	if (n != -1 || errno != EAGAIN)
		cr_fail("fifo_both: more than the queued data (read %zd, %s)", n, strerror(errno));
	if (kill(child, SIGTERM) < 0)
		cr_fail("kill child: %s", strerror(errno));
	expect_read(ra, "fifo_both from the child", CHILD_A, strlen(CHILD_A));
	if (cr_write_all(wa, "p", 1) < 0)
		cr_fail("fifo_both: write: %s", strerror(errno));
	expect_read(ra, "fifo_both from the parent", "p", 1);

	expect_read(rb, "fifo_rdonly queued", DATA_B, strlen(DATA_B));
	n = read(rb, &c, 1);
	if (n != 0)
		cr_fail("fifo_rdonly: no end of file after the data (read %zd, %s)", n, strerror(errno));

	rc = open(path_c, O_RDONLY | O_NONBLOCK);
	if (rc < 0)
		cr_fail("fifo_wronly: open a reader: %s", strerror(errno));
	expect_read(rc, "fifo_wronly queued", DATA_C, strlen(DATA_C));

	do
		r = waitpid(child, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != child || !WIFEXITED(status) || WEXITSTATUS(status))
		cr_fail("child ended with status %#x", status);
	cr_pass();
}
