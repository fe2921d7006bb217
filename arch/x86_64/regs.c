/* SPDX-License-Identifier: MIT */
/* x86_64 general registers: PTRACE_GETREGSET/SETREGSET NT_PRSTATUS (struct user_regs_struct). */
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "arch-private.h"

ArchKind arch_kind(void)
{
	return ARCH_KIND__X86_64;
}

const char *arch_name(void)
{
	return "x86_64";
}

int arch_gpregs_get(pid_t tid, arch_gpregs_t *ret)
{
	struct iovec iov = {ret->w, sizeof(struct user_regs_struct)};

	*ret = (arch_gpregs_t){};
	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return pr_perror("thread %d: PTRACE_GETREGSET NT_PRSTATUS", tid);
	if (iov.iov_len != sizeof(struct user_regs_struct))
		return pr_err_errno(-EIO, "thread %d: NT_PRSTATUS is %zu bytes, expected %zu", tid,
				    iov.iov_len, sizeof(struct user_regs_struct));
	return 0;
}

int x86_uregs_set(pid_t tid, const struct user_regs_struct *r)
{
	struct iovec iov = {(void *)r, sizeof(*r)};

	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return pr_perror("thread %d: PTRACE_SETREGSET NT_PRSTATUS (ip %#llx)", tid, r->rip);
	return 0;
}

/*
 * The registers go in exactly as given, orig_ax included. If regs were read in an interrupt
 * stop inside an interrupted syscall (ax = -ERESTART*, orig_ax = nr), the kernel restarts that
 * syscall only when the thread next leaves a signal check (arch_do_signal_or_restart); from a
 * syscall-exit stop it goes straight back to user space with ax = -ERESTART*. core/infect.c
 * therefore sends the thread through one more PTRACE_INTERRUPT trap after putting them back.
 */
int arch_gpregs_set(pid_t tid, const arch_gpregs_t *regs)
{
	return x86_uregs_set(tid, x86_curegs(regs));
}

uint64_t arch_gpregs_ip(const arch_gpregs_t *regs)
{
	return x86_curegs(regs)->rip;
}

uint64_t arch_gpregs_sp(const arch_gpregs_t *regs)
{
	return x86_curegs(regs)->rsp;
}

uint64_t arch_thread_sp(const ThreadEntry *te)
{
	if (!te->x86 || !te->x86->gpregs)
		return 0;
	return te->x86->gpregs->sp;
}

void x86_gpregs_from_user(X86Gpregs *g, const struct user_regs_struct *r)
{
	g->r15 = r->r15;
	g->r14 = r->r14;
	g->r13 = r->r13;
	g->r12 = r->r12;
	g->bp = r->rbp;
	g->bx = r->rbx;
	g->r11 = r->r11;
	g->r10 = r->r10;
	g->r9 = r->r9;
	g->r8 = r->r8;
	g->ax = r->rax;
	g->cx = r->rcx;
	g->dx = r->rdx;
	g->si = r->rsi;
	g->di = r->rdi;
	g->orig_ax = r->orig_rax;
	g->ip = r->rip;
	g->cs = r->cs;
	g->flags = r->eflags;
	g->sp = r->rsp;
	g->ss = r->ss;
	g->fs_base = r->fs_base;
	g->gs_base = r->gs_base;
	g->ds = r->ds;
	g->es = r->es;
	g->fs = r->fs;
	g->gs = r->gs;
}

void x86_gpregs_to_user(struct user_regs_struct *r, const X86Gpregs *g)
{
	r->r15 = g->r15;
	r->r14 = g->r14;
	r->r13 = g->r13;
	r->r12 = g->r12;
	r->rbp = g->bp;
	r->rbx = g->bx;
	r->r11 = g->r11;
	r->r10 = g->r10;
	r->r9 = g->r9;
	r->r8 = g->r8;
	r->rax = g->ax;
	r->rcx = g->cx;
	r->rdx = g->dx;
	r->rsi = g->si;
	r->rdi = g->di;
	r->orig_rax = g->orig_ax;
	r->rip = g->ip;
	r->cs = g->cs;
	r->eflags = g->flags;
	r->rsp = g->sp;
	r->ss = g->ss;
	r->fs_base = g->fs_base;
	r->gs_base = g->gs_base;
	r->ds = g->ds;
	r->es = g->es;
	r->fs = g->fs;
	r->gs = g->gs;
}

/* A data selector the kernel accepts from ptrace: null, or requested privilege level 3. */
static bool x86_selector_ok(uint64_t sel)
{
	return sel == 0 || (sel <= 0xffff && (sel & 3) == 3);
}

int x86_gpregs_check(const X86Gpregs *g, char *why, size_t why_len)
{
	const struct x86_host *h = x86_host();

	if (g->cs != h->user_cs)
		return x86_why(why, why_len, -EINVAL,
			       "cs %#llx is not this kernel's 64-bit user code segment %#x "
			       "(32-bit tasks are not supported)",
			       (unsigned long long)g->cs, h->user_cs);
	if (g->ss != h->user_ss)
		return x86_why(why, why_len, -EINVAL, "ss %#llx is not this kernel's user stack segment %#x",
			       (unsigned long long)g->ss, h->user_ss);
	if (!x86_selector_ok(g->ds) || !x86_selector_ok(g->es) || !x86_selector_ok(g->fs) ||
	    !x86_selector_ok(g->gs))
		return x86_why(why, why_len, -EINVAL,
			       "a data segment selector is not a user one (ds %#llx "
			       "es %#llx fs %#llx gs %#llx)",
			       (unsigned long long)g->ds, (unsigned long long)g->es,
			       (unsigned long long)g->fs, (unsigned long long)g->gs);
	return 0;
}
