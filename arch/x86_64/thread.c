/* SPDX-License-Identifier: MIT */
/* x86_64 thread state: general registers plus the XSAVE area (or FXSAVE without XSAVE). */
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "arch-private.h"

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * NT_X86_XSTATE in the standard format. The kernel trims iov_len to its own size
 * (fpu_user_cfg.max_size), so a generous buffer tells us that size.
 */
static int x86_xstate_dump(pid_t tid, ThreadCoreX86 *x)
{
	_cleanup_free_ uint8_t *buf = malloc(X86_XSTATE_QUERY_SIZE);
	struct iovec iov = {buf, X86_XSTATE_QUERY_SIZE};
	uint8_t *shrunk;

	if (!buf)
		return -ENOMEM;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_X86_XSTATE", tid);
	if (iov.iov_len < X86_XSAVE_MIN)
		return pr_err_errno(-EIO, "thread %d: NT_X86_XSTATE is only %zu bytes", tid, iov.iov_len);
	if (iov.iov_len != x86_host()->xsave_size)
		pr_debug("thread %d: NT_X86_XSTATE is %zu bytes, CPUID 0xd says %u", tid, iov.iov_len,
			 x86_host()->xsave_size);
	shrunk = realloc(buf, iov.iov_len);
	if (shrunk)
		buf = shrunk;
	x->xsave.data = TAKE_PTR(buf);
	x->xsave.len = iov.iov_len;
	x->has_xsave = true;
	return 0;
}

static int x86_fxsave_dump(pid_t tid, ThreadCoreX86 *x)
{
	_cleanup_free_ uint8_t *buf = malloc(X86_FXSAVE_SIZE);
	struct iovec iov = {buf, X86_FXSAVE_SIZE};

	if (!buf)
		return -ENOMEM;
	if (ptrace(PTRACE_GETREGSET, tid, NT_PRFPREG, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_PRFPREG", tid);
	if (iov.iov_len != X86_FXSAVE_SIZE)
		return pr_err_errno(-EIO, "thread %d: NT_PRFPREG is %zu bytes", tid, iov.iov_len);
	x->fxsave.data = TAKE_PTR(buf);
	x->fxsave.len = X86_FXSAVE_SIZE;
	x->has_fxsave = true;
	return 0;
}

static int x86_thread_dump_into(pid_t tid, ThreadCoreX86 *x)
{
	arch_gpregs_t regs;
	int r;

	r = arch_gpregs_get(tid, &regs);
	if (r < 0)
		return r;
	x86_gpregs_from_user(x->gpregs, x86_uregs(&regs));
	if (x86_host()->osxsave)
		return x86_xstate_dump(tid, x);
	return x86_fxsave_dump(tid, x);
}

int arch_thread_dump(pid_t tid, ThreadEntry *te)
{
	ThreadCoreX86 *x;
	int r;

	x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	thread_core_x86__init(x);
	te->x86 = x;
	x->gpregs = malloc(sizeof(*x->gpregs));
	if (!x->gpregs) {
		arch_thread_free(te);
		return -ENOMEM;
	}
	x86_gpregs__init(x->gpregs);
	r = x86_thread_dump_into(tid, x);
	if (r < 0)
		arch_thread_free(te);
	return r;
}

void arch_thread_free(ThreadEntry *te)
{
	ThreadCoreX86 *x = te->x86;

	if (!x)
		return;
	free(x->gpregs);
	free(x->xsave.data);
	free(x->fxsave.data);
	free(x);
	te->x86 = NULL;
}

static int x86_mxcsr_check(const uint8_t *legacy, char *why, size_t why_len)
{
	uint32_t mxcsr = get_u32(legacy + X86_FXSAVE_MXCSR_OFF);
	uint32_t mask = x86_host()->mxcsr_mask;

	if (mxcsr & ~mask)
		return x86_why(why, why_len, -EINVAL, "MXCSR %#x has bits this CPU rejects (mask %#x)", mxcsr,
			       mask);
	return 0;
}

/* Does every component in xstate_bv fit in len bytes, at this host's standard-format offsets? */
static bool x86_components_fit(uint64_t bv, size_t len)
{
	const struct x86_host *h = x86_host();

	for (unsigned int i = 2; i < 63; i++)
		if ((bv & (1ULL << i)) && (size_t)h->comp_off[i] + h->comp_size[i] > len)
			return false;
	return true;
}

/*
 * NT_X86_XSTATE carries the XCR0 of the kernel that wrote it in the first 8 of the FXSAVE
 * software bytes (offset 464, the convention gdb reads). An area written under this host's
 * XCR0 must have this host's size; a shorter one was cut (or comes from a CPU of another
 * vendor, whose layout for the same features differs: refused as well).
 */
static int x86_sw_xcr0_check(const uint8_t *p, size_t len, char *why, size_t why_len)
{
	const struct x86_host *h = x86_host();
	uint64_t xcr0 = get_u64(p + X86_XSAVE_SW_XCR0_OFF);

	if (xcr0 == h->xcr0 && len != h->xsave_size)
		return x86_why(why, why_len, -EINVAL,
			       "XSAVE area of %zu bytes written under XCR0 %#llx is truncated or has another "
			       "CPU's layout: %u bytes here",
			       len, (unsigned long long)xcr0, h->xsave_size);
	return 0;
}

/*
 * A standard-format XSAVE area (Intel SDM vol. 1, 13.4.2): the kernel's NT_X86_XSTATE set
 * wants exactly its own size, no compacted format, zero reserved header bytes, and only
 * features it enabled. The image does not record the component offsets, so an area of another
 * size is accepted only when it uses nothing beyond x87/SSE/AVX, whose place never changes;
 * an AVX-512 area from a CPU with another layout (Intel vs. AMD) is refused by its size.
 */
static int x86_xsave_check(const uint8_t *p, size_t len, char *why, size_t why_len)
{
	const struct x86_host *h = x86_host();
	uint64_t bv, comp;
	int r;

	if (len < X86_XSAVE_MIN)
		return x86_why(why, why_len, -EINVAL, "XSAVE area of %zu bytes is shorter than %d", len,
			       X86_XSAVE_MIN);
	bv = get_u64(p + X86_XSAVE_HDR_OFF);
	comp = get_u64(p + X86_XSAVE_HDR_OFF + 8);
	if (comp)
		return x86_why(why, why_len, -EINVAL, "XSAVE area is in compacted format (xcomp_bv %#llx)",
			       (unsigned long long)comp);
	for (size_t i = 16; i < X86_XSAVE_HDR_SIZE; i++)
		if (p[X86_XSAVE_HDR_OFF + i])
			return x86_why(why, why_len, -EINVAL, "XSAVE header has reserved byte %zu set", i);
	if (bv & ~h->xcr0)
		return x86_why(
			why, why_len, -EINVAL,
			"xstate_bv %#llx uses features %#llx this CPU/kernel has not enabled (XCR0 %#llx)",
			(unsigned long long)bv, (unsigned long long)(bv & ~h->xcr0),
			(unsigned long long)h->xcr0);
	r = x86_sw_xcr0_check(p, len, why, why_len);
	if (r < 0)
		return r;
	if (len > h->xsave_size)
		return x86_why(why, why_len, -EINVAL, "XSAVE area of %zu bytes is larger than this host's %u",
			       len, h->xsave_size);
	if (len < h->xsave_size && ((bv & ~XFEATURE_FIXED_LAYOUT) || !x86_components_fit(bv, len)))
		return x86_why(why, why_len, -EINVAL,
			       "XSAVE area of %zu bytes (xstate_bv %#llx) does not match this host's %u-byte "
			       "layout",
			       len, (unsigned long long)bv, h->xsave_size);
	if (bv & XFEATURE_FIXED_LAYOUT)
		return x86_mxcsr_check(p, why, why_len);
	return 0;
}

/* This host has no XSAVE: only the legacy part of an XSAVE area can go in (NT_PRFPREG). */
static int x86_xsave_legacy_check(const uint8_t *p, size_t len, char *why, size_t why_len)
{
	uint64_t bv;

	if (len < X86_XSAVE_MIN)
		return x86_why(why, why_len, -EINVAL, "XSAVE area of %zu bytes is shorter than %d", len,
			       X86_XSAVE_MIN);
	bv = get_u64(p + X86_XSAVE_HDR_OFF);
	if (bv & ~(XFEATURE_FP | XFEATURE_SSE))
		return x86_why(why, why_len, -EINVAL,
			       "xstate_bv %#llx holds state beyond x87/SSE, and this CPU has no XSAVE",
			       (unsigned long long)bv);
	return x86_mxcsr_check(p, why, why_len);
}

int arch_thread_validate(const ThreadEntry *te, char *why, size_t why_len)
{
	const ThreadCoreX86 *x = te->x86;
	int r;

	if (why && why_len)
		why[0] = '\0';
	if (!x || !x->gpregs)
		return x86_why(why, why_len, -EINVAL, "thread %u has no x86_64 register state", te->tid);
	r = x86_gpregs_check(x->gpregs, why, why_len);
	if (r < 0)
		return r;
	if (x->has_xsave) {
		if (!x86_host()->osxsave)
			return x86_xsave_legacy_check(x->xsave.data, x->xsave.len, why, why_len);
		return x86_xsave_check(x->xsave.data, x->xsave.len, why, why_len);
	}
	if (x->has_fxsave) {
		if (x->fxsave.len != X86_FXSAVE_SIZE)
			return x86_why(why, why_len, -EINVAL, "FXSAVE area of %zu bytes, expected %d",
				       x->fxsave.len, X86_FXSAVE_SIZE);
		return x86_mxcsr_check(x->fxsave.data, why, why_len);
	}
	return x86_why(why, why_len, -EINVAL, "thread %u has no FPU state", te->tid);
}

/*
 * Syscall restart, as arch_do_signal_or_restart() would do it when the thread leaves its
 * stop. A restored thread takes none of the kernel's path (orig_ax is set to -1 below), so we
 * do it here: ax = nr, ip back over the 2-byte syscall instruction. -ERESTART_RESTARTBLOCK
 * would make the kernel run restart_syscall(2) with the thread's restart_block, which lives in
 * the kernel and did not survive the checkpoint; we re-run the original syscall with its
 * original arguments instead (a relative nanosleep sleeps its full time again, poll waits its
 * full timeout again).
 */
void x86_restart_fixup(struct user_regs_struct *r)
{
	if ((int64_t)r->orig_rax >= 0) {
		switch ((int64_t)r->rax) {
		case -ERESTARTSYS:
		case -ERESTARTNOINTR:
		case -ERESTARTNOHAND:
		case -ERESTART_RESTARTBLOCK:
			r->rax = r->orig_rax;
			r->rip -= 2;
			break;
		}
	}
	/* The thread may sit in a syscall-exit or event stop: no restart handling on the way out. */
	r->orig_rax = (uint64_t)-1;
}

/* The kernel takes exactly its own size: pad a shorter (validated) area with zeros. */
static int x86_xstate_restore(pid_t tid, const ThreadCoreX86 *x)
{
	size_t size = x86_host()->xsave_size;
	_cleanup_free_ uint8_t *buf = calloc(1, size);
	struct iovec iov = {buf, size};

	if (!buf)
		return -ENOMEM;
	memcpy(buf, x->xsave.data, MIN(x->xsave.len, size));
	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET NT_X86_XSTATE (%zu bytes)", tid, size);
	return 0;
}

static int x86_fxsave_restore(pid_t tid, const uint8_t *area)
{
	struct iovec iov = {(void *)area, X86_FXSAVE_SIZE};

	if (ptrace(PTRACE_SETREGSET, tid, NT_PRFPREG, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET NT_PRFPREG", tid);
	return 0;
}

int arch_thread_restore(pid_t tid, const ThreadEntry *te)
{
	struct user_regs_struct regs = {};
	char why[256];
	int r;

	r = arch_thread_validate(te, why, sizeof(why));
	if (r < 0)
		return pr_err_errno(r, "thread %d: cannot restore its registers: %s", tid, why);
	x86_gpregs_to_user(&regs, te->x86->gpregs);
	x86_restart_fixup(&regs);
	r = x86_uregs_set(tid, &regs);
	if (r < 0)
		return r;
	if (te->x86->has_xsave) {
		/* Without XSAVE here, validate allowed only x87/SSE: the legacy area is FXSAVE. */
		if (!x86_host()->osxsave)
			return x86_fxsave_restore(tid, te->x86->xsave.data);
		return x86_xstate_restore(tid, te->x86);
	}
	return x86_fxsave_restore(tid, te->x86->fxsave.data);
}

void arch_gpregs_restart_fixup(arch_gpregs_t *regs)
{
	x86_restart_fixup(x86_uregs(regs));
}
