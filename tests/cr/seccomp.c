/* SPDX-License-Identifier: MIT */
/*
 * Two stacked seccomp filters, installed with SECCOMP_FILTER_FLAG_TSYNC so that a second
 * thread has them too: the older one (with SECCOMP_FILTER_FLAG_LOG) makes getppid fail with
 * EPERM, the newer one with EACCES. Of two filters returning SECCOMP_RET_ERRNO the newer
 * wins, so EACCES also proves the order in which they were put back. After SIGTERM both
 * threads must get EACCES from getppid, and the status must show mode 2 with 2 filters.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include "crtest.h"

static int cmd[2], res[2];

static void install(int err, unsigned int flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned int)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | flags, &prog) != 0)
		cr_die("seccomp filter %d", err);
}

static int getppid_errno(void)
{
	long r = syscall(SYS_getppid);

	return r < 0 ? errno : 0;
}

static void *worker(void *p)
{
	char c;

	(void)p;
	while (read(cmd[0], &c, 1) == 1) {
		int e = getppid_errno();

		if (write(res[1], &e, sizeof(e)) != sizeof(e))
			break;
	}
	return NULL;
}

static int ask_worker(void)
{
	int e = -1;

	if (write(cmd[1], "x", 1) != 1 || read(res[0], &e, sizeof(e)) != sizeof(e))
		cr_fail("talking to the worker thread (%s)", strerror(errno));
	return e;
}

static void status_field(const char *key, char *out, size_t size)
{
	char buf[4096] = "", *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	snprintf(out, size, "?");
	p = strstr(buf, key);
	if (p)
		sscanf(p + strlen(key), " %31s", out);
}

static void check(const char *when)
{
	char mode[32], nf[32];
	int e;

	if ((e = getppid_errno()) != EACCES)
		cr_fail("%s: getppid gave errno %d, want EACCES (%d)", when, e, EACCES);
	if ((e = ask_worker()) != EACCES)
		cr_fail("%s: getppid in the worker thread gave errno %d, want EACCES", when, e);
	status_field("Seccomp:", mode, sizeof(mode));
	status_field("Seccomp_filters:", nf, sizeof(nf));
	if (strcmp(mode, "2") || strcmp(nf, "2"))
		cr_fail("%s: Seccomp %s with %s filters, want 2 and 2", when, mode, nf);
}

static void setup(void)
{
	pthread_t th;

	if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		cr_die("pipe");
	if (pthread_create(&th, NULL, worker, NULL))
		cr_die("pthread_create");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		cr_die("no_new_privs");
	install(EPERM, SECCOMP_FILTER_FLAG_LOG);
	install(EACCES, 0);
	check("before the dump");
}

static void verify(void)
{
	check("after the restore");
}

int main(void)
{
	cr_run(setup, verify);
}
