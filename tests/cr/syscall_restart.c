/* SPDX-License-Identifier: MIT */
/*
 * Threads caught inside blocking syscalls at checkpoint time; after the restore each call
 * must go on as if nothing happened (restarted, never EINTR):
 *   reader   read(2) on an empty pipe; the data is written only after SIGTERM
 *   sleeper  nanosleep(2) of 2 s in a loop counting completed sleeps
 *   poller   poll(2) with a 100 s timeout on another empty pipe, written after SIGTERM
 *   waiter   pthread_cond_wait (a futex wait), signalled after SIGTERM
 * The threads block every signal, so nothing but the checkpoint can interrupt them.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include "crtest.h"

#define MSG "written after SIGTERM\n"

enum { IDLE, BLOCKED, DONE };

static int rpipe[2], ppipe[2];
static atomic_int reader_state, poller_state, waiter_state;
static atomic_int sleeps_done, sleeper_started;
static char reader_err[160], poller_err[160], sleeper_err[160];
static char reader_buf[64];
static ssize_t reader_got;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int go;

static void block_all(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
}

static void *reader(void *arg)
{
	ssize_t n;

	block_all();
	atomic_store(&reader_state, BLOCKED);
	n = read(rpipe[0], reader_buf, sizeof(reader_buf) - 1);
	if (n < 0)
		snprintf(reader_err, sizeof(reader_err), "read failed: %s", strerror(errno));
	reader_got = n;
	atomic_store(&reader_state, DONE);
	return NULL;
}

static void *poller(void *arg)
{
	struct pollfd pfd = {.fd = ppipe[0], .events = POLLIN};
	int n;

	block_all();
	atomic_store(&poller_state, BLOCKED);
	n = poll(&pfd, 1, 100 * 1000);
	if (n < 0)
		snprintf(poller_err, sizeof(poller_err), "poll failed: %s", strerror(errno));
	else if (n != 1 || !(pfd.revents & POLLIN))
		snprintf(poller_err, sizeof(poller_err), "poll returned %d, revents %#x", n, pfd.revents);
	atomic_store(&poller_state, DONE);
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec ts;

	block_all();
	atomic_store(&sleeper_started, 1);
	for (;;) {
		ts.tv_sec = 2;
		ts.tv_nsec = 0;
		if (nanosleep(&ts, NULL) < 0) {
			snprintf(sleeper_err, sizeof(sleeper_err), "nanosleep failed after %d sleeps: %s",
				 atomic_load(&sleeps_done), strerror(errno));
			return NULL;
		}
		atomic_fetch_add(&sleeps_done, 1);
	}
}

static void *waiter(void *arg)
{
	block_all();
	pthread_mutex_lock(&mtx);
	atomic_store(&waiter_state, BLOCKED);
	while (!go)
		pthread_cond_wait(&cond, &mtx);
	pthread_mutex_unlock(&mtx);
	atomic_store(&waiter_state, DONE);
	return NULL;
}

/* Wait up to ms for *state to become want. */
static int wait_state(atomic_int *state, int want, unsigned int ms)
{
	unsigned int i;

	for (i = 0; i < ms && atomic_load(state) != want; i++)
		cr_sleep_ms(1);
	return atomic_load(state) == want;
}

static void verify(void)
{
	int before;

	if (atomic_load(&reader_state) != BLOCKED)
		cr_fail("reader left read() before SIGTERM: %s", reader_err[0] ? reader_err : "EOF");
	if (atomic_load(&poller_state) != BLOCKED)
		cr_fail("poller left poll() before SIGTERM: %s", poller_err[0] ? poller_err : "?");
	if (atomic_load(&waiter_state) != BLOCKED)
		cr_fail("waiter left pthread_cond_wait before being signalled");
	if (sleeper_err[0])
		cr_fail("%s", sleeper_err);

	if (cr_write_all(rpipe[1], MSG, strlen(MSG)) < 0 || cr_write_all(ppipe[1], "x", 1) < 0)
		cr_fail("write to pipes: %s", strerror(errno));
	pthread_mutex_lock(&mtx);
	go = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);

	if (!wait_state(&reader_state, DONE, 5000))
		cr_fail("reader still blocked 5 s after the pipe was written");
	if (reader_err[0])
		cr_fail("reader: %s", reader_err);
	if (reader_got != (ssize_t)strlen(MSG) || memcmp(reader_buf, MSG, strlen(MSG)))
		cr_fail("reader got %zd bytes '%.*s'", reader_got, (int)(reader_got > 0 ? reader_got : 0),
			reader_buf);
	if (!wait_state(&poller_state, DONE, 5000))
		cr_fail("poller still blocked 5 s after the pipe was written");
	if (poller_err[0])
		cr_fail("poller: %s", poller_err);
	if (!wait_state(&waiter_state, DONE, 5000))
		cr_fail("waiter still blocked 5 s after pthread_cond_signal");

	/* A whole 2 s sleep must complete after SIGTERM. */
	before = atomic_load(&sleeps_done);
	for (int i = 0; i < 5000 && atomic_load(&sleeps_done) < before + 2 && !sleeper_err[0]; i++)
		cr_sleep_ms(1);
	if (sleeper_err[0])
		cr_fail("%s", sleeper_err);
	if (atomic_load(&sleeps_done) < before + 2)
		cr_fail("sleeper completed no 2 s sleep in 5 s after SIGTERM (%d done)",
			atomic_load(&sleeps_done));
}

int main(void)
{
	pthread_t th[4];

	cr_init();
	if (pipe(rpipe) < 0 || pipe(ppipe) < 0)
		cr_die("pipe");
	if (pthread_create(&th[0], NULL, reader, NULL) || pthread_create(&th[1], NULL, poller, NULL) ||
	    pthread_create(&th[2], NULL, sleeper, NULL) || pthread_create(&th[3], NULL, waiter, NULL))
		cr_die("pthread_create");
	if (!wait_state(&reader_state, BLOCKED, 5000) || !wait_state(&poller_state, BLOCKED, 5000) ||
	    !wait_state(&waiter_state, BLOCKED, 5000) || !wait_state(&sleeper_started, 1, 5000))
		cr_fail("setup: threads did not start");
	/* The flags are set just before the calls: give the threads time to be inside them. */
	cr_sleep_ms(200);
	cr_ready();
	cr_wait_sigterm();
	verify();
	cr_pass();
}
