/* SPDX-License-Identifier: MIT */
/* x86_64 internals shared by the files of arch/x86_64/; nothing outside arch/x86_64 includes it. */
#ifndef CKPT_ARCH_X86_64_PRIVATE_H
#define CKPT_ARCH_X86_64_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/user.h>
#include "arch.h"
#include "log.h"

_Static_assert(sizeof(struct user_regs_struct) <= sizeof(arch_gpregs_t),
	       "arch_gpregs_t too small for struct user_regs_struct");

/*
 * Standard (non-compacted) XSAVE layout, Intel SDM vol. 1, 13.4: the 512-byte legacy FXSAVE
 * region, then the 64-byte XSAVE header, then the extended components at the offsets
 * CPUID.(EAX=0DH,ECX=i).EBX gives.
 */
#define X86_FXSAVE_SIZE		  512
#define X86_XSAVE_HDR_OFF	  512
#define X86_XSAVE_HDR_SIZE	  64
#define X86_XSAVE_MIN		  (X86_XSAVE_HDR_OFF + X86_XSAVE_HDR_SIZE)
#define X86_FXSAVE_MXCSR_OFF	  24
#define X86_FXSAVE_MXCSR_MASK_OFF 28
/* NT_X86_XSTATE: the writer's XCR0 in the FXSAVE "software available" bytes. */
#define X86_XSAVE_SW_XCR0_OFF 464

#define XFEATURE_FP  (1ULL << 0)
#define XFEATURE_SSE (1ULL << 1)
#define XFEATURE_YMM (1ULL << 2)
/* Components whose standard-format place is the same on every CPU: legacy area and YMM at 576. */
#define XFEATURE_FIXED_LAYOUT (XFEATURE_FP | XFEATURE_SSE | XFEATURE_YMM)

/* NT_X86_XSTATE is at most a few KiB (AMX tile data is 8 KiB); the kernel trims iov_len. */
#define X86_XSTATE_QUERY_SIZE (64 * 1024)

/* From arch/x86/include/asm/... of Linux: syscall restart codes, never seen by user space. */
#define ERESTARTSYS	      512
#define ERESTARTNOINTR	      513
#define ERESTARTNOHAND	      514
#define ERESTART_RESTARTBLOCK 516

/* This host's XSAVE facts, probed once from CPUID and XGETBV. */
struct x86_host {
	bool osxsave;		/* CPUID.1:ECX.OSXSAVE: the kernel enabled XSAVE, XGETBV works */
	uint64_t xcr0;		/* XCR0, 0 without OSXSAVE */
	uint32_t xsave_size;	/* CPUID.(0DH,0).EBX: standard-format size for the XCR0 features */
	uint32_t comp_off[64];	/* standard-format offset of component i, 0 if not enabled */
	uint32_t comp_size[64]; /* its size in bytes */
	uint32_t mxcsr_mask;	/* MXCSR bits the CPU accepts (FXSAVE's MXCSR_MASK, 0xffbf if 0) */
	uint16_t user_cs;	/* our own CS and SS: the kernel's 64-bit user segments */
	uint16_t user_ss;
};

const struct x86_host *x86_host(void);

/* user_regs_struct <-> X86Gpregs */
void x86_gpregs_from_user(X86Gpregs *g, const struct user_regs_struct *r);
void x86_gpregs_to_user(struct user_regs_struct *r, const X86Gpregs *g);
int x86_gpregs_check(const X86Gpregs *g, char *why, size_t why_len);

static inline struct user_regs_struct *x86_uregs(arch_gpregs_t *g)
{
	return (struct user_regs_struct *)g->w;
}

static inline const struct user_regs_struct *x86_curegs(const arch_gpregs_t *g)
{
	return (const struct user_regs_struct *)g->w;
}

/* PTRACE_SETREGSET NT_PRSTATUS as given: no restart fix-up. */
int x86_uregs_set(pid_t tid, const struct user_regs_struct *r);
void x86_restart_fixup(struct user_regs_struct *r);

/* Write a one-line reason into why (may be NULL), log it at debug level, return err. */
static inline int _printf_(4, 5) x86_why(char *why, size_t why_len, int err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (why && why_len)
		snprintf(why, why_len, "%s", buf);
	pr_debug("x86_64: %s", buf);
	return err;
}

#endif
