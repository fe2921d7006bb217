/* SPDX-License-Identifier: MIT */
/* Unit tests of core/image.c: round trips, corruption, truncation, versions, ENOSPC. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "savedfile.pb-c.h"
#include "shmem.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "anonfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fifo.pb-c.h"
#include "inetsk.pb-c.h"
#include "unixsk.pb-c.h"
#include "pagemap.pb-c.h"
#include "image.h"
#include "log.h"

struct ctx {
	char dir[64];
	int dirfd;
	char mnt[96]; /* tmpfs mounted for the ENOSPC test, or "" */
};

static char last_err[4096];

static void capture_log(int level, const char *msg, void *userdata)
{
	if (level == CKPT_LOG_ERROR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static void rm_tree_at(int dirfd)
{
	DIR *d = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	strcpy(c->dir, "/tmp/ckpt-test-image-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(c->dirfd >= 0);
	last_err[0] = '\0';
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->mnt[0]) {
		umount2(c->mnt, MNT_DETACH);
		rmdir(c->mnt);
	}
	rm_tree_at(c->dirfd);
	close(c->dirfd);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* ---- sample records: valid until the next call for the same kind ---- */

static ProtobufCMessage *sample_inventory(unsigned int i)
{
	static InventoryEntry e;
	static uint32_t feat[2];

	inventory_entry__init(&e);
	e.format_version = 1;
	e.root_pid = 100 + i;
	e.arch = ARCH_KIND__X86_64;
	feat[0] = i;
	feat[1] = 0xffffffffu;
	e.n_cpu_features = 2;
	e.cpu_features = feat;
	e.kernel = "6.1.0-test";
	e.has_xfeatures = true;
	e.xfeatures = 0x2e7;
	return &e.base;
}

static ProtobufCMessage *sample_pstree(unsigned int i)
{
	static PstreeEntry e;
	static uint32_t threads[3];

	pstree_entry__init(&e);
	e.pid = 10 + i;
	e.ppid = i ? 10 : 0;
	e.pgid = 10;
	e.sid = 10;
	threads[0] = e.pid;
	threads[1] = 1000 + i;
	threads[2] = 2000 + i;
	e.n_threads = 1 + i % 3;
	e.threads = threads;
	return &e.base;
}

/* A core record; xsave_len bytes of xsave let a test make a record as big as it needs. */
static ProtobufCMessage *sample_core_sized(unsigned int i, size_t xsave_len)
{
	static TaskCoreEntry e;
	static CredsEntry creds;
	static ThreadEntry th, *thp[1];
	static ThreadCoreX86 x86;
	static X86Gpregs regs;
	static uint8_t *xsave;

	task_core_entry__init(&e);
	creds_entry__init(&creds);
	thread_entry__init(&th);
	thread_core_x86__init(&x86);
	x86_gpregs__init(&regs);
	free(xsave);
	xsave = malloc(xsave_len ? xsave_len : 1);
	assert_non_null(xsave);
	for (size_t k = 0; k < xsave_len; k++)
		xsave[k] = (uint8_t)(k * 7 + i);
	regs.ip = 0x401000 + i;
	regs.sp = 0x7ffc0000;
	x86.gpregs = &regs;
	x86.has_xsave = true;
	x86.xsave.data = xsave;
	x86.xsave.len = xsave_len;
	th.tid = 42 + i;
	th.x86 = &x86;
	th.sigmask = 1ull << 9;
	th.comm = "worker";
	thp[0] = &th;
	creds.uid = creds.euid = 1000 + i;
	e.arch = ARCH_KIND__X86_64;
	e.n_threads = 1;
	e.threads = thp;
	e.creds = &creds;
	e.umask = 022;
	e.cwd = "/home/u";
	return &e.base;
}

static ProtobufCMessage *sample_core(unsigned int i)
{
	return sample_core_sized(i, 64);
}

static ProtobufCMessage *sample_mm(unsigned int i)
{
	static MmEntry e;
	static VmaEntry v, *vp[1];

	mm_entry__init(&e);
	vma_entry__init(&v);
	v.start = 0x400000;
	v.end = 0x401000 + i * 4096;
	v.kind = VMA_KIND__VMA_FILE_PRIVATE;
	v.path = "/bin/true";
	vp[0] = &v;
	e.start_code = 0x400000;
	e.brk = 0x600000 + i;
	e.n_vmas = 1;
	e.vmas = vp;
	return &e.base;
}

static ProtobufCMessage *sample_fdinfo(unsigned int i)
{
	static FdEntry e;

	fd_entry__init(&e);
	e.fd = i;
	e.kind = FD_KIND__FD_CHR;
	e.flags = 02;
	e.path = "/dev/null";
	return &e.base;
}

static ProtobufCMessage *sample_pipes(unsigned int i)
{
	static PipeEntry e;
	static uint8_t data[] = "queued";

	pipe_entry__init(&e);
	e.id = 1000 + i;
	e.size = 65536;
	e.has_data = true;
	e.data.data = data;
	e.data.len = i;
	return &e.base;
}

static ProtobufCMessage *sample_unix(unsigned int i)
{
	static UnixPairEntry e;
	static uint8_t data[] = "ping";

	unix_pair_entry__init(&e);
	e.id_a = 2000 + 2 * i;
	e.id_b = 2001 + 2 * i;
	e.type = 1; /* SOCK_STREAM */
	e.has_flags_a = e.has_flags_b = true;
	e.flags_a = 02;
	e.flags_b = 04002;
	e.has_data_a = true;
	e.data_a.data = data;
	e.data_a.len = i % 5;
	return &e.base;
}

static ProtobufCMessage *sample_saved(unsigned int i)
{
	static SavedFileEntry e;
	static uint8_t data[] = "line 1\nline 2\n";

	saved_file_entry__init(&e);
	e.path = "/shared/job.out";
	e.size = 14;
	e.mode = 0644;
	e.uid = 1000 + i;
	e.gid = 1000;
	e.offset = 0;
	e.has_data = true;
	e.data.data = data;
	e.data.len = i % 15;
	return &e.base;
}

static ProtobufCMessage *sample_shmem(unsigned int i)
{
	static ShmemEntry e;

	shmem_entry__init(&e);
	e.id = 7 + i;
	e.kind = SHMEM_KIND__SHM_MEMFD;
	e.size = 8192;
	e.name = "memfd:buf";
	e.has_seals = true;
	e.seals = i;
	return &e.base;
}

static ProtobufCMessage *sample_shmdata(unsigned int i)
{
	static ShmemChunk e;
	static uint8_t data[64];

	shmem_chunk__init(&e);
	e.id = 7;
	e.offset = 4096ull * i;
	memset(data, (int)i, sizeof(data));
	e.data.data = data;
	e.data.len = i % sizeof(data);
	return &e.base;
}

static ProtobufCMessage *sample_fifo(unsigned int i)
{
	static FifoEntry e;
	static uint8_t data[] = "in the fifo";

	fifo_entry__init(&e);
	e.id = 3000 + i;
	e.dev = 0x801;
	e.path = (char *)"/tmp/fifo";
	e.size = 65536;
	e.has_data = true;
	e.data.data = data;
	e.data.len = i % sizeof(data);
	return &e.base;
}

static ProtobufCMessage *sample_anonfd(unsigned int i)
{
	static AnonFdEntry e;
	static EventfdState ev;
	static EpollTarget tg, *tgs[] = {&tg};

	anon_fd_entry__init(&e);
	eventfd_state__init(&ev);
	epoll_target__init(&tg);
	e.id = i + 1;
	e.kind = i % 2 ? FD_KIND__FD_EPOLL : FD_KIND__FD_EVENTFD;
	ev.count = i;
	tg.fd = i;
	tg.events = 1;
	tg.data = 0xa1;
	e.eventfd = i % 2 ? NULL : &ev;
	e.n_targets = i % 2;
	e.targets = tgs;
	return &e.base;
}

static ProtobufCMessage *sample_unixsk(unsigned int i)
{
	static UnixSkEntry e;
	static uint8_t name[] = "/tmp/sock";
	static ProtobufCBinaryData dgrams[2] = {{3, (uint8_t *)"one"}, {0, NULL}};
	static ScmEntry m, *scms[1] = {&m};
	static uint32_t files[2] = {0, 2};

	unix_sk_entry__init(&e);
	e.id = 4000 + i;
	e.type = i % 2 ? 2 : 1; /* SOCK_DGRAM, SOCK_STREAM */
	e.has_name = true;
	e.name.len = sizeof(name);
	e.name.data = name;
	e.has_listening = !(i % 2);
	e.listening = !(i % 2);
	e.n_dgrams = i % 2 ? 2 : 0;
	e.dgrams = dgrams;
	/* a datagram with files in flight (scm.img indexes 0 and 2) */
	scm_entry__init(&m);
	m.at = 1;
	m.n_files = 2;
	m.files = files;
	e.n_scm = i % 2;
	e.scm = scms;
	return &e.base;
}

static ProtobufCMessage *sample_inetsk(unsigned int i)
{
	static InetSkEntry e;
	static uint8_t lo[4] = {127, 0, 0, 1}, queue[] = "queued";

	inet_sk_entry__init(&e);
	e.id = 5000 + i;
	e.family = 2;		  /* AF_INET */
	e.state = i % 2 ? 10 : 1; /* TCP_LISTEN, TCP_ESTABLISHED */
	e.has_src_addr = e.has_src_port = true;
	e.src_addr.len = sizeof(lo);
	e.src_addr.data = lo;
	e.src_port = 4000 + i;
	e.has_snd_queue = !(i % 2);
	e.snd_queue.len = sizeof(queue);
	e.snd_queue.data = queue;
	e.has_snd_seq = true;
	e.snd_seq = 0xfffffff0u + i;
	return &e.base;
}

/* Record 0 of a pagemap is its head. */
static ProtobufCMessage *sample_pagemap(unsigned int i)
{
	static PagemapHead h;
	static PagemapEntry e;

	if (i == 0) {
		pagemap_head__init(&h);
		h.page_size = 4096;
		h.has_pages_total = true;
		h.pages_total = 3;
		return &h.base;
	}
	pagemap_entry__init(&e);
	e.vaddr = 0x7f0000000000ull + i * 0x10000;
	e.nr_pages = i;
	e.flags = PAGEMAP_FLAG__PE_PRESENT;
	e.has_offset = true;
	e.offset = 4096ull * i;
	return &e.base;
}

static ProtobufCMessage *sample(enum img_kind kind, unsigned int i)
{
	switch (kind) {
	case IMG_INVENTORY:
		return sample_inventory(i);
	case IMG_PSTREE:
		return sample_pstree(i);
	case IMG_CORE:
		return sample_core(i);
	case IMG_MM:
		return sample_mm(i);
	case IMG_FDINFO:
		return sample_fdinfo(i);
	case IMG_PAGEMAP:
		return sample_pagemap(i);
	case IMG_PIPES:
		return sample_pipes(i);
	case IMG_UNIX:
		return sample_unix(i);
	case IMG_SAVED:
		return sample_saved(i);
	case IMG_SHMEM:
		return sample_shmem(i);
	case IMG_SHMDATA:
		return sample_shmdata(i);
	case IMG_FIFO:
		return sample_fifo(i);
	case IMG_ANONFD:
		return sample_anonfd(i);
	case IMG_UNIXSK:
		return sample_unixsk(i);
	case IMG_SCM: /* files in flight: fd_entry records too */
		return sample_fdinfo(i);
	case IMG_INETSK:
		return sample_inetsk(i);
	default:
		fail_msg("no sample for kind %d", kind);
	}
	return NULL;
}

/* Packed bytes of msg, malloc'ed: how two messages are compared. */
static uint8_t *packed(const ProtobufCMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
	return buf;
}

static void assert_same_msg(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la, lb;
	uint8_t *pa = packed(a, &la), *pb = packed(b, &lb);

	assert_ptr_equal(a->descriptor, b->descriptor);
	assert_int_equal(la, lb);
	assert_memory_equal(pa, pb, la);
	free(pa);
	free(pb);
}

/* ---- raw file helpers ---- */

static uint8_t *slurp(int dirfd, const char *name, size_t *len)
{
	char *buf;

	assert_int_equal(read_file_at(dirfd, name, &buf, len), 0);
	return (uint8_t *)buf;
}

static void put_file(int dirfd, const char *name, const void *buf, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, buf, len), 0);
	close(fd);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* the test machine is little-endian, as the format */
}

/* ---- tests ---- */

static void test_names(void **state)
{
	assert_int_equal(img_kind_of_name("inventory.img"), IMG_INVENTORY);
	assert_int_equal(img_kind_of_name("pstree.img"), IMG_PSTREE);
	assert_int_equal(img_kind_of_name("core-42.img"), IMG_CORE);
	assert_int_equal(img_kind_of_name("mm-1.img"), IMG_MM);
	assert_int_equal(img_kind_of_name("fdinfo-7.img"), IMG_FDINFO);
	assert_int_equal(img_kind_of_name("pagemap-4194304.img"), IMG_PAGEMAP);
	assert_int_equal(img_kind_of_name("pages-42.img"), IMG_PAGES);
	const char *bad[] = {"core.img",
			     "core-.img",
			     "core-0.img",
			     "core-042.img",
			     "core-4x.img",
			     "core--1.img",
			     "core-42.im",
			     "core-42.img.bak",
			     "inventory-1.img",
			     "pstree-1.img",
			     "dump.log",
			     "",
			     ".img",
			     "core-99999999999.img"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(img_kind_of_name(bad[i]), -EINVAL);
	for (int a = 0; a < IMG__MAX; a++) {
		assert_non_null(img_kind_name(a));
		for (int b = a + 1; b < IMG__MAX; b++)
			assert_int_not_equal(img_kind_magic(a), img_kind_magic(b));
	}
	assert_null(img_kind_desc(IMG_PAGES));
	assert_ptr_equal(img_kind_desc(IMG_PAGEMAP), &pagemap_entry__descriptor);
	assert_ptr_equal(img_kind_head_desc(IMG_PAGEMAP), &pagemap_head__descriptor);
	assert_null(img_kind_head_desc(IMG_CORE));
	assert_null(img_kind_name(IMG__MAX));
}

static void test_roundtrip_all(void **state)
{
	struct ctx *c = *state;

	for (int k = 0; k < IMG__MAX; k++) {
		char name[64];
		struct img *img;
		ProtobufCMessage *m;

		if (k == IMG_PAGES)
			continue;
		snprintf(name, sizeof(name), "%s-%d.img", img_kind_name(k), 7);
		assert_int_equal(img_create(c->dirfd, name, k, &img), 0);
		for (unsigned int i = 0; i < 3; i++)
			assert_int_equal(img_write_msg(img, sample(k, i)), 0);
		assert_int_equal(img_close(img), 0);

		assert_int_equal(img_open(c->dirfd, name, k, &img), 0);
		assert_string_equal(img_name(img), name);
		for (unsigned int i = 0; i < 3; i++) {
			assert_int_equal(img_read_msg(img, &m), 1);
			assert_same_msg(m, sample(k, i));
			protobuf_c_message_free_unpacked(m, NULL);
		}
		assert_int_equal(img_read_msg(img, &m), 0);
		assert_int_equal(img_read_msg(img, &m), 0);
		assert_int_equal(img_close(img), 0);
	}
}

static void test_read_write_one(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	struct img *img;

	assert_int_equal(img_write_one(c->dirfd, "inventory.img", IMG_INVENTORY, sample(IMG_INVENTORY, 1)),
			 0);
	assert_int_equal(img_read_one(c->dirfd, "inventory.img", IMG_INVENTORY, &m), 0);
	assert_same_msg(m, sample(IMG_INVENTORY, 1));
	protobuf_c_message_free_unpacked(m, NULL);

	/* O_EXCL: an existing image is never overwritten, and is left alone. */
	assert_int_equal(img_write_one(c->dirfd, "inventory.img", IMG_INVENTORY, sample(IMG_INVENTORY, 2)),
			 -EEXIST);
	assert_int_equal(img_read_one(c->dirfd, "inventory.img", IMG_INVENTORY, &m), 0);
	protobuf_c_message_free_unpacked(m, NULL);

	/* No record, or two: not "one". */
	assert_int_equal(img_create(c->dirfd, "core-1.img", IMG_CORE, &img), 0);
	assert_int_equal(img_close(img), 0);
	assert_int_equal(img_read_one(c->dirfd, "core-1.img", IMG_CORE, &m), -EBADMSG);
	assert_int_equal(img_create(c->dirfd, "core-2.img", IMG_CORE, &img), 0);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 0)), 0);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 1)), 0);
	assert_int_equal(img_close(img), 0);
	assert_int_equal(img_read_one(c->dirfd, "core-2.img", IMG_CORE, &m), -EBADMSG);

	assert_int_equal(img_read_one(c->dirfd, "core-3.img", IMG_CORE, &m), -ENOENT);
	assert_non_null(strstr(last_err, "'core-3.img'"));
}

/* A record bigger than the write buffer goes around it, and reads back whole. */
static void test_big_record(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	struct img *img;

	assert_int_equal(img_create(c->dirfd, "core-5.img", IMG_CORE, &img), 0);
	assert_int_equal(img_write_msg(img, sample_core_sized(0, 10)), 0);
	assert_int_equal(img_write_msg(img, sample_core_sized(1, 300000)), 0);
	assert_int_equal(img_write_msg(img, sample_core_sized(2, 2432)), 0);
	assert_int_equal(img_close(img), 0);
	assert_int_equal(img_open(c->dirfd, "core-5.img", IMG_CORE, &img), 0);
	assert_int_equal(img_read_msg(img, &m), 1);
	assert_same_msg(m, sample_core_sized(0, 10));
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(img_read_msg(img, &m), 1);
	assert_same_msg(m, sample_core_sized(1, 300000));
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(img_read_msg(img, &m), 1);
	assert_same_msg(m, sample_core_sized(2, 2432));
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(img_read_msg(img, &m), 0);
	img_close(img);
}

/* Flip one byte at off of core-42.img's copy and read it: the error and its message. */
static void flip_and_read(struct ctx *c, size_t off, int want, const char *msg)
{
	size_t len;
	uint8_t *buf = slurp(c->dirfd, "orig.img", &len);
	ProtobufCMessage *m;
	struct img *img;
	int r;

	assert_true(off < len);
	buf[off] ^= 0x20;
	unlinkat(c->dirfd, "core-42.img", 0);
	put_file(c->dirfd, "core-42.img", buf, len);
	free(buf);
	last_err[0] = '\0';
	r = img_open(c->dirfd, "core-42.img", IMG_CORE, &img);
	if (r == 0) {
		while ((r = img_read_msg(img, &m)) > 0)
			protobuf_c_message_free_unpacked(m, NULL);
		img_close(img);
	}
	assert_int_equal(r, want);
	if (msg && !strstr(last_err, msg))
		fail_msg("expected \"%s\" in \"%s\"", msg, last_err);
}

static void write_core_3(struct ctx *c, const char *name)
{
	struct img *img;

	assert_int_equal(img_create(c->dirfd, name, IMG_CORE, &img), 0);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(img_write_msg(img, sample(IMG_CORE, i)), 0);
	assert_int_equal(img_close(img), 0);
}

static void test_corruption(void **state)
{
	struct ctx *c = *state;
	size_t rec_len = protobuf_c_message_get_packed_size(sample(IMG_CORE, 0));
	size_t rec3 = 16 + 2 * (16 + rec_len); /* record 3: same size as the others */

	write_core_3(c, "orig.img");
	/* A flipped payload byte, a flipped checksum byte: record 3 checksum mismatch. */
	flip_and_read(c, rec3 + 16 + 5, -EBADMSG, "'core-42.img': record 3 checksum mismatch");
	flip_and_read(c, rec3 + 8 + 3, -EBADMSG, "'core-42.img': record 3 checksum mismatch");
	flip_and_read(c, 16 + 16 + 1, -EBADMSG, "'core-42.img': record 1 checksum mismatch");
	/* Reserved word. */
	flip_and_read(c, 16 + 16 + rec_len + 4, -EBADMSG, "record 2 has a non-zero reserved field");
	/* Header: magic, version, kind, flags. */
	flip_and_read(c, 0, -EBADMSG, "'core-42.img': not a ckpt image (bad magic)");
	flip_and_read(c, 9, -EBADMSG, "does not match");
	flip_and_read(c, 13, -EPROTO, "flags");
}

static void test_version(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	uint8_t *buf;
	size_t len;

	write_core_3(c, "core-42.img");
	buf = slurp(c->dirfd, "core-42.img", &len);
	put_u32(buf + 4, CKPT_IMG_VERSION + 1);
	put_file(c->dirfd, "core-42.img", buf, len);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EPROTO);
	assert_string_equal(last_err, "'core-42.img': format version 2 is newer than this ckpt supports (1)");
	put_u32(buf + 4, 0);
	put_file(c->dirfd, "core-42.img", buf, len);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	free(buf);
}

static void test_bad_magic(void **state)
{
	struct ctx *c = *state;
	struct img *img;

	put_file(c->dirfd, "core-42.img", "hello, this is not an image\n", 28);
	assert_int_equal(img_open(c->dirfd, "core-42.img", IMG_CORE, &img), -EBADMSG);
	assert_string_equal(last_err, "'core-42.img': not a ckpt image (bad magic)");
	put_file(c->dirfd, "core-43.img", "", 0);
	assert_int_equal(img_open(c->dirfd, "core-43.img", IMG_CORE, &img), -EBADMSG);
	assert_string_equal(last_err, "'core-43.img': not a ckpt image (bad magic)");

	/* An mm image under a core name. */
	assert_int_equal(img_write_one(c->dirfd, "mm-1.img", IMG_MM, sample(IMG_MM, 0)), 0);
	assert_int_equal(img_open(c->dirfd, "mm-1.img", IMG_CORE, &img), -EBADMSG);
	assert_string_equal(last_err, "'mm-1.img': is a mm image, not a core image");

	/* Not a regular file. */
	assert_int_equal(mkdirat(c->dirfd, "core-44.img", 0700), 0);
	assert_int_equal(img_open(c->dirfd, "core-44.img", IMG_CORE, &img), -EBADMSG);
	unlinkat(c->dirfd, "core-44.img", AT_REMOVEDIR);
}

static void test_huge_length(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	uint8_t *buf;
	size_t len;

	write_core_3(c, "core-42.img");
	buf = slurp(c->dirfd, "core-42.img", &len);
	put_u32(buf + 16, 0xffffffffu);
	put_file(c->dirfd, "core-42.img", buf, len);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	assert_non_null(strstr(last_err, "'core-42.img': record 1 truncated"));
	put_u32(buf + 16, CKPT_IMG_MAX_RECORD + 1);
	put_file(c->dirfd, "core-42.img", buf, len);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	assert_non_null(strstr(last_err, "truncated"));
	/* Over the limit in a (sparse) file big enough to hold it: the limit still holds. */
	put_u32(buf + 16, CKPT_IMG_MAX_RECORD + 1);
	put_file(c->dirfd, "core-42.img", buf, len);
	int fd = openat(c->dirfd, "core-42.img", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * (off_t)CKPT_IMG_MAX_RECORD), 0);
	close(fd);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	assert_non_null(strstr(last_err, "over the limit"));
	/* Within the limit, but one byte more than the file holds. */
	put_u32(buf + 16, (uint32_t)(len - 32 + 1));
	put_file(c->dirfd, "core-42.img", buf, len);
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	assert_non_null(strstr(last_err, "'core-42.img': record 1 truncated"));
	free(buf);
}

/* A valid checksum over bytes that are not a protobuf message. */
static void test_bad_payload(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[16 + 16 + 8];
	struct img *img;
	ProtobufCMessage *m;
	uint64_t sum;

	assert_int_equal(img_create(c->dirfd, "core-42.img", IMG_CORE, &img), 0);
	int fd;

	assert_int_equal(img_close(img), 0);
	fd = openat(c->dirfd, "core-42.img", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread_all(fd, buf, 16, 0), 0);
	close(fd);
	memset(buf + 32, 0xff, 8);
	sum = img_checksum(buf + 32, 8);
	put_u32(buf + 16, 8);
	put_u32(buf + 20, 0);
	memcpy(buf + 24, &sum, 8);
	put_file(c->dirfd, "core-42.img", buf, sizeof(buf));
	assert_int_equal(img_read_one(c->dirfd, "core-42.img", IMG_CORE, &m), -EBADMSG);
	assert_string_equal(last_err, "'core-42.img': record 1 is not a valid task_core_entry");
}

/* Every prefix of a one-record file is an error, never a record. */
static void test_truncation(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	struct img *img;
	uint8_t *buf;
	size_t len;

	assert_int_equal(img_write_one(c->dirfd, "inventory.img", IMG_INVENTORY, sample(IMG_INVENTORY, 0)),
			 0);
	buf = slurp(c->dirfd, "inventory.img", &len);
	assert_true(len > 32);
	for (size_t n = 0; n < len; n++) {
		int r;

		put_file(c->dirfd, "cut.img", buf, n);
		assert_int_equal(img_read_one(c->dirfd, "cut.img", IMG_INVENTORY, &m), -EBADMSG);
		r = img_open(c->dirfd, "cut.img", IMG_INVENTORY, &img);
		if (r == 0) {
			r = img_read_msg(img, &m);
			img_close(img);
			/* Only the bare header is a (valid, empty) image. */
			assert_int_equal(r, n == 16 ? 0 : -EBADMSG);
		} else {
			assert_int_equal(r, -EBADMSG);
		}
	}
	free(buf);
}

static void test_pagemap_head(void **state)
{
	struct ctx *c = *state;
	ProtobufCMessage *m;
	struct img *img;

	/* An entry cannot come first, a head cannot come second. */
	assert_int_equal(img_create(c->dirfd, "pagemap-1.img", IMG_PAGEMAP, &img), 0);
	assert_int_equal(img_write_msg(img, sample(IMG_PAGEMAP, 1)), -EINVAL);
	assert_int_equal(img_write_msg(img, sample(IMG_PAGEMAP, 0)), 0);
	assert_int_equal(img_write_msg(img, sample(IMG_PAGEMAP, 0)), -EINVAL);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 0)), -EINVAL);
	assert_int_equal(img_close(img), 0);

	/* A pagemap without its head is bad. */
	assert_int_equal(img_create(c->dirfd, "pagemap-2.img", IMG_PAGEMAP, &img), 0);
	assert_int_equal(img_close(img), 0);
	assert_int_equal(img_open(c->dirfd, "pagemap-2.img", IMG_PAGEMAP, &img), 0);
	assert_int_equal(img_read_msg(img, &m), -EBADMSG);
	img_close(img);
}

static void test_pages(void **state)
{
	struct ctx *c = *state;
	uint8_t page[8192], back[8192];
	struct img *img;
	struct stat st;
	ProtobufCMessage *m;

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 13);
	assert_int_equal(img_create(c->dirfd, "pages-1.img", IMG_PAGES, &img), 0);
	assert_int_equal(lseek(img_fd(img), 0, SEEK_CUR), CKPT_IMG_PAGES_DATA_OFF);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 0)), -EINVAL);
	assert_int_equal(write_all(img_fd(img), page, sizeof(page)), 0);
	assert_int_equal(img_close(img), 0);
	assert_int_equal(fstatat(c->dirfd, "pages-1.img", &st, 0), 0);
	assert_int_equal(st.st_size, CKPT_IMG_PAGES_DATA_OFF + sizeof(page));

	assert_int_equal(img_open(c->dirfd, "pages-1.img", IMG_PAGES, &img), 0);
	assert_int_equal(lseek(img_fd(img), 0, SEEK_CUR), CKPT_IMG_PAGES_DATA_OFF);
	assert_int_equal(pread_all(img_fd(img), back, sizeof(back), CKPT_IMG_PAGES_DATA_OFF), 0);
	assert_memory_equal(page, back, sizeof(page));
	assert_int_equal(img_read_msg(img, &m), -EINVAL);
	img_close(img);

	/* The header without all of its padding. */
	int fd = openat(c->dirfd, "pages-1.img", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 100), 0);
	close(fd);
	assert_int_equal(img_open(c->dirfd, "pages-1.img", IMG_PAGES, &img), -EBADMSG);
}

/*
 * Mount a 64 KiB tmpfs in the test directory, in a mount namespace of this process so that
 * a crash cannot leave it mounted; skip the test where mounting is not allowed.
 */
static int small_fs(struct ctx *c)
{
	static bool own_ns;

	if (!own_ns) {
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return -1;
		own_ns = true;
	}
	snprintf(c->mnt, sizeof(c->mnt), "%s/small", c->dir);
	assert_int_equal(mkdir(c->mnt, 0700), 0);
	if (mount("tmpfs", c->mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") < 0) {
		rmdir(c->mnt);
		c->mnt[0] = '\0';
		return -1;
	}
	int fd = open(c->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* The file system fills while records are written: the error comes back, close reports it. */
static void test_enospc_while_writing(void **state)
{
	struct ctx *c = *state;
	struct img *img;
	int fd, r = 0;

	fd = small_fs(c);
	if (fd < 0)
		skip();
	assert_int_equal(img_create(fd, "core-1.img", IMG_CORE, &img), 0);
	for (unsigned int i = 0; i < 100 && r == 0; i++)
		r = img_write_msg(img, sample_core_sized(i, 4000));
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 0)), -ENOSPC);
	assert_int_equal(img_close(img), -ENOSPC);
	assert_non_null(strstr(last_err, "'core-1.img'"));
	close(fd);
}

/* The file system is full before the first flush: only img_close can tell, and it does. */
static void test_enospc_at_close(void **state)
{
	struct ctx *c = *state;
	char block[4096] = {0};
	struct img *img;
	int fd, filler;

	fd = small_fs(c);
	if (fd < 0)
		skip();
	filler = openat(fd, "filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(filler >= 0);
	while (write(filler, block, sizeof(block)) > 0)
		;
	close(filler);
	assert_int_equal(img_create(fd, "core-1.img", IMG_CORE, &img), 0);
	assert_int_equal(img_write_msg(img, sample(IMG_CORE, 0)), 0);
	last_err[0] = '\0';
	assert_int_equal(img_close(img), -ENOSPC);
	assert_non_null(strstr(last_err, "'core-1.img'"));

	/* img_write_one cleans up after itself. */
	assert_int_equal(img_write_one(fd, "core-2.img", IMG_CORE, sample(IMG_CORE, 0)), -ENOSPC);
	assert_int_equal(faccessat(fd, "core-2.img", F_OK, 0), -1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_roundtrip_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagemap_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_while_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_at_close, setup, teardown),
	};

	ckpt_set_log_fn(capture_log, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
