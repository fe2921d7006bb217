/* SPDX-License-Identifier: MIT */
/*
 * Image files: a header, then checksummed length-prefixed protobuf records (layout in image.h).
 *
 * Writes go through a 64 KiB buffer. The first write error is kept: every later call and
 * img_close() return it again, so that an ENOSPC met while flushing is never lost. Reads go
 * through the same buffer, and every length is checked against CKPT_IMG_MAX_RECORD and the
 * bytes left in the file before anything is allocated or read.
 */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "anonfd.pb-c.h"
#include "fdinfo.pb-c.h"
#include "fifo.pb-c.h"
#include "savedfile.pb-c.h"
#include "shmem.pb-c.h"
#include "inetsk.pb-c.h"
#include "unixsk.pb-c.h"
#include "pagemap.pb-c.h"
#include "image.h"
#include "log.h"

#define IMG_BUF_SIZE	 (64u << 10)
#define IMG_HDR_SIZE	 16u
#define IMG_REC_HDR_SIZE 16u

/* Log an error that has no errno text and return r. */
#define img_err(r, fmt, ...)                \
	({                                  \
		pr_err(fmt, ##__VA_ARGS__); \
		(r);                        \
	})

/* Magics read "ck" and two letters of the kind in a hex dump (little-endian). */
#define IMG_MAGIC(c, d) \
	((uint32_t)'c' | (uint32_t)'k' << 8 | (uint32_t)(uint8_t)(c) << 16 | (uint32_t)(uint8_t)(d) << 24)

struct img_kind_info {
	const char *name;
	uint32_t magic;
	bool per_pid; /* file name is <name>-<pid>.img, else <name>.img */
	const ProtobufCMessageDescriptor *desc;
	const ProtobufCMessageDescriptor *head_desc;
};

static const struct img_kind_info kinds[IMG__MAX] = {
	[IMG_INVENTORY] = {"inventory", IMG_MAGIC('I', 'V'), false, &inventory_entry__descriptor, NULL},
	[IMG_PSTREE] = {"pstree", IMG_MAGIC('P', 'S'), false, &pstree_entry__descriptor, NULL},
	[IMG_CORE] = {"core", IMG_MAGIC('C', 'O'), true, &task_core_entry__descriptor, NULL},
	[IMG_MM] = {"mm", IMG_MAGIC('M', 'M'), true, &mm_entry__descriptor, NULL},
	[IMG_FDINFO] = {"fdinfo", IMG_MAGIC('F', 'D'), true, &fd_entry__descriptor, NULL},
	[IMG_PAGEMAP] = {"pagemap", IMG_MAGIC('P', 'M'), true, &pagemap_entry__descriptor,
			 &pagemap_head__descriptor},
	[IMG_PAGES] = {"pages", IMG_MAGIC('P', 'G'), true, NULL, NULL},
	[IMG_PIPES] = {"pipes", IMG_MAGIC('P', 'I'), false, &pipe_entry__descriptor, NULL},
	[IMG_UNIX] = {"unixsk", IMG_MAGIC('U', 'X'), false, &unix_pair_entry__descriptor, NULL},
	[IMG_SAVED] = {"savedfiles", IMG_MAGIC('S', 'F'), false, &saved_file_entry__descriptor, NULL},
	[IMG_SHMEM] = {"shmem", IMG_MAGIC('S', 'H'), false, &shmem_entry__descriptor, NULL},
	[IMG_SHMDATA] = {"shmdata", IMG_MAGIC('S', 'D'), false, &shmem_chunk__descriptor, NULL},
	[IMG_FIFO] = {"fifo", IMG_MAGIC('F', 'I'), false, &fifo_entry__descriptor, NULL},
	[IMG_UNIXSK] = {"unixsk-sk", IMG_MAGIC('U', 'S'), false, &unix_sk_entry__descriptor, NULL},
	[IMG_ANONFD] = {"anonfd", IMG_MAGIC('A', 'F'), false, &anon_fd_entry__descriptor, NULL},
	[IMG_SCM] = {"scm", IMG_MAGIC('S', 'C'), false, &fd_entry__descriptor, NULL},
	[IMG_INETSK] = {"inetsk", IMG_MAGIC('I', 'S'), false, &inet_sk_entry__descriptor, NULL},
};

struct img {
	int fd;
	char *name;
	enum img_kind kind;
	bool writing;
	int err;       /* first error; returned by every later call */
	uint32_t nr;   /* records written or read so far */
	uint64_t pos;  /* reading: file offset of the next byte to consume */
	uint64_t size; /* reading: file size at open; nothing past it is used */
	uint8_t *buf;
	size_t len; /* bytes in buf */
	size_t off; /* reading: bytes of buf already consumed */
};

static bool kind_valid(enum img_kind kind)
{
	return (unsigned int)kind < IMG__MAX;
}

const char *img_kind_name(enum img_kind kind)
{
	return kind_valid(kind) ? kinds[kind].name : NULL;
}

uint32_t img_kind_magic(enum img_kind kind)
{
	return kind_valid(kind) ? kinds[kind].magic : 0;
}

const ProtobufCMessageDescriptor *img_kind_desc(enum img_kind kind)
{
	return kind_valid(kind) ? kinds[kind].desc : NULL;
}

const ProtobufCMessageDescriptor *img_kind_head_desc(enum img_kind kind)
{
	return kind_valid(kind) ? kinds[kind].head_desc : NULL;
}

/* "<pid>.img" with a pid as ckpt writes it: decimal, no sign, no leading zero. */
static bool is_pid_suffix(const char *s)
{
	size_t n = strlen(s);
	_cleanup_free_ char *digits = NULL;
	pid_t pid;

	if (n <= 4 || strcmp(s + n - 4, ".img") || s[0] == '0')
		return false;
	digits = strndup(s, n - 4);
	return digits && safe_atopid(digits, &pid) == 0;
}

int img_kind_of_name(const char *name)
{
	for (int k = 0; k < IMG__MAX; k++) {
		size_t n = strlen(kinds[k].name);
		const char *rest = name + n;

		if (strncmp(name, kinds[k].name, n))
			continue;
		if (!kinds[k].per_pid && !strcmp(rest, ".img"))
			return k;
		if (kinds[k].per_pid && rest[0] == '-' && is_pid_suffix(rest + 1))
			return k;
	}
	return -EINVAL;
}

uint64_t img_checksum(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void img_free(struct img *img)
{
	if (!img)
		return;
	closep(&img->fd);
	free(img->name);
	free(img->buf);
	free(img);
}

static void img_freep(struct img **img)
{
	img_free(*img);
}

static void img_closep(struct img **img)
{
	if (*img)
		img_close(*img);
}

static int img_alloc(const char *name, enum img_kind kind, bool writing, struct img **ret)
{
	struct img *img;

	if (!kind_valid(kind))
		return img_err(-EINVAL, "'%s': unknown image kind %d", name, (int)kind);
	img = calloc(1, sizeof(*img));
	if (!img)
		return img_err(-ENOMEM, "'%s': out of memory", name);
	img->fd = -EBADF;
	img->kind = kind;
	img->writing = writing;
	img->name = strdup(name);
	img->buf = malloc(IMG_BUF_SIZE);
	if (!img->name || !img->buf) {
		img_free(img);
		return img_err(-ENOMEM, "'%s': out of memory", name);
	}
	*ret = img;
	return 0;
}

/* The type record number img->nr + 1 must have. */
static const ProtobufCMessageDescriptor *img_next_desc(const struct img *img)
{
	if (img->nr == 0 && kinds[img->kind].head_desc)
		return kinds[img->kind].head_desc;
	return kinds[img->kind].desc;
}

/* ---- writing ---- */

static int img_flush(struct img *img)
{
	int r;

	if (img->err)
		return img->err;
	if (!img->len)
		return 0;
	r = write_all(img->fd, img->buf, img->len);
	if (r < 0) {
		img->err = r;
		return pr_err_errno(r, "'%s': write", img->name);
	}
	img->len = 0;
	return 0;
}

int img_create(int dirfd, const char *name, enum img_kind kind, struct img **ret)
{
	_cleanup_(img_freep) struct img *img = NULL;
	int r;

	r = img_alloc(name, kind, true, &img);
	if (r < 0)
		return r;
	img->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (img->fd < 0)
		return pr_perror("'%s': cannot create", name);

	put_le32(img->buf, kinds[kind].magic);
	put_le32(img->buf + 4, CKPT_IMG_VERSION);
	put_le32(img->buf + 8, kind);
	put_le32(img->buf + 12, 0);
	img->len = IMG_HDR_SIZE;
	if (kind == IMG_PAGES) {
		/* Pad so that the caller's page data starts page-aligned at img_fd()'s offset. */
		memset(img->buf + IMG_HDR_SIZE, 0, CKPT_IMG_PAGES_DATA_OFF - IMG_HDR_SIZE);
		img->len = CKPT_IMG_PAGES_DATA_OFF;
		r = img_flush(img);
		if (r < 0) {
			unlinkat(dirfd, name, 0);
			return r;
		}
	}
	*ret = TAKE_PTR(img);
	return 0;
}

/* Write one record whose 16-byte header and payload are at rec, bypassing the buffer. */
static int img_write_direct(struct img *img, const uint8_t *rec, size_t len)
{
	int r = img_flush(img);

	if (r < 0)
		return r;
	r = write_all(img->fd, rec, len);
	if (r < 0) {
		img->err = r;
		return pr_err_errno(r, "'%s': write", img->name);
	}
	return 0;
}

int img_write_msg(struct img *img, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *want = img_next_desc(img);
	_cleanup_free_ uint8_t *big = NULL;
	size_t len, total;
	uint8_t *rec;
	int r;

	if (!img->writing || !want)
		return img_err(-EINVAL, "'%s': not an image to write records to", img->name);
	if (img->err)
		return img->err;
	if (msg->descriptor != want)
		return img_err(-EINVAL, "'%s': record %" PRIu32 " must be a %s, not a %s", img->name,
			       img->nr + 1, want->name, msg->descriptor->name);
	len = protobuf_c_message_get_packed_size(msg);
	if (len > CKPT_IMG_MAX_RECORD)
		return img_err(-EMSGSIZE, "'%s': record %" PRIu32 " is %zu bytes, over the limit of %u",
			       img->name, img->nr + 1, len, CKPT_IMG_MAX_RECORD);
	total = IMG_REC_HDR_SIZE + len;
	if (total > IMG_BUF_SIZE - img->len) {
		r = img_flush(img);
		if (r < 0)
			return r;
	}
	if (total <= IMG_BUF_SIZE) {
		rec = img->buf + img->len;
	} else {
		big = malloc(total);
		if (!big)
			return img_err(-ENOMEM, "'%s': out of memory for a record of %zu bytes", img->name,
				       len);
		rec = big;
	}
	if (protobuf_c_message_pack(msg, rec + IMG_REC_HDR_SIZE) != len)
		return img_err(-EINVAL, "'%s': record %" PRIu32 " packed to an unexpected size", img->name,
			       img->nr + 1);
	put_le32(rec, (uint32_t)len);
	put_le32(rec + 4, 0);
	put_le64(rec + 8, img_checksum(rec + IMG_REC_HDR_SIZE, len));
	if (big) {
		r = img_write_direct(img, big, total);
		if (r < 0)
			return r;
	} else {
		img->len += total;
	}
	img->nr++;
	return 0;
}

int img_close(struct img *img)
{
	int r = 0;

	if (!img)
		return 0;
	if (img->writing) {
		r = img_flush(img);
		/* fsync also reports a writeback error (EIO, ENOSPC on some file systems). */
		if (fsync(img->fd) < 0 && r >= 0)
			r = pr_perror("'%s': fsync", img->name);
		if (close(TAKE_FD(img->fd)) < 0 && r >= 0)
			r = pr_perror("'%s': close", img->name);
	}
	img_free(img);
	return r;
}

int img_read_all(int dirfd, const char *name, enum img_kind kind, ProtobufCMessage ***ret, size_t *ret_n)
{
	ProtobufCMessage **v = NULL, *m;
	struct img *img;
	size_t n = 0;
	int r;

	r = img_open(dirfd, name, kind, &img);
	if (r < 0)
		return r;
	while ((r = img_read_msg(img, &m)) > 0) {
		ProtobufCMessage **nv = realloc(v, (n + 1) * sizeof(*nv));

		if (!nv) {
			protobuf_c_message_free_unpacked(m, NULL);
			r = -ENOMEM;
			break;
		}
		v = nv;
		v[n++] = m;
	}
	img_close(img);
	if (r < 0) {
		img_free_all(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void img_free_all(ProtobufCMessage **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(v[i], NULL);
	free(v);
}

void img_discard(struct img *img)
{
	img_free(img);
}

int img_write_one(int dirfd, const char *name, enum img_kind kind, const ProtobufCMessage *msg)
{
	struct img *img;
	int r, q;

	r = img_create(dirfd, name, kind, &img);
	if (r < 0)
		return r;
	r = img_write_msg(img, msg);
	q = img_close(img);
	if (r >= 0)
		r = q;
	if (r < 0)
		unlinkat(dirfd, name, 0);
	return r;
}

/* ---- reading ---- */

/* Copy the next n bytes of the file to dst; the caller has checked that the file holds them. */
static int img_fill(struct img *img, void *dst, size_t n)
{
	uint8_t *p = dst;

	while (n) {
		size_t c;

		if (img->off == img->len) {
			ssize_t got = read(img->fd, img->buf, IMG_BUF_SIZE);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return pr_perror("'%s': read", img->name);
			if (got == 0)
				return img_err(-EBADMSG, "'%s': truncated (the file shrank while read)",
					       img->name);
			img->len = (size_t)got;
			img->off = 0;
		}
		c = MIN(n, img->len - img->off);
		memcpy(p, img->buf + img->off, c);
		img->off += c;
		img->pos += c;
		p += c;
		n -= c;
	}
	return 0;
}

static const char *kind_of_magic(uint32_t magic)
{
	for (int k = 0; k < IMG__MAX; k++)
		if (kinds[k].magic == magic)
			return kinds[k].name;
	return NULL;
}

static int img_check_header(const struct img *img, const uint8_t *hdr, size_t n)
{
	const char *other;
	uint32_t magic, version, kind, flags;

	magic = n >= 4 ? get_le32(hdr) : 0;
	if (magic != kinds[img->kind].magic) {
		other = kind_of_magic(magic);
		if (other)
			return img_err(-EBADMSG, "'%s': is a %s image, not a %s image", img->name, other,
				       kinds[img->kind].name);
		return img_err(-EBADMSG, "'%s': not a ckpt image (bad magic)", img->name);
	}
	if (n < IMG_HDR_SIZE)
		return img_err(-EBADMSG, "'%s': truncated header", img->name);
	version = get_le32(hdr + 4);
	kind = get_le32(hdr + 8);
	flags = get_le32(hdr + 12);
	if (version > CKPT_IMG_VERSION)
		return img_err(-EPROTO,
			       "'%s': format version %" PRIu32 " is newer than this ckpt supports (%d)",
			       img->name, version, CKPT_IMG_VERSION);
	if (version == 0)
		return img_err(-EBADMSG, "'%s': bad format version 0", img->name);
	if (kind != (uint32_t)img->kind)
		return img_err(-EBADMSG, "'%s': header kind %" PRIu32 " does not match its magic", img->name,
			       kind);
	if (flags)
		return img_err(-EPROTO, "'%s': header flags 0x%" PRIx32 " unknown to this ckpt", img->name,
			       flags);
	return 0;
}

int img_open(int dirfd, const char *name, enum img_kind kind, struct img **ret)
{
	_cleanup_(img_freep) struct img *img = NULL;
	uint8_t hdr[IMG_HDR_SIZE];
	struct stat st;
	size_t n;
	int r;

	r = img_alloc(name, kind, false, &img);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted under an image name must not hang the open. */
	img->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (img->fd < 0)
		return pr_perror("'%s': cannot open", name);
	if (fstat(img->fd, &st) < 0)
		return pr_perror("'%s': stat", name);
	if (!S_ISREG(st.st_mode))
		return img_err(-EBADMSG, "'%s': not a regular file", name);
	img->size = (uint64_t)st.st_size;

	n = (size_t)MIN(img->size, (uint64_t)IMG_HDR_SIZE);
	r = pread_all(img->fd, hdr, n, 0);
	if (r < 0)
		return img_err(r == -EIO ? -EBADMSG : r, "'%s': cannot read header: %s", name, strerror(-r));
	r = img_check_header(img, hdr, n);
	if (r < 0)
		return r;

	img->pos = kind == IMG_PAGES ? CKPT_IMG_PAGES_DATA_OFF : IMG_HDR_SIZE;
	if (img->size < img->pos)
		return img_err(-EBADMSG, "'%s': truncated header", name);
	if (lseek(img->fd, (off_t)img->pos, SEEK_SET) < 0)
		return pr_perror("'%s': seek", name);
	*ret = TAKE_PTR(img);
	return 0;
}

static int img_read_record(struct img *img, ProtobufCMessage **ret)
{
	const ProtobufCMessageDescriptor *desc = img_next_desc(img);
	uint32_t nr = img->nr + 1, len;
	uint8_t hdr[IMG_REC_HDR_SIZE];
	_cleanup_free_ uint8_t *payload = NULL;
	ProtobufCMessage *msg;
	uint64_t sum;
	int r;

	if (img->pos == img->size) {
		if (img->nr == 0 && kinds[img->kind].head_desc)
			return img_err(-EBADMSG, "'%s': truncated: no %s record", img->name, desc->name);
		return 0;
	}
	if (img->size - img->pos < IMG_REC_HDR_SIZE)
		return img_err(-EBADMSG, "'%s': record %" PRIu32 " truncated", img->name, nr);
	r = img_fill(img, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	len = get_le32(hdr);
	sum = get_le64(hdr + 8);
	if (get_le32(hdr + 4))
		return img_err(-EBADMSG, "'%s': record %" PRIu32 " has a non-zero reserved field", img->name,
			       nr);
	if (len > CKPT_IMG_MAX_RECORD)
		return img_err(-EBADMSG,
			       "'%s': record %" PRIu32 " truncated or corrupt: length %" PRIu32
			       " is over the limit of %u",
			       img->name, nr, len, CKPT_IMG_MAX_RECORD);
	if (len > img->size - img->pos)
		return img_err(-EBADMSG,
			       "'%s': record %" PRIu32 " truncated: %" PRIu32 " bytes announced, %" PRIu64
			       " left",
			       img->name, nr, len, img->size - img->pos);
	payload = malloc(len ? len : 1);
	if (!payload)
		return img_err(-ENOMEM, "'%s': out of memory for a record of %" PRIu32 " bytes", img->name,
			       len);
	r = img_fill(img, payload, len);
	if (r < 0)
		return r;
	if (img_checksum(payload, len) != sum)
		return img_err(-EBADMSG, "'%s': record %" PRIu32 " checksum mismatch", img->name, nr);
	msg = protobuf_c_message_unpack(desc, NULL, len, payload);
	if (!msg)
		return img_err(-EBADMSG, "'%s': record %" PRIu32 " is not a valid %s", img->name, nr,
			       desc->name);
	img->nr++;
	*ret = msg;
	return 1;
}

int img_read_msg(struct img *img, ProtobufCMessage **ret)
{
	int r;

	if (img->writing || !kinds[img->kind].desc)
		return img_err(-EINVAL, "'%s': not an image to read records from", img->name);
	if (img->err)
		return img->err;
	r = img_read_record(img, ret);
	if (r < 0)
		img->err = r; /* the position in the file is lost: no retry */
	return r;
}

int img_read_one(int dirfd, const char *name, enum img_kind kind, ProtobufCMessage **ret)
{
	_cleanup_(img_closep) struct img *img = NULL;
	ProtobufCMessage *msg;
	int r;

	r = img_open(dirfd, name, kind, &img);
	if (r < 0)
		return r;
	r = img_read_msg(img, &msg);
	if (r < 0)
		return r;
	if (r == 0)
		return img_err(-EBADMSG, "'%s': truncated: holds no record", name);
	if (img->pos != img->size) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return img_err(-EBADMSG, "'%s': data after its one record", name);
	}
	*ret = msg;
	return 0;
}

int img_fd(const struct img *img)
{
	return img->fd;
}

const char *img_name(const struct img *img)
{
	return img->name;
}
