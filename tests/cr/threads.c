/* SPDX-License-Identifier: MIT */
/*
 * Eight threads, each with its own thread-local values (__thread), its own signal mask,
 * its own name (PR_SET_NAME), and a thread-local counter it keeps incrementing.
 *
 * After SIGTERM the main thread checks that every counter still increases (the threads run
 * after the restore), then asks each thread to check its own TLS, tid, name and sigmask
 * against what it recorded before READY.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "crtest.h"

#define NTHREADS  8
#define TLS_MAGIC 0x7115c0de00000000ull

enum { RUN, VERIFY };

struct worker {
	pthread_t th;
	int idx;
	pid_t tid;
	_Atomic(uint64_t *) counter; /* the thread's own __thread counter */
	sigset_t mask_before;
	char result[256]; /* empty: pass */
};

static struct worker workers[NTHREADS];
static atomic_int phase = RUN;
static atomic_int started;

static __thread uint64_t tls_val;
static __thread unsigned char tls_buf[200];
static __thread _Atomic uint64_t tls_counter;

/* The distinct set of thread idx: SIGRTMIN+idx, and SIGUSR1/SIGUSR2/SIGHUP by bits of idx. */
static void thread_set(int idx, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM); /* only the main thread takes SIGTERM */
	sigaddset(set, SIGRTMIN + idx);
	if (idx & 1)
		sigaddset(set, SIGUSR1);
	if (idx & 2)
		sigaddset(set, SIGUSR2);
	if (idx & 4)
		sigaddset(set, SIGHUP);
}

/* First signal whose membership differs between a and b, or 0. */
static int set_diff(const sigset_t *a, const sigset_t *b)
{
	int s;

	for (s = 1; s < _NSIG; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return s;
	return 0;
}

static void thread_verify(struct worker *w)
{
	char name[16] = "", want[16];
	sigset_t now, expect;
	size_t i;
	int s;

	if (tls_val != (TLS_MAGIC | (uint64_t)w->idx * 0x01010101u))
		goto bad_tls;
	for (i = 0; i < sizeof(tls_buf); i++)
		if (tls_buf[i] != (unsigned char)(i * 7 + w->idx))
			goto bad_tls;
	if ((pid_t)syscall(SYS_gettid) != w->tid) {
		snprintf(w->result, sizeof(w->result), "thread %d: gettid %ld, was %d", w->idx,
			 (long)syscall(SYS_gettid), w->tid);
		return;
	}
	snprintf(want, sizeof(want), "crt-worker-%d", w->idx);
	prctl(PR_GET_NAME, name);
	if (strcmp(name, want)) {
		snprintf(w->result, sizeof(w->result), "thread %d: name '%s', want '%s'", w->idx, name, want);
		return;
	}
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	thread_set(w->idx, &expect);
	s = set_diff(&now, &w->mask_before);
	if (!s)
		s = set_diff(&now, &expect);
	if (s)
		snprintf(w->result, sizeof(w->result), "thread %d: signal %d is %sblocked", w->idx, s,
			 sigismember(&now, s) ? "" : "not ");
	return;
bad_tls:
	snprintf(w->result, sizeof(w->result), "thread %d: __thread data changed (val %#llx)", w->idx,
		 (unsigned long long)tls_val);
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	struct timespec ts = {0, 2 * 1000 * 1000};
	char name[16];
	sigset_t set;
	size_t i;

	thread_set(w->idx, &set);
	if (pthread_sigmask(SIG_SETMASK, &set, NULL))
		cr_die("pthread_sigmask %d", w->idx);
	pthread_sigmask(SIG_BLOCK, NULL, &w->mask_before);
	snprintf(name, sizeof(name), "crt-worker-%d", w->idx);
	prctl(PR_SET_NAME, name);
	tls_val = TLS_MAGIC | (uint64_t)w->idx * 0x01010101u;
	for (i = 0; i < sizeof(tls_buf); i++)
		tls_buf[i] = (unsigned char)(i * 7 + w->idx);
	w->tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&w->counter, (uint64_t *)&tls_counter);
	atomic_fetch_add(&started, 1);
	while (atomic_load(&phase) == RUN) {
		atomic_fetch_add(&tls_counter, 1);
		nanosleep(&ts, NULL); /* EINTR after a restore is fine: it just loops */
	}
	thread_verify(w);
	return NULL;
}

static uint64_t counter_of(int i)
{
	return atomic_load((_Atomic uint64_t *)atomic_load(&workers[i].counter));
}

int main(void)
{
	uint64_t at_ready[NTHREADS], c1[NTHREADS], c2[NTHREADS];
	int i;

	cr_init();
	for (i = 0; i < NTHREADS; i++) {
		workers[i].idx = i;
		if (pthread_create(&workers[i].th, NULL, thread_main, &workers[i]))
			cr_die("pthread_create %d", i);
	}
	while (atomic_load(&started) < NTHREADS)
		cr_sleep_ms(1);
	for (i = 0; i < NTHREADS; i++)
		at_ready[i] = counter_of(i);
	cr_ready();
	cr_wait_sigterm();

	for (i = 0; i < NTHREADS; i++)
		c1[i] = counter_of(i);
	cr_sleep_ms(300);
	for (i = 0; i < NTHREADS; i++)
		c2[i] = counter_of(i);
	for (i = 0; i < NTHREADS; i++) {
		if (c1[i] < at_ready[i])
			cr_fail("thread %d: counter went back from %llu to %llu", i,
				(unsigned long long)at_ready[i], (unsigned long long)c1[i]);
		if (c2[i] <= c1[i])
			cr_fail("thread %d: counter stuck at %llu after SIGTERM", i,
				(unsigned long long)c1[i]);
	}
	atomic_store(&phase, VERIFY);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(workers[i].th, NULL);
	for (i = 0; i < NTHREADS; i++)
		if (workers[i].result[0])
			cr_fail("%s", workers[i].result);
	cr_pass();
}
