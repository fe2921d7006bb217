/* SPDX-License-Identifier: MIT */
/* Raw syscalls glibc 2.36 lacks or wraps unhelpfully; static inline, -errno returns. */
#ifndef CKPT_SYSCALLS_H
#define CKPT_SYSCALLS_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/sched.h>
#include "uapi.h"

static inline long sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

/* clone3(2): returns the child pid in the parent, 0 in the child, -errno on failure. */
static inline long sys_clone3(struct clone_args *args, size_t size)
{
	return sys_ret(syscall(__NR_clone3, args, size));
}

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return (int)sys_ret(syscall(__NR_pidfd_open, pid, flags));
}

static inline int sys_pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
	return (int)sys_ret(syscall(__NR_pidfd_getfd, pidfd, targetfd, flags));
}

static inline int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
	return (int)sys_ret(syscall(__NR_pidfd_send_signal, pidfd, sig, info, flags));
}

static inline int sys_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2)
{
	return (int)sys_ret(syscall(__NR_kcmp, pid1, pid2, type, idx1, idx2));
}

static inline long sys_get_robust_list(pid_t pid, void **head, size_t *len)
{
	return sys_ret(syscall(__NR_get_robust_list, pid, head, len));
}

static inline int sys_tgkill(pid_t tgid, pid_t tid, int sig)
{
	return (int)sys_ret(syscall(__NR_tgkill, tgid, tid, sig));
}

static inline ssize_t sys_process_vm_readv(pid_t pid, const struct iovec *l, unsigned long nl,
					   const struct iovec *r, unsigned long nr)
{
	return sys_ret(syscall(__NR_process_vm_readv, pid, l, nl, r, nr, 0UL));
}

static inline ssize_t sys_process_vm_writev(pid_t pid, const struct iovec *l, unsigned long nl,
					    const struct iovec *r, unsigned long nr)
{
	return sys_ret(syscall(__NR_process_vm_writev, pid, l, nl, r, nr, 0UL));
}

/* struct sched_attr of sched_setattr(2), SCHED_ATTR_SIZE_VER0 (48 bytes) plus the util clamps. */
struct ckpt_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

static inline int sys_sched_getattr(pid_t tid, struct ckpt_sched_attr *attr)
{
	return (int)sys_ret(syscall(__NR_sched_getattr, tid, attr, sizeof(*attr), 0U));
}

#endif
