/* SPDX-License-Identifier: MIT */
/*
 * Extended register state: known values in zmm0-zmm31, k0-k7, the eight x87 registers, the
 * x87 control word and MXCSR. One assembly function loads them all, waits for SIGTERM
 * without touching them, and stores them back; C then compares byte for byte. No libc call
 * runs between the load and the store, since libc is free to use the vector registers.
 *
 * The wait is either rt_sigsuspend as a raw syscall (default, "sleep": the checkpoint finds
 * the task inside a syscall) or a loop of the pause instruction ("spin": the task is caught
 * running in user space). The SIGTERM handler runs on the kernel's saved-and-restored signal
 * frame, so it does not disturb the values either.
 *
 * usage: fpu_avx512 [sleep|spin]
 */
#include <stddef.h>
#include "crtest.h"

struct fpu_state {
	uint8_t zmm[32][64];	/* 0 */
	uint64_t k[8];		/* 2048 */
	uint8_t st[8][16];	/* 2112: 80-bit values in 16-byte slots, st[0] is ST(0) */
	uint16_t fcw;		/* 2240 */
	uint16_t fsw;		/* 2242: stored only */
	uint32_t mxcsr;		/* 2244 */
	uint32_t has_bw;	/* 2248: use kmovq (AVX512BW) rather than kmovw */
	uint32_t mxcsr_default; /* 2252: loaded back before returning (ABI) */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct fpu_state, k) == 2048, "k");
_Static_assert(offsetof(struct fpu_state, st) == 2112, "st");
_Static_assert(offsetof(struct fpu_state, fcw) == 2240, "fcw");
_Static_assert(offsetof(struct fpu_state, fsw) == 2242, "fsw");
_Static_assert(offsetof(struct fpu_state, mxcsr) == 2244, "mxcsr");
_Static_assert(offsetof(struct fpu_state, has_bw) == 2248, "has_bw");
_Static_assert(offsetof(struct fpu_state, mxcsr_default) == 2252, "mxcsr_default");

/*
 * void cr_fpu_run(const struct fpu_state *in, struct fpu_state *out,
 *                 volatile sig_atomic_t *stop, const uint64_t *waitmask, long spin);
 * rdi in, rsi out, rdx stop, rcx waitmask, r8 spin. The syscall instruction clobbers only
 * rax, rcx and r11, so out and waitmask live in r9 and r10 across it.
 */
__asm__(".text\n"
	".globl cr_fpu_run\n"
	".type cr_fpu_run, @function\n"
	"cr_fpu_run:\n"
	"	mov %rsi, %r9\n"
	"	mov %rcx, %r10\n"
	"	fninit\n"
	"	fldcw 2240(%rdi)\n"
	"	.irp i,7,6,5,4,3,2,1,0\n"
	"	fldt 2112+\\i*16(%rdi)\n"
	"	.endr\n"
	"	ldmxcsr 2244(%rdi)\n"
	"	cmpl $0, 2248(%rdi)\n"
	"	je 1f\n"
	"	.irp i,0,1,2,3,4,5,6,7\n"
	"	kmovq 2048+\\i*8(%rdi), %k\\i\n"
	"	.endr\n"
	"	jmp 2f\n"
	"1:\n"
	"	.irp i,0,1,2,3,4,5,6,7\n"
	"	kmovw 2048+\\i*8(%rdi), %k\\i\n"
	"	.endr\n"
	"2:\n"
	"	.irp "
	"i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 \\i*64(%rdi), %zmm\\i\n"
	"	.endr\n"
	"3:\n"
	"	cmpl $0, (%rdx)\n"
	"	jne 5f\n"
	"	test %r8, %r8\n"
	"	jnz 4f\n"
	"	mov %r10, %rdi\n" /* rt_sigsuspend(waitmask, 8) */
	"	mov $8, %esi\n"
	"	mov $130, %eax\n"
	"	syscall\n"
	"	jmp 3b\n"
	"4:\n"
	"	pause\n"
	"	jmp 3b\n"
	"5:\n"
	"	.irp "
	"i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	"	vmovdqu64 %zmm\\i, \\i*64(%r9)\n"
	"	.endr\n"
	"	cmpl $0, 2248(%r9)\n"
	"	je 6f\n"
	"	.irp i,0,1,2,3,4,5,6,7\n"
	"	kmovq %k\\i, 2048+\\i*8(%r9)\n"
	"	.endr\n"
	"	jmp 7f\n"
	"6:\n"
	"	.irp i,0,1,2,3,4,5,6,7\n"
	"	kmovw %k\\i, 2048+\\i*8(%r9)\n"
	"	.endr\n"
	"7:\n"
	"	fnstsw 2242(%r9)\n"
	"	.irp i,0,1,2,3,4,5,6,7\n"
	"	fstpt 2112+\\i*16(%r9)\n"
	"	.endr\n"
	"	fnstcw 2240(%r9)\n"
	"	stmxcsr 2244(%r9)\n"
	"	ldmxcsr 2252(%r9)\n"
	"	fninit\n"
	"	vzeroupper\n"
	"	ret\n"
	".size cr_fpu_run, .-cr_fpu_run\n");

void cr_fpu_run(const struct fpu_state *in, struct fpu_state *out, volatile sig_atomic_t *stop,
		const uint64_t *waitmask, long spin);

#define TEST_FCW   0x067f /* round down, double precision, all exceptions masked */
#define TEST_MXCSR 0xffe1 /* FTZ, round to zero, DAZ, all masked, IE and PE flags set */

static struct fpu_state in, out, ref;

static void fill_in(int has_bw)
{
	uint64_t st = 0xf00dfacecafe0001ull;
	int i, j;

	for (i = 0; i < 32; i++)
		for (j = 0; j < 64; j += 8) {
			uint64_t v = cr_rand_next(&st);

			memcpy(&in.zmm[i][j], &v, 8);
		}
	for (i = 0; i < 8; i++)
		in.k[i] = has_bw ? cr_rand_next(&st) : cr_rand_next(&st) & 0xffff;
	for (i = 0; i < 8; i++) {
		/* A normal 80-bit value: explicit integer bit, exponent near 1.0, sign alternating. */
		uint64_t mant = cr_rand_next(&st) | (1ull << 63);
		uint16_t se = (uint16_t)(0x3fff + i * 3 - 10) | (uint16_t)((i & 1) << 15);

		memcpy(&in.st[i][0], &mant, 8);
		memcpy(&in.st[i][8], &se, 2);
	}
	in.fcw = TEST_FCW;
	in.mxcsr = TEST_MXCSR;
	in.has_bw = has_bw;
	in.mxcsr_default = 0x1f80;
}

static void prepare_out(struct fpu_state *o)
{
	memset(o, 0, sizeof(*o));
	o->has_bw = in.has_bw;
	o->mxcsr_default = 0x1f80;
}

static void hex(char *buf, size_t len, const uint8_t *p, size_t n)
{
	size_t i;

	buf[0] = 0;
	for (i = 0; i < n && 2 * i + 3 <= len; i++)
		snprintf(buf + 2 * i, len - 2 * i, "%02x", p[i]);
}

/* Compare o with in; returns a static description of the first difference or NULL. */
static const char *compare(const struct fpu_state *o)
{
	static char msg[600];
	char a[140], b[140];
	int i;

	for (i = 0; i < 32; i++)
		for (int j = 0; j < 64; j += 32)
			if (memcmp(&o->zmm[i][j], &in.zmm[i][j], 32)) {
				hex(a, sizeof(a), &o->zmm[i][j], 32);
				hex(b, sizeof(b), &in.zmm[i][j], 32);
				snprintf(msg, sizeof(msg), "zmm%d bytes %d..%d are %s, want %s", i, j, j + 31,
					 a, b);
				return msg;
			}
	for (i = 0; i < 8; i++)
		if (o->k[i] != in.k[i]) {
			snprintf(msg, sizeof(msg), "k%d is %#llx, want %#llx", i, (unsigned long long)o->k[i],
				 (unsigned long long)in.k[i]);
			return msg;
		}
	for (i = 0; i < 8; i++)
		if (memcmp(o->st[i], in.st[i], 10)) {
			hex(a, sizeof(a), o->st[i], 10);
			hex(b, sizeof(b), in.st[i], 10);
			snprintf(msg, sizeof(msg), "st(%d) is %s, want %s", i, a, b);
			return msg;
		}
	if (o->fcw != in.fcw) {
		snprintf(msg, sizeof(msg), "x87 control word %#x, want %#x", o->fcw, in.fcw);
		return msg;
	}
	if (o->mxcsr != in.mxcsr) {
		snprintf(msg, sizeof(msg), "MXCSR %#x, want %#x", o->mxcsr, in.mxcsr);
		return msg;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	volatile sig_atomic_t already = 1;
	uint64_t waitmask;
	sigset_t cur;
	const char *why;
	long spin = 0;
	int s;

	cr_init();
	if (argc > 1 && !strcmp(argv[1], "spin"))
		spin = 1;
	else if (argc > 1 && strcmp(argv[1], "sleep"))
		cr_fail("setup: usage: fpu_avx512 [sleep|spin]");
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		cr_fail("setup: this CPU has no AVX-512F");
	fill_in(__builtin_cpu_supports("avx512bw"));

	/* The wait mask for the raw rt_sigsuspend: the current mask without SIGTERM. */
	sigprocmask(SIG_BLOCK, NULL, &cur);
	waitmask = 0;
	for (s = 1; s <= 64; s++)
		if (s != SIGTERM && sigismember(&cur, s) == 1)
			waitmask |= 1ull << (s - 1);

	/* Self-test of the load/store path, and the reference x87 status word. */
	prepare_out(&ref);
	cr_fpu_run(&in, &ref, &already, &waitmask, 0);
	why = compare(&ref);
	if (why)
		cr_fail("setup: load/store without a wait differs: %s", why);

	prepare_out(&out);
	if (spin) {
		/* The spin loop makes no syscall, so SIGTERM must be deliverable all along. */
		sigemptyset(&cur);
		sigaddset(&cur, SIGTERM);
		sigprocmask(SIG_UNBLOCK, &cur, NULL);
	}
	cr_ready();
	cr_fpu_run(&in, &out, &cr_stop, &waitmask, spin);
	why = compare(&out);
	if (why)
		cr_fail("%s", why);
	if (out.fsw != ref.fsw)
		cr_fail("x87 status word %#x, want %#x", out.fsw, ref.fsw);
	cr_pass();
}
