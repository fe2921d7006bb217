/* SPDX-License-Identifier: MIT */
/*
 * arch/ on x86_64, against real tracees (run as root): register and XSAVE dump with AVX-512
 * and x87 values, syscall injection (incl. clone3), restore, the syscall-restart fix-up,
 * validation of bad images and CPU compatibility.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cpuid.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/sched.h>
#include "arch.h"
#include "log.h"

/* A syscall instruction at a known address; forked children have it at the same place. */
__asm__(".text\n"
	".globl test_gate\n"
	".type test_gate, @function\n"
	"test_gate:\n"
	"\tsyscall\n"
	"\tint3\n"
	".size test_gate, .-test_gate\n");
extern char test_gate[];

#define GATE		     ((uint64_t)(uintptr_t)test_gate)
#define RESTARTSYS	     (-512L)
#define RESTART_RESTARTBLOCK (-516L)

/* ---- helpers ------------------------------------------------------------------------------ */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static uint64_t xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static bool have_avx512f(void)
{
	uint32_t r[4];

	cpuid(7, 0, r);
	return (r[1] & (1U << 16)) && (xcr0() & 0xe0) == 0xe0;
}

static int wait_stopped(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, __WALL), pid);
	assert_true(WIFSTOPPED(status));
	return status;
}

/* Seize like core does and bring the thread into an interrupt stop. */
static void seize_interrupt(pid_t pid)
{
	int status;

	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	status = wait_stopped(pid);
	assert_int_equal(status >> 16, PTRACE_EVENT_STOP);
}

static int wait_exit_code(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, __WALL), pid);
	if (!WIFEXITED(status))
		fail_msg("child %d did not exit normally (status %#x)", pid, status);
	return WEXITSTATUS(status);
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, __WALL);
}

/* Wait until pid sleeps inside syscall nr (first field of /proc/PID/syscall). */
static void wait_in_syscall(pid_t pid, long nr)
{
	char path[64], buf[256], want[32];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	snprintf(want, sizeof(want), "%ld ", nr);
	for (int i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, want, strlen(want)))
				return;
		}
		usleep(1000);
	}
	fail_msg("pid %d never blocked in syscall %ld", pid, nr);
}

static long inject(pid_t pid, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5)
{
	const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
	arch_gpregs_t base;
	long ret = 0;

	assert_int_equal(arch_gpregs_get(pid, &base), 0);
	assert_int_equal(arch_syscall(pid, &base, GATE, nr, args, &ret), 0);
	return ret;
}

/* ---- a child holding known values in zmm0-31, k1-7, st0 and callee-saved registers --------- */

struct regstate {
	uint8_t zmm[32][64];
	uint64_t k[8];
	uint8_t st0[16];
	uint64_t gp[5]; /* rbx r12 r13 r14 r15 */
};
_Static_assert(offsetof(struct regstate, k) == 2048, "k");
_Static_assert(offsetof(struct regstate, st0) == 2112, "st0");
_Static_assert(offsetof(struct regstate, gp) == 2128, "gp");

struct shared {
	volatile int ready;
	volatile int go;
};

static const uint64_t gp_magic[5] = {0xb0b0b0b0deadbeefULL, 0x1212121212121212ULL, 0x1313131313131313ULL,
				     0x1414141414141414ULL, 0x1515151515151515ULL};

static void regstate_fill(struct regstate *s)
{
	long double st = 3.14159265358979323846L;

	memset(s, 0, sizeof(*s));
	for (int n = 0; n < 32; n++)
		for (int j = 0; j < 64; j++)
			s->zmm[n][j] = (uint8_t)((n * 64 + j + 1) ^ 0x5a);
	for (int i = 1; i < 8; i++)
		s->k[i] = 0x1111U * i;
	memcpy(s->st0, &st, 10);
	memcpy(s->gp, gp_magic, sizeof(gp_magic));
}

/* clang-format off */
#define ZL(n) "vmovdqu64 " #n "*64(%%rdi), %%zmm" #n "\n\t"
#define ZS(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%%rsi)\n\t"
#define KL(n) "kmovw 2048+8*" #n "(%%rdi), %%k" #n "\n\t"
#define KS(n) "kmovw %%k" #n ", 2048+8*" #n "(%%rsi)\n\t"
#define K7(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define Z8(M, a, b, c, d, e, f, g, h) M(a) M(b) M(c) M(d) M(e) M(f) M(g) M(h)
#define ZALL(M)                                                                                     \
	Z8(M, 0, 1, 2, 3, 4, 5, 6, 7) Z8(M, 8, 9, 10, 11, 12, 13, 14, 15)                          \
	Z8(M, 16, 17, 18, 19, 20, 21, 22, 23) Z8(M, 24, 25, 26, 27, 28, 29, 30, 31)

__attribute__((target("avx512f"), noinline)) static void child_hold(const struct regstate *in,
								     struct regstate *out, struct shared *sh)
{
	__asm__ volatile(ZALL(ZL) K7(KL)
			 "fldt 2112(%%rdi)\n\t"
			 "movq 2128(%%rdi), %%rbx\n\t"
			 "movq 2136(%%rdi), %%r12\n\t"
			 "movq 2144(%%rdi), %%r13\n\t"
			 "movq 2152(%%rdi), %%r14\n\t"
			 "movq 2160(%%rdi), %%r15\n\t"
			 "movl $1, (%%rdx)\n"
			 "1:\n\t"
			 "pause\n\t"
			 "cmpl $0, 4(%%rdx)\n\t"
			 "je 1b\n\t" ZALL(ZS) K7(KS)
			 "fstpt 2112(%%rsi)\n\t"
			 "movq %%rbx, 2128(%%rsi)\n\t"
			 "movq %%r12, 2136(%%rsi)\n\t"
			 "movq %%r13, 2144(%%rsi)\n\t"
			 "movq %%r14, 2152(%%rsi)\n\t"
			 "movq %%r15, 2160(%%rsi)\n\t"
			 :
			 : "D"(in), "S"(out), "d"(sh)
			 : "memory", "cc", "rbx", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",
			   "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
			   "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
			   "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
			   "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

static __thread volatile int tls_marker = 77;

/* clang-format on */

static int child_regs_main(struct shared *sh)
{
	static struct regstate in, out;

	regstate_fill(&in);
	child_hold(&in, &out, sh);
	if (memcmp(in.zmm, out.zmm, sizeof(in.zmm)))
		return 1;
	for (int i = 1; i < 8; i++)
		if ((out.k[i] & 0xffff) != in.k[i])
			return 2;
	if (memcmp(in.st0, out.st0, 10))
		return 3;
	if (memcmp(in.gp, out.gp, sizeof(in.gp)))
		return 4;
	if (tls_marker != 77) /* fs_base came back */
		return 5;
	return 0;
}

/* The bytes of zmm n as the standard-format XSAVE area holds them (SDM vol. 1, 13.4, 13.5). */
static void xsave_zmm(const uint8_t *xs, int n, uint8_t z[64])
{
	uint32_t ymm[4], zhi[4], hi16[4];

	cpuid(0xd, 2, ymm);
	cpuid(0xd, 6, zhi);
	cpuid(0xd, 7, hi16);
	if (n < 16) {
		memcpy(z, xs + 160 + 16 * n, 16);
		memcpy(z + 16, xs + ymm[1] + 16 * n, 16);
		memcpy(z + 32, xs + zhi[1] + 32 * n, 32);
	} else {
		memcpy(z, xs + hi16[1] + 64 * (n - 16), 64);
	}
}

static void check_xsave_holds(const ThreadEntry *te)
{
	const uint8_t *xs = te->x86->xsave.data;
	struct regstate want;
	uint32_t d0[4], k[4];
	uint64_t bv;

	regstate_fill(&want);
	cpuid(0xd, 0, d0);
	assert_true(te->x86->has_xsave);
	assert_int_equal(te->x86->xsave.len, d0[1]);
	memcpy(&bv, xs + 512, 8);
	assert_int_equal(bv & 0xe7, 0xe7);
	for (int n = 0; n < 32; n++) {
		uint8_t z[64];

		xsave_zmm(xs, n, z);
		assert_memory_equal(z, want.zmm[n], 64);
	}
	cpuid(0xd, 5, k);
	for (int i = 1; i < 8; i++) {
		uint64_t v;

		memcpy(&v, xs + k[1] + 8 * i, 8);
		assert_int_equal(v & 0xffff, want.k[i]);
	}
	assert_memory_equal(xs + 32, want.st0, 10); /* st0/mm0, FXSAVE layout */
	assert_int_equal(te->x86->gpregs->bx, gp_magic[0]);
	assert_int_equal(te->x86->gpregs->r12, gp_magic[1]);
	assert_int_equal(te->x86->gpregs->r15, gp_magic[4]);
}

/* Overwrite what restore must bring back: callee-saved registers and the whole XSAVE state. */
static void scramble(pid_t pid, size_t xlen)
{
	uint8_t *buf = calloc(1, xlen);
	struct iovec iov = {buf, xlen};
	arch_gpregs_t g;
	struct user_regs_struct *u = (struct user_regs_struct *)g.w;
	uint8_t z[64], zero[64] = {};

	assert_non_null(buf);
	assert_int_equal(arch_gpregs_get(pid, &g), 0);
	u->rbx = u->r12 = u->r13 = u->r14 = u->r15 = 0;
	u->fs_base = 0;
	assert_int_equal(arch_gpregs_set(pid, &g), 0);
	/* xstate_bv = 0: every component in its initial state (zeros, empty x87 stack). */
	assert_int_equal(ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov), 0);
	iov.iov_len = xlen;
	assert_int_equal(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov), 0);
	xsave_zmm(buf, 31, z);
	assert_memory_equal(z, zero, 64);
	free(buf);
}

static void test_dump_inject_restore(void **state)
{
	struct shared *sh;
	ThreadEntry te = THREAD_ENTRY__INIT;
	char why[256];
	long ret;
	pid_t pid;

	if (!have_avx512f())
		skip();
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_regs_main(sh));
	while (!sh->ready)
		usleep(1000);
	seize_interrupt(pid);

	te.tid = pid;
	assert_int_equal(arch_thread_dump(pid, &te), 0);
	check_xsave_holds(&te);
	assert_int_equal(arch_thread_validate(&te, why, sizeof(why)), 0);
	assert_int_equal(arch_thread_sp(&te), te.x86->gpregs->sp);

	/* Injection through the gate: getpid, a failing close, a 6-argument mmap. */
	assert_int_equal(inject(pid, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	assert_int_equal(inject(pid, SYS_close, (uint64_t)-1, 0, 0, 0, 0, 0), -EBADF);
	ret = inject(pid, SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     (uint64_t)-1, 0);
	assert_true(ret > 0 && (ret & 4095) == 0);
	{
		uint64_t v = 0x1234, back = 0;
		struct iovec l = {&v, 8}, r = {(void *)ret, 8}, lb = {&back, 8};

		assert_int_equal(process_vm_writev(pid, &l, 1, &r, 1, 0), 8);
		assert_int_equal(process_vm_readv(pid, &lb, 1, &r, 1, 0), 8);
		assert_int_equal(back, 0x1234);
	}
	assert_int_equal(inject(pid, SYS_munmap, (uint64_t)ret, 8192, 0, 0, 0, 0), 0);

	scramble(pid, te.x86->xsave.len);
	assert_int_equal(arch_thread_restore(pid, &te), 0);
	arch_thread_free(&te);
	assert_null(te.x86);

	assert_int_equal(ptrace(PTRACE_DETACH, pid, 0, 0), 0);
	sh->go = 1;
	assert_int_equal(wait_exit_code(pid), 0);
	munmap(sh, 4096);
}

/* ---- syscall restart ---------------------------------------------------------------------- */

enum restart_how {
	RESTORE_AT_STOP,      /* arch_thread_restore right in the interrupt stop */
	RESTORE_AFTER_INJECT, /* ... after an injected syscall: thread at a syscall-exit stop */
	PUT_BACK_AND_RETRAP,  /* live: arch_gpregs_set(base) + one more trap, as core/infect.c does */
};

static void restart_put_back(pid_t pid)
{
	arch_gpregs_t base;
	const uint64_t args[6] = {};
	long ret;

	assert_int_equal(arch_gpregs_get(pid, &base), 0);
	assert_int_equal(arch_syscall(pid, &base, GATE, SYS_getppid, args, &ret), 0);
	assert_int_equal(arch_gpregs_set(pid, &base), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	assert_int_equal(wait_stopped(pid) >> 16, PTRACE_EVENT_STOP);
}

/* Dump an interrupted thread, check the raw restart state, and give it back per how. */
static void restart_cycle(pid_t pid, long nr, long code, enum restart_how how)
{
	ThreadEntry te = THREAD_ENTRY__INIT;

	seize_interrupt(pid);
	te.tid = pid;
	assert_int_equal(arch_thread_dump(pid, &te), 0);
	assert_int_equal((long)te.x86->gpregs->ax, code);
	assert_int_equal((long)te.x86->gpregs->orig_ax, nr);
	if (how == PUT_BACK_AND_RETRAP) {
		restart_put_back(pid);
	} else {
		if (how == RESTORE_AFTER_INJECT)
			assert_int_equal(inject(pid, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
		assert_int_equal(arch_thread_restore(pid, &te), 0);
	}
	arch_thread_free(&te);
	/*
	 * PTRACE_CONT, not PTRACE_DETACH: detaching a stopped tracee wakes it with TIF_SIGPENDING,
	 * which would run the kernel's own restart logic and hide a missing fix-up.
	 */
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
}

static void restart_read(enum restart_how how)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[8] = {};
		ssize_t n;

		close(p[1]);
		n = read(p[0], buf, 5);
		if (n < 0)
			_exit(errno == EINTR ? 1 : 2);
		_exit(n == 5 && !memcmp(buf, "hello", 5) ? 0 : 3);
	}
	close(p[0]);
	wait_in_syscall(pid, SYS_read);
	restart_cycle(pid, SYS_read, RESTARTSYS, how);
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(wait_exit_code(pid), 0);
	close(p[1]);
}

static void test_restart_read_at_stop(void **state)
{
	restart_read(RESTORE_AT_STOP);
}

static void test_restart_read_after_inject(void **state)
{
	restart_read(RESTORE_AFTER_INJECT);
}

static void test_restart_read_put_back(void **state)
{
	restart_read(PUT_BACK_AND_RETRAP);
}

/* clock_nanosleep interrupted: -ERESTART_RESTARTBLOCK; it must still return 0 after its sleep. */
static void restart_sleep(enum restart_how how)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = {0, 300 * 1000 * 1000}, a, b;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &a);
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (r)
			_exit(r == EINTR ? 1 : 2);
		_exit((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) >= 300000000L ? 0 : 3);
	}
	wait_in_syscall(pid, SYS_clock_nanosleep);
	restart_cycle(pid, SYS_clock_nanosleep, RESTART_RESTARTBLOCK, how);
	assert_int_equal(wait_exit_code(pid), 0);
}

static void test_restart_sleep_at_stop(void **state)
{
	restart_sleep(RESTORE_AT_STOP);
}

static void test_restart_sleep_after_inject(void **state)
{
	restart_sleep(RESTORE_AFTER_INJECT);
}

static void test_restart_sleep_put_back(void **state)
{
	restart_sleep(PUT_BACK_AND_RETRAP);
}

/* ---- clone3 by injection ------------------------------------------------------------------ */

static pid_t fork_pauser(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		for (;;)
			pause();
	return pid;
}

static void test_inject_clone3(void **state)
{
	struct clone_args ca = {};
	arch_gpregs_t g;
	struct user_regs_struct *u = (struct user_regs_struct *)g.w;
	uint64_t page;
	long tid;
	int status;
	pid_t pid = fork_pauser();

	seize_interrupt(pid);
	page = (uint64_t)inject(pid, SYS_mmap, 0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				(uint64_t)-1, 0);
	assert_true((long)page > 0);
	ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	ca.stack = page + 4096;
	ca.stack_size = 65536 - 4096;
	{
		struct iovec l = {&ca, sizeof(ca)}, r = {(void *)page, sizeof(ca)};

		assert_int_equal(process_vm_writev(pid, &l, 1, &r, 1, 0), sizeof(ca));
	}
	tid = inject(pid, SYS_clone3, page, sizeof(ca), 0, 0, 0, 0);
	assert_true(tid > 0 && tid != pid);

	/* The new thread is auto-attached and starts in an event stop, just past the gate. */
	status = wait_stopped((pid_t)tid);
	assert_int_equal(status >> 16, PTRACE_EVENT_STOP);
	assert_int_equal(arch_gpregs_get((pid_t)tid, &g), 0);
	assert_int_equal(arch_gpregs_ip(&g), GATE + 2);
	assert_int_equal(arch_gpregs_sp(&g), page + 65536);
	assert_int_equal(u->rax, 0);

	/* Send it through the gate into exit(0). */
	u->rip = GATE;
	u->rax = SYS_exit;
	u->orig_rax = (uint64_t)-1;
	u->rdi = 0;
	assert_int_equal(arch_gpregs_set((pid_t)tid, &g), 0);
	assert_int_equal(ptrace(PTRACE_CONT, (pid_t)tid, 0, 0), 0);
	assert_int_equal(waitpid((pid_t)tid, &status, __WALL), tid);
	assert_true(WIFEXITED(status));
	kill_child(pid);
}

/* ---- validation --------------------------------------------------------------------------- */

static void set_bv(ThreadEntry *te, uint64_t bv)
{
	memcpy(te->x86->xsave.data + 512, &bv, 8);
}

/* The XCR0 of the writing kernel, at offset 464 of the FXSAVE area. */
static void set_sw_xcr0(ThreadEntry *te, uint64_t v)
{
	memcpy(te->x86->xsave.data + 464, &v, 8);
}

static uint64_t get_bv(const ThreadEntry *te)
{
	uint64_t bv;

	memcpy(&bv, te->x86->xsave.data + 512, 8);
	return bv;
}

static void expect_invalid(const ThreadEntry *te, const char *what)
{
	char why[256] = "";

	assert_int_equal(arch_thread_validate(te, why, sizeof(why)), -EINVAL);
	if (!strstr(why, what))
		fail_msg("reason '%s' does not mention '%s'", why, what);
}

static void test_validate(void **state)
{
	ThreadEntry te = THREAD_ENTRY__INIT;
	char why[256];
	size_t len;
	uint64_t bv, foreign = 0;
	pid_t pid = fork_pauser();

	seize_interrupt(pid);
	te.tid = pid;
	assert_int_equal(arch_thread_dump(pid, &te), 0);
	kill_child(pid);
	assert_int_equal(arch_thread_validate(&te, why, sizeof(why)), 0);
	len = te.x86->xsave.len;
	bv = get_bv(&te);

	/* Truncated: below the header; shorter than an area written under this XCR0 is. */
	te.x86->xsave.len = 500;
	expect_invalid(&te, "shorter");
	te.x86->xsave.len = len - 64;
	expect_invalid(&te, "truncated");
	if (have_avx512f()) {
		/* A smaller area that claims an AVX-512 component: the layout cannot be trusted. */
		set_sw_xcr0(&te, 7);
		set_bv(&te, bv | (1ULL << 7));
		expect_invalid(&te, "does not match");
		/* A smaller area from an AVX-only host is fine: YMM is always at 576. */
		te.x86->xsave.len = 832;
		set_sw_xcr0(&te, 7);
		set_bv(&te, bv & 7);
		assert_int_equal(arch_thread_validate(&te, why, sizeof(why)), 0);
		set_sw_xcr0(&te, xcr0());
	}
	te.x86->xsave.len = len;
	set_bv(&te, bv);

	/* A feature bit this host's XCR0 does not have. */
	for (int i = 2; i < 63 && !foreign; i++)
		if (!(xcr0() & (1ULL << i)))
			foreign = 1ULL << i;
	set_bv(&te, bv | foreign);
	expect_invalid(&te, "not enabled");
	assert_true(arch_thread_restore(getpid(), &te) < 0); /* refused before touching anything */
	set_bv(&te, bv);

	/* Compacted format. */
	te.x86->xsave.data[520 + 7] = 0x80;
	expect_invalid(&te, "compacted");
	te.x86->xsave.data[520 + 7] = 0;

	/* A 32-bit code segment. */
	te.x86->gpregs->cs = 0x23;
	expect_invalid(&te, "cs 0x23");
	arch_thread_free(&te);
	expect_invalid(&te, "no x86_64");
}

/* ---- CPU features ------------------------------------------------------------------------- */

static void test_cpu(void **state)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	uint32_t *w = NULL;
	size_t n = 0;
	char why[512];
	uint32_t r[4];

	assert_int_equal(arch_kind(), ARCH_KIND__X86_64);
	assert_string_equal(arch_name(), "x86_64");
	{
		size_t ilen;
		const uint8_t *insn = arch_syscall_insn(&ilen);

		assert_int_equal(ilen, 2);
		assert_int_equal(insn[0], 0x0f);
		assert_int_equal(insn[1], 0x05);
	}
	assert_int_equal(arch_xfeatures(), xcr0());
	assert_int_equal(arch_cpu_features(&w, &n), 0);
	assert_int_equal(n, 9);
	cpuid(1, 0, r);
	assert_true(w[1] & (1U << 26));	 /* sse2 */
	assert_false(w[0] & (1U << 31)); /* hypervisor bit masked out */
	assert_false(w[0] & (1U << 21)); /* x2apic masked out */

	inv.arch = ARCH_KIND__X86_64;
	inv.cpu_features = w;
	inv.n_cpu_features = n;
	inv.has_xfeatures = true;
	inv.xfeatures = xcr0();
	assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), 0);

	/* An image that used AVX-512F on a host without it (or amx_tile where AVX-512F exists). */
	if (!(w[2] & (1U << 16))) {
		w[2] |= 1U << 16;
		assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), -ENOEXEC);
		assert_non_null(strstr(why, "leaf 7 EBX bits 0x10000 (avx512f)"));
		w[2] &= ~(1U << 16);
	} else {
		assert_false(w[4] & (1U << 24));
		w[4] |= 1U << 24;
		assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), -ENOEXEC);
		assert_non_null(strstr(
			why, "CPU lacks features the image uses: leaf 7 EDX bits 0x1000000 (amx_tile)"));
		w[4] &= ~(1U << 24);
	}
	/* Bits outside the ISA mask never count. */
	w[0] |= 1U << 31;
	assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), 0);

	inv.xfeatures = xcr0() | (1ULL << 18);
	if (!(xcr0() & (1ULL << 18))) {
		assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), -ENOEXEC);
		assert_non_null(strstr(why, "XCR0"));
	}
	inv.xfeatures = xcr0();
	inv.arch = ARCH_KIND__AARCH64;
	assert_int_equal(arch_cpu_compatible(&inv, why, sizeof(why)), -ENOEXEC);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_dump_inject_restore),
		cmocka_unit_test(test_inject_clone3),
		cmocka_unit_test(test_restart_read_at_stop),
		cmocka_unit_test(test_restart_read_after_inject),
		cmocka_unit_test(test_restart_read_put_back),
		cmocka_unit_test(test_restart_sleep_at_stop),
		cmocka_unit_test(test_restart_sleep_after_inject),
		cmocka_unit_test(test_restart_sleep_put_back),
	};

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
