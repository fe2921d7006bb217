/* SPDX-License-Identifier: MIT */
/*
 * Restore, step three: replace a seized task's address space (a copy of the restorer's) with
 * the dumped one, by syscalls injected through a two-page trampoline (a syscall instruction,
 * then a data page) placed where neither address space has anything:
 *   map the trampoline; move [vdso]/[vvar]/[vvar_vclock] beside it; unmap everything else;
 *   move the vdso pair to its dumped address; map every mapping (files by path; shared
 *   memory, memfds and deleted files from the fds of rst-shmem.c, which are then closed);
 *   write the pages with process_vm_writev; set protections, madvise flags, and the mm
 *   fields (PR_SET_MM_MAP).
 * The trampoline goes last, when the registers are set (rst_mm_drop_tramp).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include "infect.h"
#include "log.h"
#include "proc.h"
#include "rst.h"
#include "syscalls.h"

#define PAGE_SZ	  4096ull
#define MIN_ADDR  0x10000ull
#define IOV_BATCH 512

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* struct prctl_mm_map of linux/prctl.h */
struct mm_map {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

int rst_syscall(struct rst_inject *in, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		uint64_t a4, uint64_t a5, long *ret)
{
	const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};

	return arch_syscall(in->tid, &in->base, in->gate, nr, args, ret);
}

int rst_syscall_ok(struct rst_inject *in, const char *what, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5, long *ret)
{
	long v;
	int r = rst_syscall(in, nr, a0, a1, a2, a3, a4, a5, &v);

	if (r < 0)
		return r;
	if (v < 0 && v > -4096)
		return pr_err_errno((int)v, "thread %d: %s", in->tid, what);
	if (ret)
		*ret = v;
	return 0;
}

int rst_put_data(struct rst_inject *in, size_t off, const void *buf, size_t len, uint64_t *ret_addr)
{
	uint64_t addr = in->tramp + RST_DATA_OFF + off;
	int r;

	if (off + len > PAGE_SZ)
		return pr_err("thread %d: %zu bytes do not fit the trampoline", in->tid, len), -E2BIG;
	r = task_mem_write(in->tid, addr, buf, len);
	if (r < 0)
		return pr_err_errno(r, "thread %d: writing the trampoline", in->tid);
	if (ret_addr)
		*ret_addr = addr;
	return 0;
}

static bool is_special(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO || k == VMA_KIND__VMA_VVAR || k == VMA_KIND__VMA_VVAR_VCLOCK;
}

static const char *special_name(VmaKind k)
{
	return k == VMA_KIND__VMA_VDSO ? "[vdso]" : k == VMA_KIND__VMA_VVAR ? "[vvar]" : "[vvar_vclock]";
}

struct span {
	uint64_t start, end;
};

static bool overlaps(const struct span *v, size_t n, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < n; i++)
		if (start < v[i].end && v[i].start < end)
			return true;
	return false;
}

/* A free range of len bytes in both the dumped and the current address space. */
static int find_hole(const MmEntry *mm, const struct proc_vma *cur, size_t n_cur, uint64_t len, uint64_t *ret)
{
	size_t n = mm->n_vmas + n_cur, k = 0;
	_cleanup_free_ struct span *all = calloc(n ?: 1, sizeof(*all));

	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < mm->n_vmas; i++)
		all[k++] = (struct span){mm->vmas[i]->start, mm->vmas[i]->end};
	for (size_t i = 0; i < n_cur; i++)
		all[k++] = (struct span){cur[i].start, cur[i].end};
	/* Try just below each mapping, from the top, with a guard page either side. */
	for (size_t i = n; i-- > 0;) {
		uint64_t start = all[i].start - len - 2 * PAGE_SZ;

		if (all[i].start < len + 2 * PAGE_SZ + MIN_ADDR || all[i].start > (1ull << 47))
			continue;
		if (!overlaps(all, n, start - PAGE_SZ, start + len + PAGE_SZ)) {
			*ret = start;
			return 0;
		}
	}
	return pr_err("no room for the restore trampoline"), -ENOMEM;
}

static uint64_t specials_size(const MmEntry *mm)
{
	uint64_t s = 0;

	for (size_t i = 0; i < mm->n_vmas; i++)
		if (is_special(mm->vmas[i]->kind))
			s += mm->vmas[i]->end - mm->vmas[i]->start;
	return s;
}

static const struct proc_vma *cur_special(const struct proc_vma *cur, size_t n, VmaKind k)
{
	for (size_t i = 0; i < n; i++)
		if (cur[i].path && !strcmp(cur[i].path, special_name(k)))
			return &cur[i];
	return NULL;
}

static int setup_tramp(struct rst_inject *in, uint64_t addr, uint64_t len)
{
	size_t ilen;
	const uint8_t *insn = arch_syscall_insn(&ilen);
	int r;

	r = rst_syscall_ok(in, "mapping the trampoline", __NR_mmap, addr, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0, NULL);
	if (r < 0)
		return r;
	r = task_mem_write(in->tid, addr, insn, ilen);
	if (r < 0)
		return pr_err_errno(r, "thread %d: writing the trampoline", in->tid);
	r = rst_syscall_ok(in, "mprotect trampoline", __NR_mprotect, addr, PAGE_SZ, PROT_READ | PROT_EXEC, 0,
			   0, 0, NULL);
	if (r < 0)
		return r;
	in->tramp = addr;
	in->gate = addr;
	return 0;
}

/* Move the vdso and friends into the reserved range, in the dumped order. */
static int park_specials(struct rst_inject *in, const MmEntry *mm, const struct proc_vma *cur, size_t n_cur,
			 uint64_t park)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		const struct proc_vma *c;
		uint64_t len = v->end - v->start;
		int r;

		if (!is_special(v->kind))
			continue;
		c = cur_special(cur, n_cur, v->kind);
		if (!c || c->end - c->start != len)
			return pr_err("pid %d: %s differs in size from the dumped one; restore on a node "
				      "running "
				      "the same kernel",
				      in->tid, special_name(v->kind)),
			       -ENOEXEC;
		r = rst_syscall_ok(in, "moving the vdso", __NR_mremap, c->start, len, len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, park, 0, NULL);
		if (r < 0)
			return r;
		park += len;
	}
	return 0;
}

static int unmap_current(struct rst_inject *in, uint64_t keep_start, uint64_t keep_end)
{
	struct proc_vma *cur = NULL;
	size_t n = 0;
	int r = proc_parse_smaps(in->tid, &cur, &n);

	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its mappings", in->tid);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (cur[i].start >= keep_start && cur[i].end <= keep_end)
			continue;
		if (cur[i].path && !strcmp(cur[i].path, "[vsyscall]"))
			continue;
		r = rst_syscall_ok(in, "unmapping the restorer", __NR_munmap, cur[i].start,
				   cur[i].end - cur[i].start, 0, 0, 0, 0, NULL);
	}
	proc_vmas_free(cur, n);
	return r;
}

static int place_specials(struct rst_inject *in, const MmEntry *mm, uint64_t park)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		uint64_t len = v->end - v->start;
		int r;

		if (!is_special(v->kind))
			continue;
		r = rst_syscall_ok(in, "placing the vdso", __NR_mremap, park, len, len,
				   MREMAP_MAYMOVE | MREMAP_FIXED, v->start, 0, NULL);
		if (r < 0)
			return r;
		park += len;
	}
	return 0;
}

static bool vma_has_pages(const struct rst_task *task, const VmaEntry *v)
{
	for (size_t i = 0; i < task->n_pm; i++)
		if (task->pm[i]->vaddr >= v->start && task->pm[i]->vaddr < v->end)
			return true;
	return false;
}

static uint32_t map_prot(const struct rst_task *task, const VmaEntry *v)
{
	uint32_t prot = v->prot & (PROT_READ | PROT_WRITE | PROT_EXEC);

	return vma_has_pages(task, v) ? prot | PROT_READ | PROT_WRITE : prot;
}

struct file_cache {
	const char *path;
	bool rw;
	long fd;
};

static int cache_close(struct rst_inject *in, struct file_cache *fc)
{
	int r = 0;

	if (fc->path)
		r = rst_syscall_ok(in, "close", __NR_close, (uint64_t)fc->fd, 0, 0, 0, 0, 0, NULL);
	fc->path = NULL;
	return r;
}

static int cache_open(struct rst_inject *in, struct file_cache *fc, const char *path, bool rw)
{
	uint64_t p;
	int r;

	if (fc->path && !strcmp(fc->path, path) && fc->rw == rw)
		return 0;
	r = cache_close(in, fc);
	if (r < 0)
		return r;
	r = rst_put_data(in, 0, path, strlen(path) + 1, &p);
	if (r < 0)
		return r;
	r = rst_syscall(in, __NR_openat, (uint64_t)AT_FDCWD, p, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0, 0, 0,
			&fc->fd);
	if (r < 0)
		return r;
	if (fc->fd < 0)
		return pr_err_errno((int)fc->fd, "pid %d: opening mapped file '%s'", in->tid, path);
	fc->path = path;
	fc->rw = rw;
	return 0;
}

static int map_one(struct rst_inject *in, const struct rst_tree *t, const struct rst_task *task,
		   const VmaEntry *v, struct file_cache *fc)
{
	uint32_t flags = v->flags & (MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN);
	long fd = -1;
	int r;

	if (v->has_shmem_id) {
		r = rst_shmem_map(in, t, v, map_prot(task, v));
		if (r < 0)
			pr_err("pid %u: could not map %#" PRIx64 "-%#" PRIx64 " from its shared object",
			       task->pe->pid, v->start, v->end);
		return r;
	}
	if (v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) {
		bool rw = v->kind == VMA_KIND__VMA_FILE_SHARED && (v->prot & PROT_WRITE);

		r = cache_open(in, fc, v->path, rw);
		if (r < 0)
			return r;
		fd = fc->fd;
		flags &= ~(uint32_t)MAP_ANONYMOUS;
	} else {
		flags = (flags & ~(uint32_t)MAP_SHARED) | MAP_PRIVATE | MAP_ANONYMOUS;
	}
	r = rst_syscall_ok(in, "mmap", __NR_mmap, v->start, v->end - v->start, map_prot(task, v),
			   flags | MAP_FIXED, (uint64_t)fd, fd >= 0 ? v->pgoff : 0, NULL);
	if (r < 0)
		pr_err("pid %u: could not map %#" PRIx64 "-%#" PRIx64 " %s", task->pe->pid, v->start, v->end,
		       v->path ?: "");
	return r;
}

static int map_all(struct rst_inject *in, const struct rst_tree *t, const struct rst_task *task)
{
	struct file_cache fc = {};
	int r = 0;

	for (size_t i = 0; i < task->mm->n_vmas && r == 0; i++) {
		const VmaEntry *v = task->mm->vmas[i];

		if (is_special(v->kind) || v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		r = map_one(in, t, task, v, &fc);
	}
	if (r == 0)
		r = rst_shmem_close_in_task(in, t);
	return cache_close(in, &fc) ?: r;
}

static int fill_pages(const struct rst_task *task, pid_t pid)
{
	struct iovec l[IOV_BATCH], rm[IOV_BATCH];
	size_t n = 0, want = 0;

	for (size_t i = 0; i <= task->n_pm; i++) {
		if (n == IOV_BATCH || (i == task->n_pm && n)) {
			ssize_t got = sys_process_vm_writev(pid, l, n, rm, n);

			if (got < 0)
				return pr_err_errno((int)got, "pid %u: writing its memory", task->pe->pid);
			if ((size_t)got != want)
				return pr_err("pid %u: wrote %zd of %zu bytes of its memory", task->pe->pid,
					      got, want),
				       -EFAULT;
			n = want = 0;
		}
		if (i == task->n_pm)
			break;
		const PagemapEntry *pe = task->pm[i];
		size_t len = (size_t)pe->nr_pages * PAGE_SZ;

		l[n] = (struct iovec){(void *)(task->pages + pe->offset), len};
		rm[n] = (struct iovec){(void *)(uintptr_t)pe->vaddr, len};
		want += len;
		n++;
	}
	return 0;
}

static const struct {
	uint32_t bit;
	int advice;
} madv_map[] = {
	{VMA_MADV_DONTFORK, MADV_DONTFORK},	{VMA_MADV_DONTDUMP, MADV_DONTDUMP},
	{VMA_MADV_HUGEPAGE, MADV_HUGEPAGE},	{VMA_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE},
	{VMA_MADV_WIPEONFORK, MADV_WIPEONFORK},
};

static int finish_vmas(struct rst_inject *in, const struct rst_task *task)
{
	for (size_t i = 0; i < task->mm->n_vmas; i++) {
		const VmaEntry *v = task->mm->vmas[i];
		uint64_t len = v->end - v->start;
		int r;

		if (is_special(v->kind) || v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (map_prot(task, v) != (v->prot & 7u)) {
			r = rst_syscall_ok(in, "mprotect", __NR_mprotect, v->start, len, v->prot & 7u, 0, 0,
					   0, NULL);
			if (r < 0)
				return r;
		}
		for (size_t k = 0; k < ARRAY_SIZE(madv_map); k++) {
			if (!(v->madv & madv_map[k].bit))
				continue;
			r = rst_syscall_ok(in, "madvise", __NR_madvise, v->start, len,
					   (uint64_t)madv_map[k].advice, 0, 0, 0, NULL);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int set_mm_fields(struct rst_inject *in, const struct rst_task *task)
{
	const MmEntry *mm = task->mm;
	struct mm_map m = {
		.start_code = mm->start_code,
		.end_code = mm->end_code,
		.start_data = mm->start_data,
		.end_data = mm->end_data,
		.start_brk = mm->start_brk,
		.brk = mm->brk,
		.start_stack = mm->start_stack,
		.arg_start = mm->arg_start,
		.arg_end = mm->arg_end,
		.env_start = mm->env_start,
		.env_end = mm->env_end,
		.auxv_size = (uint32_t)(mm->n_auxv * sizeof(uint64_t)),
	};
	uint64_t map_addr, exe_path;
	long exe_fd;
	int r;

	r = rst_put_data(in, 2048, mm->exe_path, strlen(mm->exe_path) + 1, &exe_path);
	if (r < 0)
		return r;
	r = rst_syscall(in, __NR_openat, (uint64_t)AT_FDCWD, exe_path, O_RDONLY | O_CLOEXEC, 0, 0, 0,
			&exe_fd);
	if (r < 0)
		return r;
	if (exe_fd < 0)
		return pr_err_errno((int)exe_fd, "pid %u: opening its executable '%s'", task->pe->pid,
				    mm->exe_path);
	m.exe_fd = (uint32_t)exe_fd;
	r = rst_put_data(in, 256, mm->auxv, m.auxv_size, &m.auxv);
	if (r == 0)
		r = rst_put_data(in, 0, &m, sizeof(m), &map_addr);
	if (r == 0)
		r = rst_syscall_ok(in, "prctl(PR_SET_MM_MAP)", __NR_prctl, PR_SET_MM, PR_SET_MM_MAP, map_addr,
				   sizeof(m), 0, 0, NULL);
	return rst_syscall_ok(in, "close", __NR_close, (uint64_t)exe_fd, 0, 0, 0, 0, 0, NULL) ?: r;
}

int rst_mm_rebuild(struct rst_tree *t, struct rst_task *task, struct rst_inject *in)
{
	struct proc_vma *cur = NULL;
	size_t n_cur = 0;
	uint64_t spec = specials_size(task->mm), tramp_len = RST_TRAMP_PAGES * PAGE_SZ, addr;
	int r;

	r = proc_parse_smaps(in->tid, &cur, &n_cur);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading its mappings", in->tid);
	r = find_hole(task->mm, cur, n_cur, tramp_len + spec, &addr);
	if (r == 0)
		r = setup_tramp(in, addr, tramp_len + spec);
	if (r == 0)
		r = park_specials(in, task->mm, cur, n_cur, addr + tramp_len);
	proc_vmas_free(cur, n_cur);
	if (r == 0)
		r = unmap_current(in, addr, addr + tramp_len + spec);
	if (r == 0)
		r = place_specials(in, task->mm, addr + tramp_len);
	if (r == 0)
		r = map_all(in, t, task);
	if (r == 0)
		r = fill_pages(task, in->tid);
	pr_debug("pid %u: %zu mappings and their pages in place", task->pe->pid, task->mm->n_vmas);
	if (r == 0)
		r = finish_vmas(in, task);
	if (r == 0)
		r = set_mm_fields(in, task);
	return r;
}

int rst_mm_drop_tramp(struct rst_inject *in)
{
	return rst_syscall_ok(in, "unmapping the trampoline", __NR_munmap, in->tramp,
			      RST_TRAMP_PAGES * PAGE_SZ, 0, 0, 0, 0, NULL);
}
