/* SPDX-License-Identifier: MIT */
/*
 * Dump side of memory. Only pages a task has actually got are saved: present or swapped,
 * not the shared zero page, and in private file mappings only the pages the task has
 * written (anonymous copies); everything else comes back from the file or as zeroes.
 * The PAGEMAP_SCAN ioctl (Linux 6.7) answers that in one call per mapping; /proc/PID/pagemap
 * is read when it is missing.
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "image.h"
#include "log.h"
#include "mem.h"
#include "shmem.h"
#include "syscalls.h"

#define PAGE_SZ	    4096ull
#define CHUNK_PAGES 1024u	  /* one pagemap entry covers at most 4 MiB */
#define BATCH_BYTES (64ull << 20) /* read this much per process_vm_readv batch */
#define BATCH_IOVS  512

const char *mem_vma_kind_name(VmaKind kind)
{
	switch (kind) {
	case VMA_KIND__VMA_ANON_PRIVATE:
		return "anonymous";
	case VMA_KIND__VMA_FILE_PRIVATE:
		return "private file";
	case VMA_KIND__VMA_FILE_SHARED:
		return "shared file";
	case VMA_KIND__VMA_VDSO:
		return "[vdso]";
	case VMA_KIND__VMA_VVAR:
		return "[vvar]";
	case VMA_KIND__VMA_VVAR_VCLOCK:
		return "[vvar_vclock]";
	case VMA_KIND__VMA_VSYSCALL:
		return "[vsyscall]";
	case VMA_KIND__VMA_ANON_SHARED:
		return "shared anonymous";
	case VMA_KIND__VMA_SYSV_SHM:
		return "System V shared memory";
	default:
		return "unknown";
	}
}

static int vma_kind_of(pid_t pid, const struct proc_vma *v, VmaKind *ret)
{
	const char *p = v->path;

	if (!p || !strcmp(p, "[heap]") || !strcmp(p, "[stack]") || !strncmp(p, "[anon:", 6) ||
	    !strncmp(p, "[anon_shmem:", 12)) {
		*ret = v->shared ? VMA_KIND__VMA_ANON_SHARED : VMA_KIND__VMA_ANON_PRIVATE;
	} else if (!strcmp(p, "[vdso]")) {
		*ret = VMA_KIND__VMA_VDSO;
	} else if (!strcmp(p, "[vvar]")) {
		*ret = VMA_KIND__VMA_VVAR;
	} else if (!strcmp(p, "[vvar_vclock]")) {
		*ret = VMA_KIND__VMA_VVAR_VCLOCK;
	} else if (!strcmp(p, "[vsyscall]")) {
		*ret = VMA_KIND__VMA_VSYSCALL;
	} else if (p[0] == '/' && !strcmp(p, "/dev/zero") && v->shared && v->deleted) {
		*ret = VMA_KIND__VMA_ANON_SHARED; /* MAP_SHARED|MAP_ANONYMOUS: shmem.c */
	} else if (p[0] == '/' && v->deleted && v->shared && shmem_is_sysv_path(p)) {
		*ret = VMA_KIND__VMA_SYSV_SHM;
	} else if (p[0] == '/') {
		/* A deleted file or a memfd is an object of shmem.c. */
		*ret = v->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	} else {
		return pr_err("pid %d: mapping %#" PRIx64 "-%#" PRIx64 " '%s'%s is not supported yet", pid,
			      v->start, v->end, p, v->deleted ? " (deleted file)" : ""),
		       -ENOTSUP;
	}
	if ((v->madv & (VMA_MADV_IO | VMA_MADV_PFNMAP)) &&
	    (*ret == VMA_KIND__VMA_FILE_SHARED || *ret == VMA_KIND__VMA_FILE_PRIVATE ||
	     *ret == VMA_KIND__VMA_ANON_PRIVATE))
		return pr_err("pid %d: mapping %#" PRIx64 "-%#" PRIx64
			      " '%s' is device memory, which cannot be dumped",
			      pid, v->start, v->end, p ?: ""),
		       -ENOTSUP;
	return 0;
}

static int vma_fill_file(pid_t pid, const struct proc_vma *v, VmaEntry *e)
{
	char path[96];
	struct stat st;

	/* map_files names the very file mapped, even if its path was reused. */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, v->start, v->end);
	if (stat(path, &st) < 0 && stat(v->path, &st) < 0)
		return pr_perror("pid %d: mapped file '%s'", pid, v->path);
	e->path = strdup(v->path);
	if (!e->path)
		return -ENOMEM;
	e->has_dev = e->has_ino = e->has_file_size = e->has_file_mtime_ns = true;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->file_size = (uint64_t)st.st_size;
	e->file_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	return 0;
}

static int vma_entry_of(pid_t pid, const struct proc_vma *v, VmaEntry **ret)
{
	_cleanup_free_ VmaEntry *e = calloc(1, sizeof(*e));
	VmaKind kind;
	int r;

	if (!e)
		return -ENOMEM;
	vma_entry__init(e);
	r = vma_kind_of(pid, v, &kind);
	if (r < 0)
		return r;
	e->start = v->start;
	e->end = v->end;
	e->pgoff = v->pgoff;
	e->prot = v->prot;
	e->kind = kind;
	e->flags = v->shared ? MAP_SHARED : MAP_PRIVATE;
	if (kind == VMA_KIND__VMA_ANON_PRIVATE)
		e->flags |= MAP_ANONYMOUS;
	if (v->madv & VMA_MADV_GROWSDOWN)
		e->flags |= MAP_GROWSDOWN;
	e->has_madv = true;
	e->madv = v->madv;
	if (v->path && v->path[0] == '[') {
		e->name = strdup(v->path);
		if (!e->name)
			return -ENOMEM;
	}
	if (kind == VMA_KIND__VMA_FILE_PRIVATE || kind == VMA_KIND__VMA_FILE_SHARED) {
		r = vma_fill_file(pid, v, e);
		if (r < 0) {
			free(e->name);
			return r;
		}
	}
	*ret = TAKE_PTR(e);
	return 0;
}

int mem_collect_vmas(pid_t pid, const struct proc_vma *pv, size_t n, MmEntry *mm)
{
	mm->vmas = calloc(n ?: 1, sizeof(*mm->vmas));
	if (!mm->vmas)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = vma_entry_of(pid, &pv[i], &mm->vmas[mm->n_vmas]);

		if (r < 0)
			return r;
		mm->n_vmas++;
	}
	return 0;
}

void mem_free_vmas(MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		free(mm->vmas[i]->path);
		free(mm->vmas[i]->name);
		free(mm->vmas[i]);
	}
	free(mm->vmas);
	mm->vmas = NULL;
	mm->n_vmas = 0;
}

static bool vma_has_private_pages(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

/* A run of pages to save. */
struct page_run {
	uint64_t start, end;
	bool unreadable;     /* no PROT_READ: go through /proc/PID/mem */
	const VmaEntry *vma; /* runs never cross mappings: restore checks each against one */
};

struct run_list {
	struct page_run *v;
	size_t n, cap;
};

static int runs_add(struct run_list *l, const VmaEntry *vma, uint64_t start, uint64_t end)
{
	bool unreadable = !(vma->prot & PROT_READ);

	if (l->n && l->v[l->n - 1].end == start && l->v[l->n - 1].vma == vma) {
		l->v[l->n - 1].end = end;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct page_run *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct page_run){start, end, unreadable, vma};
	return 0;
}

static int scan_vma_ioctl(int pmfd, const VmaEntry *v, struct run_list *l)
{
	struct page_region regs[256];
	uint64_t pos = v->start;

	while (pos < v->end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = pos,
			.end = v->end,
			.vec = (uint64_t)(uintptr_t)regs,
			.vec_len = ARRAY_SIZE(regs),
			.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE,
			.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		int n = ioctl(pmfd, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			int r = runs_add(l, v, regs[i].start, regs[i].end);

			if (r < 0)
				return r;
		}
		if (a.walk_end <= pos)
			break;
		pos = a.walk_end;
	}
	return 0;
}

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE	   (1ull << 61)

static int scan_vma_pagemap(int pmfd, const VmaEntry *v, struct run_list *l)
{
	uint64_t ents[512];

	for (uint64_t a = v->start; a < v->end;) {
		size_t n = MIN(ARRAY_SIZE(ents), (v->end - a) / PAGE_SZ);
		int r = pread_all(pmfd, ents, n * sizeof(uint64_t), (off_t)(a / PAGE_SZ * sizeof(uint64_t)));

		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++, a += PAGE_SZ) {
			if (!(ents[i] & (PM_PRESENT | PM_SWAPPED)) || (ents[i] & PM_FILE))
				continue;
			r = runs_add(l, v, a, a + PAGE_SZ);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int scan_pages(pid_t pid, const MmEntry *mm, struct run_list *l)
{
	_cleanup_close_ int pmfd = -EBADF;
	char path[64];
	bool use_ioctl = true;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pmfd < 0)
		return pr_perror("pid %d: opening '%s'", pid, path);
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		int r;

		if (!vma_has_private_pages(v))
			continue;
		r = use_ioctl ? scan_vma_ioctl(pmfd, v, l) : -ENOTTY;
		if (r == -ENOTTY || r == -EINVAL) {
			use_ioctl = false;
			r = scan_vma_pagemap(pmfd, v, l);
		}
		if (r < 0)
			return pr_err_errno(r, "pid %d: scanning pages of %#" PRIx64 "-%#" PRIx64, pid,
					    v->start, v->end);
	}
	return 0;
}

struct page_writer {
	pid_t pid;
	int memfd; /* /proc/PID/mem, for unreadable mappings */
	int pages_fd;
	uint64_t offset; /* in the pages file */
	struct img *pagemap;
	uint8_t *buf;
	struct iovec liov[BATCH_IOVS], riov[BATCH_IOVS];
	size_t niov, fill;
	PagemapEntry pending[BATCH_IOVS];
	struct dump_stats_acc *acc;
};

int dump_check_cancel(const struct dump_stats_acc *acc)
{
	if (!acc->cancel || !*acc->cancel)
		return 0;
	return pr_err("dump cancelled; the tree runs on untouched"), -ECANCELED;
}

static int writer_flush(struct page_writer *w)
{
	ssize_t n;
	int r;

	if (!w->niov)
		return 0;
	r = dump_check_cancel(w->acc);
	if (r < 0)
		return r;
	n = sys_process_vm_readv(w->pid, w->liov, w->niov, w->riov, w->niov);
	if (n < 0)
		return pr_err_errno((int)n, "pid %d: reading its memory", w->pid);
	if ((size_t)n != w->fill)
		return pr_err("pid %d: memory changed while being read (%zd of %zu bytes)", w->pid, n,
			      w->fill),
		       -EFAULT;
	r = write_all(w->pages_fd, w->buf, w->fill);
	if (r < 0)
		return pr_err_errno(r, "writing pages-%d.img", w->pid);
	for (size_t i = 0; i < w->niov; i++) {
		w->pending[i].checksum = img_checksum(w->liov[i].iov_base, w->liov[i].iov_len);
		r = img_write_msg(w->pagemap, &w->pending[i].base);
		if (r < 0)
			return r;
	}
	w->acc->pages += w->fill / PAGE_SZ;
	w->niov = w->fill = 0;
	return 0;
}

static int writer_add(struct page_writer *w, uint64_t addr, uint64_t len)
{
	PagemapEntry *pe;
	int r;

	if (w->niov == BATCH_IOVS || w->fill + len > BATCH_BYTES) {
		r = writer_flush(w);
		if (r < 0)
			return r;
	}
	pe = &w->pending[w->niov];
	pagemap_entry__init(pe);
	pe->vaddr = addr;
	pe->nr_pages = (uint32_t)(len / PAGE_SZ);
	pe->flags = PAGEMAP_FLAG__PE_PRESENT;
	pe->has_offset = pe->has_checksum = true;
	pe->offset = w->offset;
	w->liov[w->niov] = (struct iovec){w->buf + w->fill, len};
	w->riov[w->niov] = (struct iovec){(void *)(uintptr_t)addr, len};
	w->niov++;
	w->fill += len;
	w->offset += len;
	return 0;
}

/* Pages without PROT_READ: /proc/PID/mem reads them (FOLL_FORCE), process_vm_readv cannot. */
static int writer_add_unreadable(struct page_writer *w, uint64_t addr, uint64_t len)
{
	int r = writer_flush(w);

	if (r < 0)
		return r;
	r = pread_all(w->memfd, w->buf, len, (off_t)addr);
	if (r < 0)
		return pr_err_errno(r, "pid %d: reading protected memory at %#" PRIx64, w->pid, addr);
	r = writer_add(w, addr, len);
	if (r < 0)
		return r;
	/* The data is already in buf: write it out without process_vm_readv. */
	r = write_all(w->pages_fd, w->buf, len);
	if (r < 0)
		return pr_err_errno(r, "writing pages-%d.img", w->pid);
	w->pending[0].checksum = img_checksum(w->buf, len);
	r = img_write_msg(w->pagemap, &w->pending[0].base);
	w->acc->pages += len / PAGE_SZ;
	w->niov = w->fill = 0;
	return r;
}

static int write_runs(struct page_writer *w, const struct run_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (uint64_t a = l->v[i].start; a < l->v[i].end;) {
			uint64_t len = MIN(l->v[i].end - a, CHUNK_PAGES * PAGE_SZ);
			int r = l->v[i].unreadable ? writer_add_unreadable(w, a, len) : writer_add(w, a, len);

			if (r < 0)
				return r;
			a += len;
		}
	}
	return writer_flush(w);
}

static int write_pagemap_head(struct img *pm, const struct run_list *l)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	uint64_t total = 0;

	for (size_t i = 0; i < l->n; i++)
		total += (l->v[i].end - l->v[i].start) / PAGE_SZ;
	head.page_size = PAGE_SZ;
	head.has_pages_total = true;
	head.pages_total = total;
	return img_write_msg(pm, &head.base);
}

/*
 * Reserve the whole pages file at once: a full disk is found before any page is copied, and
 * the file system allocates in one go rather than on every write.
 */
static int preallocate(int fd, const char *name, const struct run_list *l)
{
	uint64_t total = 0;

	for (size_t i = 0; i < l->n; i++)
		total += l->v[i].end - l->v[i].start;
	if (!total || fallocate(fd, 0, CKPT_IMG_PAGES_DATA_OFF, (off_t)total) == 0)
		return 0;
	if (errno == EOPNOTSUPP)
		return 0;
	return pr_perror("'%s': reserving %" PRIu64 " bytes", name, total);
}

int mem_dump_pages(int dirfd, const struct task *task, const MmEntry *mm, struct dump_stats_acc *acc)
{
	struct run_list runs = {};
	struct page_writer *w = NULL;
	struct img *pages = NULL;
	char name[64], path[64];
	int r;

	r = scan_pages(task->pid, mm, &runs);
	if (r < 0)
		goto out;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(BATCH_BYTES))) {
		r = -ENOMEM;
		goto out;
	}
	w->pid = task->pid;
	w->acc = acc;
	w->offset = CKPT_IMG_PAGES_DATA_OFF;
	snprintf(path, sizeof(path), "/proc/%d/mem", task->pid);
	w->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->memfd < 0) {
		r = pr_perror("pid %d: opening '%s'", task->pid, path);
		goto out;
	}
	snprintf(name, sizeof(name), "pagemap-%d.img", task->ns_pid);
	r = img_create(dirfd, name, IMG_PAGEMAP, &w->pagemap);
	if (r < 0)
		goto out;
	snprintf(name, sizeof(name), "pages-%d.img", task->ns_pid);
	r = img_create(dirfd, name, IMG_PAGES, &pages);
	if (r < 0)
		goto out;
	w->pages_fd = img_fd(pages);
	if (lseek(w->pages_fd, CKPT_IMG_PAGES_DATA_OFF, SEEK_SET) < 0) {
		r = pr_perror("seeking in '%s'", name);
		goto out;
	}
	r = write_pagemap_head(w->pagemap, &runs);
	if (r >= 0)
		r = preallocate(w->pages_fd, name, &runs);
	if (r >= 0)
		r = write_runs(w, &runs);
	acc->bytes += w->offset;
out:
	if (pages) {
		if (r < 0)
			img_discard(pages);
		else
			r = img_close(pages);
	}
	if (w) {
		if (w->pagemap) {
			if (r < 0)
				img_discard(w->pagemap);
			else
				r = img_close(w->pagemap);
		}
		if (w->memfd > 0)
			close(w->memfd);
		free(w->buf);
		free(w);
	}
	free(runs.v);
	return r;
}
