/* SPDX-License-Identifier: MIT */
/*
 * A process tree of three generations with its own process groups and sessions:
 *
 *   root R   (session leader of its own session: the driver started it with setsid)
 *   ├── A    setpgid(0, 0): a new process group in R's session
 *   │   └── A1   in A's group
 *   └── B    setsid(): a new session and group
 *       └── B1   in B's session and group
 *
 * Every process records getpid/getppid/getsid/getpgid before READY and compares after
 * SIGTERM (the root does not compare its ppid: its parent is outside the tree). SIGTERM goes
 * to the root, which forwards it down; each parent collects its children's exit statuses.
 * Descendants print "note: ..." lines on a mismatch; the root prints the verdict last.
 */
#include <sys/wait.h>
#include "crtest.h"

struct ids {
	pid_t pid, ppid, sid, pgid;
};

static const char *me = "R";
static struct ids rec;

static void record(void)
{
	rec.pid = getpid();
	rec.ppid = getppid();
	rec.sid = getsid(0);
	rec.pgid = getpgid(0);
}

/* 0 if the ids are the recorded ones; prints a note per difference. */
static int check_ids(int check_ppid)
{
	struct ids now = {getpid(), getppid(), getsid(0), getpgid(0)};
	int bad = 0;

	if (now.pid != rec.pid)
		bad = 1, cr_say("note: %s: getpid %d, was %d", me, now.pid, rec.pid);
	if (check_ppid && now.ppid != rec.ppid)
		bad = 1, cr_say("note: %s: getppid %d, was %d", me, now.ppid, rec.ppid);
	if (now.sid != rec.sid)
		bad = 1, cr_say("note: %s: getsid %d, was %d", me, now.sid, rec.sid);
	if (now.pgid != rec.pgid)
		bad = 1, cr_say("note: %s: getpgid %d, was %d", me, now.pgid, rec.pgid);
	return bad;
}

/* Forward SIGTERM to child and wait for it: 0 if it exited 0. */
static int reap(pid_t child, const char *name)
{
	int st;
	pid_t r;

	if (kill(child, SIGTERM) < 0) {
		cr_say("note: %s: kill %s (%d): %s", me, name, child, strerror(errno));
		return 1;
	}
	do
		r = waitpid(child, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r != child) {
		cr_say("note: %s: waitpid %s (%d) returned %d: %s", me, name, child, r, strerror(errno));
		return 1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		cr_say("note: %s: %s exited %d", me, name, WEXITSTATUS(st));
	else
		cr_say("note: %s: %s killed by signal %d", me, name, WTERMSIG(st));
	return 1;
}

static void signal_ready(int wfd)
{
	char c = 'r';

	if (cr_write_all(wfd, &c, 1) < 0)
		cr_die("%s: write sync pipe", me);
	close(wfd);
}

/* Body of a grandchild: wait, then check. */
static void __attribute__((noreturn))
grandchild(const char *name, int wfd, pid_t parent, pid_t want_sid, pid_t want_pgid)
{
	me = name;
	record();
	if (rec.ppid != parent || rec.sid != want_sid || rec.pgid != want_pgid)
		cr_die("%s: ppid %d sid %d pgid %d, want %d %d %d", me, rec.ppid, rec.sid, rec.pgid, parent,
		       want_sid, want_pgid);
	signal_ready(wfd);
	cr_wait_sigterm();
	_exit(check_ids(1));
}

/* Body of A (new_session 0) or B (new_session 1). */
static void __attribute__((noreturn)) child(const char *name, const char *gname, int wfd, int new_session)
{
	pid_t root_sid = getsid(0), gc;
	int bad;

	me = name;
	if (new_session ? setsid() < 0 : setpgid(0, 0) < 0)
		cr_die("%s: %s", me, new_session ? "setsid" : "setpgid");
	record();
	if (rec.pgid != rec.pid || rec.sid != (new_session ? rec.pid : root_sid))
		cr_die("%s: sid %d pgid %d after setup", me, rec.sid, rec.pgid);
	gc = fork();
	if (gc < 0)
		cr_die("%s: fork", me);
	if (gc == 0)
		grandchild(gname, wfd, rec.pid, rec.sid, rec.pgid);
	signal_ready(wfd);
	cr_wait_sigterm();
	bad = reap(gc, gname);
	bad |= check_ids(1);
	_exit(bad);
}

int main(void)
{
	int sync[2], bad;
	pid_t a, b;
	char buf[8];
	ssize_t n, got = 0;

	cr_init();
	record();
	if (rec.sid != rec.pid || rec.pgid != rec.pid)
		cr_fail("setup: root must be a session leader (sid %d pgid %d pid %d): start "
			"it with setsid",
			rec.sid, rec.pgid, rec.pid);
	if (pipe(sync) < 0)
		cr_die("pipe");
	a = fork();
	if (a < 0)
		cr_die("fork A");
	if (a == 0) {
		close(sync[0]);
		child("A", "A1", sync[1], 0);
	}
	b = fork();
	if (b < 0)
		cr_die("fork B");
	if (b == 0) {
		close(sync[0]);
		child("B", "B1", sync[1], 1);
	}
	close(sync[1]);
	/* EOF once all four descendants wrote their byte and closed the pipe. */
	while ((n = read(sync[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			cr_die("read sync pipe");
		got += n;
	}
	close(sync[0]);
	if (got != 4)
		cr_fail("setup: %zd of 4 descendants ready", got);
	cr_ready();
	cr_wait_sigterm();
	bad = reap(a, "A");
	bad |= reap(b, "B");
	bad |= check_ids(0);
	if (bad)
		cr_fail("process tree changed (see notes above)");
	cr_pass();
}
