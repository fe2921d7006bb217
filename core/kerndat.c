/* SPDX-License-Identifier: MIT */
/*
 * Kernel feature probes. Each feature is tried, never inferred from the kernel version: ptrace
 * requests on a forked child, clone3 set_tid in a throw-away PID namespace, userfaultfd write
 * protection on a scratch mapping. Every child is killed and reaped before kerndat_get()
 * returns; nothing the probes do is visible to the caller afterwards.
 */
#include <sys/ptrace.h> /* first: glibc's enum defines PTRACE_GET_RSEQ_CONFIGURATION itself */
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "kerndat.h"
#include "log.h"
#include "syscalls.h"
#include "uapi.h"

enum kd_feature {
	KD_PTRACE_SEIZE,
	KD_PTRACE_REGSET,
	KD_PTRACE_SIGMASK,
	KD_PTRACE_PEEKSIGINFO,
	KD_PTRACE_RSEQ,
	KD_CLONE3_SET_TID,
	KD_PIDFD,
	KD_KCMP,
	KD_PROCESS_VM_READV,
	KD_MAP_FILES,
	KD_PRCTL_MM_MAP,
	KD_CAP,
	KD_MEMFD,
	KD_PAGEMAP_SCAN,
	KD_UFFD_WP_ASYNC,
	KD_SOFT_DIRTY,
	KD_MEM_TRACK,
	KD_VVAR_VCLOCK,
	KD_CGROUP_FREEZER,
	KD_TCP_REPAIR,
	KD__NR,
};

static const struct {
	const char *name;
	bool required;
} kd_names[KD__NR] = {
	[KD_PTRACE_SEIZE] = {"ptrace-seize", true},
	[KD_PTRACE_REGSET] = {"ptrace-regset", true},
	[KD_PTRACE_SIGMASK] = {"ptrace-sigmask", false},
	[KD_PTRACE_PEEKSIGINFO] = {"ptrace-peeksiginfo", false},
	[KD_PTRACE_RSEQ] = {"ptrace-rseq", false},
	[KD_CLONE3_SET_TID] = {"clone3-set-tid", true},
	[KD_PIDFD] = {"pidfd", false},
	[KD_KCMP] = {"kcmp", false},
	[KD_PROCESS_VM_READV] = {"process-vm-readv", true},
	[KD_MAP_FILES] = {"map-files", false},
	[KD_PRCTL_MM_MAP] = {"prctl-mm-map", true},
	[KD_CAP] = {"cap-checkpoint-restore", true},
	[KD_MEMFD] = {"memfd", false},
	[KD_PAGEMAP_SCAN] = {"pagemap-scan", false},
	[KD_UFFD_WP_ASYNC] = {"uffd-wp-async", false},
	[KD_SOFT_DIRTY] = {"soft-dirty", false},
	[KD_MEM_TRACK] = {"mem-track", false},
	[KD_VVAR_VCLOCK] = {"vvar-vclock", false},
	[KD_CGROUP_FREEZER] = {"cgroup-freezer", false},
	[KD_TCP_REPAIR] = {"tcp-repair", false},
};

#define KD_DETAIL_LEN 160
#define PROBE_MAGIC   0x636b70742d6b6400ull /* "ckpt-kd" */

static pthread_mutex_t kd_lock = PTHREAD_MUTEX_INITIALIZER;
static bool kd_done;
static struct kerndat kd_cache;
static char kd_detail[KD__NR][KD_DETAIL_LEN];
static struct ckpt_feature kd_table[KD__NR];

/* Written by the ptrace probe child after fork; the parent reads it back with process_vm_readv. */
static volatile uint64_t probe_cookie;

/* The detail of feature f; a long one is cut, it is only shown to people. */
static _printf_(2, 3) void kd_note(enum kd_feature f, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kd_detail[f], KD_DETAIL_LEN, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* userfaultfd(2) is not wrapped by glibc 2.36. */
static inline int sys_userfaultfd(int flags)
{
	return (int)sys_ret(syscall(__NR_userfaultfd, flags));
}

static int wait_child(pid_t pid, int *ret_status)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
	}
	if (ret_status)
		*ret_status = st;
	return 0;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_child(pid, NULL);
}

/* The child dies with us; 0 if it is still ours. Runs between fork and _exit: syscalls only. */
static int child_tie_to(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return -1;
	return 0;
}

struct probe_child {
	pid_t pid;
	int rfd;       /* read end of a pipe the child holds both ends of */
	int child_wfd; /* number of the write end in the child (closed here) */
};

static _Noreturn void probe_child_main(pid_t parent, int wfd)
{
	sigset_t set;
	char c = 1;

	if (child_tie_to(parent) < 0)
		_exit(1);
	/* A blocked SIGUSR2 will be pending: PTRACE_GETSIGMASK and PEEKSIGINFO must see it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	probe_cookie = PROBE_MAGIC ^ (uint64_t)getpid();
	if (write(wfd, &c, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static int probe_child_start(struct probe_child *pc)
{
	pid_t parent = getpid();
	int fds[2], r;
	ssize_t n;
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return pr_perror("kerndat: pipe");
	pc->pid = fork();
	if (pc->pid < 0) {
		r = pr_perror("kerndat: fork");
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pc->pid == 0)
		probe_child_main(parent, fds[1]);
	close(fds[1]);
	pc->rfd = fds[0];
	pc->child_wfd = fds[1];
	do
		n = read(pc->rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return 0;
	kill_and_reap(pc->pid);
	close(pc->rfd);
	return pr_err_errno(-ECHILD, "kerndat: probe child %d did not start", pc->pid);
}

static void probe_regset(struct kerndat *kd, pid_t pid)
{
	uint64_t buf[512]; /* larger than any architecture's NT_PRSTATUS */
	struct iovec iov = {buf, sizeof(buf)};

	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0) {
		kd_note(KD_PTRACE_REGSET, "NT_PRSTATUS: %m");
		return;
	}
	kd->ptrace_regset = true;
	kd->prstatus_size = iov.iov_len;
	kd_note(KD_PTRACE_REGSET, "NT_PRSTATUS %zu bytes", iov.iov_len);
}

static void probe_signals(struct kerndat *kd, pid_t pid)
{
	struct __ptrace_peeksiginfo_args args = {.off = 0, .flags = PTRACE_PEEKSIGINFO_SHARED, .nr = 1};
	uint64_t mask = 0;
	siginfo_t si = {0};
	long n;

	if (ptrace(PTRACE_GETSIGMASK, pid, (void *)sizeof(mask), &mask) < 0) {
		kd_note(KD_PTRACE_SIGMASK, "%m");
	} else if (!(mask & (1ull << (SIGUSR2 - 1)))) {
		kd_note(KD_PTRACE_SIGMASK, "mask 0x%llx lacks the blocked SIGUSR2", (unsigned long long)mask);
	} else {
		kd->ptrace_sigmask = true;
		kd_note(KD_PTRACE_SIGMASK, "saw the tracee's blocked SIGUSR2");
	}

	n = ptrace(PTRACE_PEEKSIGINFO, pid, &args, &si);
	if (n < 0) {
		kd_note(KD_PTRACE_PEEKSIGINFO, "%m");
	} else if (n != 1 || si.si_signo != SIGUSR2) {
		kd_note(KD_PTRACE_PEEKSIGINFO, "pending SIGUSR2 not reported (%ld)", n);
	} else {
		kd->ptrace_peeksiginfo = true;
		kd_note(KD_PTRACE_PEEKSIGINFO, "saw the tracee's pending SIGUSR2");
	}
}

static void probe_rseq(struct kerndat *kd, pid_t pid)
{
	struct __ptrace_rseq_configuration conf = {0};
	long n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, (void *)sizeof(conf), &conf);

	if (n < 0) {
		kd_note(KD_PTRACE_RSEQ, "%m");
		return;
	}
	kd->ptrace_rseq = true;
	kd->rseq_registered = conf.rseq_abi_pointer != 0;
	kd_note(KD_PTRACE_RSEQ, "rseq area %s", kd->rseq_registered ? "registered by libc" : "not in use");
}

static void probe_ptrace(struct kerndat *kd, pid_t pid)
{
	int st;

	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) {
		kd_note(KD_PTRACE_SEIZE, "PTRACE_SEIZE: %m");
		return;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0) {
		kd_note(KD_PTRACE_SEIZE, "PTRACE_INTERRUPT: %m");
		return;
	}
	while (waitpid(pid, &st, __WALL) < 0) {
		if (errno != EINTR) {
			kd_note(KD_PTRACE_SEIZE, "waitpid: %m");
			return;
		}
	}
	if (!WIFSTOPPED(st) || (st >> 16) != PTRACE_EVENT_STOP) {
		kd_note(KD_PTRACE_SEIZE, "unexpected wait status 0x%x", st);
		return;
	}
	kd->ptrace_seize = true;
	kd_note(KD_PTRACE_SEIZE, "PTRACE_SEIZE + PTRACE_INTERRUPT");
	probe_regset(kd, pid);
	probe_signals(kd, pid);
	probe_rseq(kd, pid);
}

static void probe_vm_readv(struct kerndat *kd, pid_t pid)
{
	uint64_t v = 0;
	struct iovec local = {&v, sizeof(v)};
	struct iovec remote = {(void *)(uintptr_t)&probe_cookie, sizeof(v)};
	ssize_t n = sys_process_vm_readv(pid, &local, 1, &remote, 1);

	if (n < 0) {
		kd_note(KD_PROCESS_VM_READV, "%s", strerror((int)-n));
	} else if (n != sizeof(v) || v != (PROBE_MAGIC ^ (uint64_t)pid)) {
		kd_note(KD_PROCESS_VM_READV, "read back a wrong value");
	} else {
		kd->process_vm_readv = true;
		kd_note(KD_PROCESS_VM_READV, "read a child's memory");
	}
}

static void probe_kcmp(struct kerndat *kd, const struct probe_child *pc)
{
	int vm = sys_kcmp(getpid(), pc->pid, KCMP_VM, 0, 0);
	int file = sys_kcmp(getpid(), pc->pid, KCMP_FILE, (unsigned long)pc->rfd, (unsigned long)pc->rfd);

	if (vm < 0 || file < 0) {
		kd_note(KD_KCMP, "%s", strerror(vm < 0 ? -vm : -file));
	} else if (vm == 0 || file != 0) {
		kd_note(KD_KCMP, "wrong answers (vm %d, file %d)", vm, file);
	} else {
		kd->kcmp = true;
		kd_note(KD_KCMP, "KCMP_VM and KCMP_FILE");
	}
}

static void probe_pidfd(struct kerndat *kd, const struct probe_child *pc)
{
	_cleanup_close_ int pidfd = -EBADF, fd = -EBADF;
	struct stat a, b;

	pidfd = sys_pidfd_open(pc->pid, 0);
	if (pidfd < 0) {
		kd_note(KD_PIDFD, "pidfd_open: %s", strerror(-pidfd));
		return;
	}
	kd->pidfd_open = true;
	fd = sys_pidfd_getfd(pidfd, pc->child_wfd, 0);
	if (fd < 0) {
		kd_note(KD_PIDFD, "pidfd_open works, pidfd_getfd: %s", strerror(-fd));
		return;
	}
	if (fstat(fd, &a) < 0 || fstat(pc->rfd, &b) < 0 || a.st_ino != b.st_ino) {
		kd_note(KD_PIDFD, "pidfd_getfd returned another file");
		return;
	}
	kd->pidfd_getfd = true;
	kd_note(KD_PIDFD, "pidfd_open + pidfd_getfd");
}

/* Everything that needs a live, traced child of ours. */
static int probe_with_child(struct kerndat *kd)
{
	struct probe_child pc;
	int r = probe_child_start(&pc);

	if (r < 0)
		return r;
	/* Pending while blocked in the child: seen by the signal probes. */
	kill(pc.pid, SIGUSR2);
	probe_vm_readv(kd, pc.pid);
	probe_kcmp(kd, &pc);
	probe_pidfd(kd, &pc);
	probe_ptrace(kd, pc.pid);
	kill_and_reap(pc.pid);
	close(pc.rfd);
	return 0;
}

/*
 * Runs as PID 1 of a new PID namespace: clone3 a child with set_tid {5}. Exit code 0 when it
 * got pid 5, the errno of clone3 (1..199) when that failed, 200 and up for anything else.
 */
static int set_tid_init(void)
{
	pid_t tid[1] = {5};
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)tid,
		.set_tid_size = 1,
	};
	long pid;
	int st;

	/* getppid() is 0 here, outside the namespace: no check after PDEATHSIG, this init is short. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return 201;
	pid = sys_clone3(&args, sizeof(args));
	if (pid == 0)
		_exit(getpid() == 5 ? 0 : 200);
	if (pid < 0)
		return -pid < 200 ? (int)-pid : 202;
	if (waitpid((pid_t)pid, &st, 0) < 0)
		return 203;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 204;
}

static int probe_clone3_set_tid(struct kerndat *kd)
{
	struct clone_args args = {.flags = CLONE_NEWPID, .exit_signal = SIGCHLD};
	long pid = sys_clone3(&args, sizeof(args));
	int r, st;

	if (pid == 0)
		_exit(set_tid_init());
	if (pid < 0) {
		if (pid == -ENOMEM || pid == -EAGAIN)
			return pr_err_errno((int)pid, "kerndat: clone3");
		kd_note(KD_CLONE3_SET_TID, "clone3(CLONE_NEWPID): %s", strerror((int)-pid));
		return 0;
	}
	r = wait_child((pid_t)pid, &st);
	if (r < 0)
		return pr_err_errno(r, "kerndat: wait for %ld", pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		kd->clone3_set_tid = true;
		kd_note(KD_CLONE3_SET_TID, "pid 5 in a new PID namespace");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) < 200) {
		kd_note(KD_CLONE3_SET_TID, "clone3 set_tid: %s", strerror(WEXITSTATUS(st)));
	} else {
		kd_note(KD_CLONE3_SET_TID, "probe failed (wait status 0x%x)", st);
	}
	return 0;
}

static void probe_prctl_mm_map(struct kerndat *kd)
{
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) < 0) {
		kd_note(KD_PRCTL_MM_MAP, "PR_SET_MM_MAP_SIZE: %m");
		return;
	}
	kd->prctl_mm_map = true;
	kd->mm_map_size = size;
	kd_note(KD_PRCTL_MM_MAP, "struct prctl_mm_map %u bytes", size);
}

/* CapEff of the calling thread, from /proc/thread-self/status. */
static int read_cap_eff(uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	char *p, *nl;
	int r = read_file_at(AT_FDCWD, "/proc/thread-self/status", &buf, NULL);

	if (r < 0)
		return r;
	p = strstr(buf, "\nCapEff:\t");
	if (!p)
		return -EINVAL;
	p += strlen("\nCapEff:\t");
	nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	return safe_atou64(p, 16, ret);
}

static void probe_caps(struct kerndat *kd)
{
	uint64_t eff;
	int r = read_cap_eff(&eff);

	if (r < 0) {
		kd_note(KD_CAP, "CapEff of /proc/thread-self/status: %s", strerror(-r));
		return;
	}
	if (eff & (1ull << CAP_CHECKPOINT_RESTORE)) {
		kd->cap_ckpt_restore = true;
		kd_note(KD_CAP, "CAP_CHECKPOINT_RESTORE effective");
	} else if (eff & (1ull << CAP_SYS_ADMIN)) {
		kd->cap_ckpt_restore = kd->cap_is_sys_admin = true;
		kd_note(KD_CAP, "CAP_SYS_ADMIN effective");
	} else {
		kd_note(KD_CAP, "neither CAP_CHECKPOINT_RESTORE nor CAP_SYS_ADMIN effective");
	}
}

static void probe_map_files(struct kerndat *kd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd = open("/proc/self/map_files", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		kd_note(KD_MAP_FILES, "/proc/self/map_files: %m");
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *target = NULL;
		_cleanup_close_ int fd = -EBADF;
		int r;

		if (de->d_name[0] == '.')
			continue;
		r = readlink_malloc(dfd, de->d_name, &target);
		if (r < 0) {
			kd_note(KD_MAP_FILES, "readlink %s: %s", de->d_name, strerror(-r));
			return;
		}
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			kd_note(KD_MAP_FILES, "open %s: %m", de->d_name);
			return;
		}
		kd->map_files = true;
		kd_note(KD_MAP_FILES, "readlink and open work");
		return;
	}
	kd_note(KD_MAP_FILES, "no file mapping to try");
}

static void probe_memfd(struct kerndat *kd)
{
	int fd = memfd_create("ckpt-probe", MFD_CLOEXEC);

	if (fd < 0) {
		kd_note(KD_MEMFD, "%m");
		return;
	}
	close(fd);
	kd->memfd = true;
	kd_note(KD_MEMFD, "memfd_create");
}

/* --tcp-established: TCP_REPAIR on a fresh (closed) socket needs CAP_NET_ADMIN (tcp(7)). */
static void probe_tcp_repair(struct kerndat *kd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), on = TCP_REPAIR_ON,
	    off = TCP_REPAIR_OFF_NO_WP;

	if (fd < 0) {
		kd_note(KD_TCP_REPAIR, "socket: %m");
		return;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0) {
		kd_note(KD_TCP_REPAIR, "TCP_REPAIR: %m (needs CAP_NET_ADMIN)");
	} else {
		setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
		kd->tcp_repair = true;
		kd_note(KD_TCP_REPAIR, "TCP_REPAIR, for --tcp-established");
	}
	close(fd);
}

/* Regions of [start, start + len) in the categories of mask: PAGEMAP_SCAN's return value. */
static long pagemap_scan(void *start, size_t len, uint64_t flags, uint64_t mask, struct page_region *vec,
			 size_t vec_len)
{
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.vec = (uintptr_t)vec,
		.vec_len = vec_len,
		.category_mask = mask,
		.return_mask = mask,
	};
	long n;

	if (fd < 0)
		return -errno;
	n = ioctl(fd, PAGEMAP_SCAN, &arg);
	return n < 0 ? -errno : n;
}

static void probe_pagemap_scan(struct kerndat *kd, size_t pg)
{
	struct page_region rg[1];
	char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long n;

	if (p == MAP_FAILED) {
		kd_note(KD_PAGEMAP_SCAN, "mmap: %m");
		return;
	}
	p[0] = 1;
	n = pagemap_scan(p, pg, 0, PAGE_IS_PRESENT, rg, ARRAY_SIZE(rg));
	munmap(p, pg);
	if (n < 0) {
		kd_note(KD_PAGEMAP_SCAN, "ioctl on /proc/self/pagemap: %s", strerror((int)-n));
	} else if (n != 1) {
		kd_note(KD_PAGEMAP_SCAN, "present page not reported (%ld regions)", n);
	} else {
		kd->pagemap_scan = true;
		kd_note(KD_PAGEMAP_SCAN, "ioctl on /proc/PID/pagemap");
	}
}

/* A userfaultfd from the syscall, or from /dev/userfaultfd when the syscall is refused. */
static int uffd_create(bool *ret_dev)
{
	_cleanup_close_ int dev = -EBADF;
	int fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK);

	*ret_dev = false;
	if (fd >= 0 || (fd != -EPERM && fd != -EACCES))
		return fd;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fd;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	*ret_dev = true;
	return fd;
}

/*
 * Two populated pages registered for asynchronous write protection, both protected, the
 * second written: PAGEMAP_SCAN must report exactly the second as written.
 */
static int wp_async_written(int uffd, char *p, size_t pg)
{
	struct uffdio_register reg = {
		.range = {(uintptr_t)p, 2 * pg},
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
	struct page_region rg[2];
	long n;

	p[0] = p[pg] = 1;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 || ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return -errno;
	p[pg] = 2;
	n = pagemap_scan(p, 2 * pg, PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN, rg, ARRAY_SIZE(rg));
	if (n < 0)
		return (int)n;
	if (n != 1 || rg[0].start != (uintptr_t)p + pg || rg[0].end != (uintptr_t)p + 2 * pg)
		return -EPROTO;
	return 0;
}

static int probe_wp_tracking(size_t pg)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC};
	_cleanup_close_ int fd = -EBADF;
	bool dev;
	char *p;
	int r;

	fd = uffd_create(&dev);
	if (fd < 0)
		return fd;
	/*
	 * Only with WP_ASYNC accepted may the page be written: a synchronous write fault would
	 * wait for a reader of fd forever.
	 */
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	if (!(api.features & UFFD_FEATURE_WP_ASYNC))
		return -EOPNOTSUPP;
	p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = wp_async_written(fd, p, pg);
	munmap(p, 2 * pg);
	return r;
}

static void probe_uffd(struct kerndat *kd, size_t pg)
{
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	_cleanup_close_ int fd = -EBADF;
	int r;

	fd = uffd_create(&kd->uffd_dev);
	if (fd < 0) {
		kd_note(KD_UFFD_WP_ASYNC, "userfaultfd: %s", strerror(-fd));
		return;
	}
	kd->uffd = true;
	/* Features 0: the kernel answers with every feature it has. */
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		kd_note(KD_UFFD_WP_ASYNC, "UFFDIO_API: %m");
		return;
	}
	kd->uffd_wp_async = api.features & UFFD_FEATURE_WP_ASYNC;
	if (!kd->uffd_wp_async || !kd->pagemap_scan) {
		kd_note(KD_UFFD_WP_ASYNC, "userfaultfd%s without %s", kd->uffd_dev ? " (/dev)" : "",
			kd->uffd_wp_async ? "PAGEMAP_SCAN" : "UFFD_FEATURE_WP_ASYNC");
		return;
	}
	r = probe_wp_tracking(pg);
	kd->uffd_wp_tracking = r == 0;
	kd_note(KD_UFFD_WP_ASYNC, "userfaultfd%s, async write-protect %s%s",
		kd->uffd_dev ? " via /dev/userfaultfd" : "",
		r == 0 ? "tracks writes" : "does not track writes: ", r == 0 ? "" : strerror(-r));
}

/*
 * Runs in a forked child, as clearing soft-dirty bits write-protects the whole address space.
 * Exit code: 0 bit 55 set after the write, 1 not set, 2 clear_refs refused, 3 other error.
 */
static int soft_dirty_child(size_t pg)
{
	volatile char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e;
	int fd;

	if (p == MAP_FAILED)
		return 3;
	p[0] = 1; /* a new page is always soft-dirty: populate it before clearing */
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "4", 1) != 1)
		return 2;
	close(fd);
	p[0] = 2;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / pg * sizeof(e))) != sizeof(e))
		return 3;
	return (e >> 55) & 1 ? 0 : 1;
}

static int probe_soft_dirty(struct kerndat *kd, size_t pg)
{
	pid_t parent = getpid(), pid = fork();
	int r, st;

	if (pid < 0)
		return pr_perror("kerndat: fork");
	if (pid == 0)
		_exit(child_tie_to(parent) < 0 ? 3 : soft_dirty_child(pg));
	r = wait_child(pid, &st);
	if (r < 0)
		return pr_err_errno(r, "kerndat: wait for %d", pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		kd->soft_dirty = true;
		kd_note(KD_SOFT_DIRTY, "pagemap bit 55 set by a write after clear_refs");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 1) {
		kd_note(KD_SOFT_DIRTY, "absent: a write after clear_refs leaves pagemap bit 55 clear");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		kd_note(KD_SOFT_DIRTY, "absent: clear_refs refused");
	} else {
		kd_note(KD_SOFT_DIRTY, "probe failed (wait status 0x%x)", st);
	}
	return 0;
}

static void note_mem_track(const struct kerndat *kd)
{
	const char *sd = kd->soft_dirty ? "present" : "absent";

	if (kd->uffd_wp_tracking)
		kd_note(KD_MEM_TRACK, "write tracking: uffd-wp async + PAGEMAP_SCAN (soft-dirty: %s)", sd);
	else if (kd->soft_dirty)
		kd_note(KD_MEM_TRACK, "write tracking: soft-dirty");
	else
		kd_note(KD_MEM_TRACK, "no write tracking: incremental dumps copy every page");
}

static void probe_vvar(struct kerndat *kd)
{
	_cleanup_free_ char *maps = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/maps", &maps, NULL);

	if (r < 0) {
		kd_note(KD_VVAR_VCLOCK, "/proc/self/maps: %s", strerror(-r));
		return;
	}
	kd->vvar_vclock = strstr(maps, " [vvar_vclock]\n") != NULL;
	kd_note(KD_VVAR_VCLOCK, "%s",
		kd->vvar_vclock ? "vDSO clock pages mapped apart from [vvar]" : "no [vvar_vclock] mapping");
}

/*
 * Split a /proc/self/mountinfo line in place (proc(5)): the mount point (field 5), and after
 * the " - " separator the fs type and the super block options.
 */
static int mountinfo_split(char *line, char **mnt, char **fstype, char **opts)
{
	char *sep = strstr(line, " - "), *save = NULL, *f;
	int i;

	if (!sep)
		return -EINVAL;
	*sep = '\0';
	for (i = 0, f = strtok_r(line, " ", &save); f && i < 4; i++)
		f = strtok_r(NULL, " ", &save);
	*mnt = f;
	*fstype = strtok_r(sep + 3, " ", &save);
	if (!*mnt || !*fstype || !strtok_r(NULL, " ", &save))
		return -EINVAL;
	*opts = strtok_r(NULL, " ", &save);
	return *opts ? 0 : -EINVAL;
}

static bool has_opt(const char *opts, const char *opt)
{
	size_t len = strlen(opt);

	for (const char *p = opts; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, opt, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	}
	return false;
}

/*
 * cgroup.freeze exists in every non-root cgroup (cgroup-v2.rst), never in the root: look in
 * the mount itself (a cgroup namespace or bind mount of a child) and one level below it.
 */
static bool cgroup2_has_freeze(const char *mnt)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return false;
	if (!faccessat(dfd, "cgroup.freeze", F_OK, 0)) {
		close(dfd);
		return true;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return false;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&path, "%s/cgroup.freeze", de->d_name) < 0)
			return false;
		if (!faccessat(dfd, path, F_OK, 0))
			return true;
	}
	return false;
}

static void probe_cgroups(struct kerndat *kd)
{
	_cleanup_free_ char *buf = NULL;
	const char *v1 = NULL, *v2 = NULL;
	char *line, *save = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &buf, NULL);

	if (r < 0) {
		kd_note(KD_CGROUP_FREEZER, "/proc/self/mountinfo: %s", strerror(-r));
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *mnt, *fstype, *opts;

		/* Mount points with escapes (\040 ...) are skipped: informational only. */
		if (mountinfo_split(line, &mnt, &fstype, &opts) < 0 || strchr(mnt, '\\'))
			continue;
		if (!v1 && !strcmp(fstype, "cgroup") && has_opt(opts, "freezer"))
			v1 = mnt;
		else if (!v2 && !strcmp(fstype, "cgroup2") && cgroup2_has_freeze(mnt))
			v2 = mnt;
	}
	kd->cgroup_v1_freezer = v1 != NULL;
	kd->cgroup_v2_freeze = v2 != NULL;
	if (v1 && v2)
		kd_note(KD_CGROUP_FREEZER, "v1 freezer at %s; v2 cgroup.freeze under %s", v1, v2);
	else if (v1 || v2)
		kd_note(KD_CGROUP_FREEZER, "%s at %s", v1 ? "v1 freezer" : "v2 cgroup.freeze", v1 ?: v2);
	else
		kd_note(KD_CGROUP_FREEZER, "neither a v1 freezer nor cgroup2 cgroup.freeze; ptrace only");
}

static bool kd_present(const struct kerndat *kd, enum kd_feature f)
{
	switch (f) {
	case KD_PTRACE_SEIZE:
		return kd->ptrace_seize;
	case KD_PTRACE_REGSET:
		return kd->ptrace_regset;
	case KD_PTRACE_SIGMASK:
		return kd->ptrace_sigmask;
	case KD_PTRACE_PEEKSIGINFO:
		return kd->ptrace_peeksiginfo;
	case KD_PTRACE_RSEQ:
		return kd->ptrace_rseq;
	case KD_CLONE3_SET_TID:
		return kd->clone3_set_tid;
	case KD_PIDFD:
		return kd->pidfd_open && kd->pidfd_getfd;
	case KD_KCMP:
		return kd->kcmp;
	case KD_PROCESS_VM_READV:
		return kd->process_vm_readv;
	case KD_MAP_FILES:
		return kd->map_files;
	case KD_PRCTL_MM_MAP:
		return kd->prctl_mm_map;
	case KD_CAP:
		return kd->cap_ckpt_restore;
	case KD_MEMFD:
		return kd->memfd;
	case KD_PAGEMAP_SCAN:
		return kd->pagemap_scan;
	case KD_UFFD_WP_ASYNC:
		return kd->uffd_wp_tracking;
	case KD_SOFT_DIRTY:
		return kd->soft_dirty;
	case KD_MEM_TRACK:
		return kd->uffd_wp_tracking || kd->soft_dirty;
	case KD_VVAR_VCLOCK:
		return kd->vvar_vclock;
	case KD_CGROUP_FREEZER:
		return kd->cgroup_v1_freezer || kd->cgroup_v2_freeze;
	case KD_TCP_REPAIR:
		return kd->tcp_repair;
	case KD__NR:
		break;
	}
	return false;
}

static int kd_probe_all(struct kerndat *kd)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	int r;

	memset(kd_detail, 0, sizeof(kd_detail));
	r = probe_with_child(kd);
	if (r >= 0)
		r = probe_clone3_set_tid(kd);
	if (r >= 0)
		r = probe_soft_dirty(kd, pg);
	if (r < 0)
		return r;
	probe_prctl_mm_map(kd);
	probe_caps(kd);
	probe_map_files(kd);
	probe_memfd(kd);
	probe_pagemap_scan(kd, pg);
	probe_uffd(kd, pg);
	note_mem_track(kd);
	probe_vvar(kd);
	probe_cgroups(kd);
	probe_tcp_repair(kd);
	return 0;
}

static void kd_fill_table(const struct kerndat *kd)
{
	for (size_t i = 0; i < KD__NR; i++) {
		kd_table[i] = (struct ckpt_feature){
			.name = kd_names[i].name,
			.present = kd_present(kd, (enum kd_feature)i),
			.required = kd_names[i].required,
			.detail = kd_detail[i],
		};
		pr_debug("kerndat: %s: %s%s%s%s", kd_table[i].name, kd_table[i].present ? "yes" : "no",
			 kd_detail[i][0] ? " (" : "", kd_detail[i], kd_detail[i][0] ? ")" : "");
	}
}

const struct kerndat *kerndat_get(void)
{
	struct kerndat kd = {0};
	int r = 0;

	pthread_mutex_lock(&kd_lock);
	if (!kd_done) {
		r = kd_probe_all(&kd);
		if (r >= 0) {
			kd_cache = kd;
			kd_fill_table(&kd_cache);
			kd_done = true;
		}
	}
	pthread_mutex_unlock(&kd_lock);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return &kd_cache;
}

/*
 * The table points at static storage valid for the life of the process. A missing required
 * feature is -ENOTSUP and is not logged: the caller prints the table as it sees fit.
 */
_public_ int ckpt_check(const struct ckpt_feature **ret, size_t *ret_n)
{
	const struct kerndat *kd = kerndat_get();
	bool ok = true;

	if (!kd)
		return -errno;
	for (size_t i = 0; i < KD__NR; i++)
		if (kd_table[i].required && !kd_table[i].present)
			ok = false;
	if (ret)
		*ret = kd_table;
	if (ret_n)
		*ret_n = KD__NR;
	return ok ? 0 : -ENOTSUP;
}
