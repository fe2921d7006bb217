/* SPDX-License-Identifier: MIT */
/*
 * Image files. Each starts with a 16-byte header (magic, format version, kind, flags), then
 * records: u32 length, u32 reserved (0), u64 XXH3-64 of the payload, then the packed protobuf.
 * All integers are little-endian.
 * A pages file is a header padded to 4096 bytes, then raw page data; its pagemap carries the
 * offset and checksum of each run of pages. Nothing is read past its own length; every
 * length is checked against CKPT_IMG_MAX_RECORD and the file size before use.
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#define CKPT_IMG_VERSION	1
#define CKPT_IMG_MAX_RECORD	(64u << 20)
#define CKPT_IMG_PAGES_DATA_OFF 4096u

enum img_kind {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_FDINFO,
	IMG_PAGEMAP,
	IMG_PAGES,
	IMG_PIPES,
	IMG_UNIX,
	IMG_SAVED,
	IMG_SHMEM,
	IMG_SHMDATA,
	IMG_FIFO,
	IMG_ANONFD,
	IMG_UNIXSK,
	IMG_SCM,
	IMG_INETSK,
	IMG__MAX,
};

struct img_header {
	uint32_t magic;
	uint32_t version;
	uint32_t kind;
	uint32_t flags;
};

struct img;

/*
 * Name prefix ("core", "mm", ...), magic, and the protobuf type of each record of a kind
 * (NULL for IMG_PAGES, which holds no records).
 *
 * A kind may start with one head record of another type: img_kind_head_desc() is that type,
 * or NULL when the kind has none. Only IMG_PAGEMAP has one today: record 1 is a pagemap_head,
 * every later record a pagemap_entry (img_kind_desc()). img_write_msg() refuses a message of
 * the wrong type for its position (-EINVAL), and img_read_msg() unpacks each record with the
 * type of its position (check (*ret)->descriptor) and fails with -EBADMSG on a file that ends
 * before its head. Records are numbered from 1 in messages.
 */
const char *img_kind_name(enum img_kind kind);
uint32_t img_kind_magic(enum img_kind kind);
const ProtobufCMessageDescriptor *img_kind_desc(enum img_kind kind);
const ProtobufCMessageDescriptor *img_kind_head_desc(enum img_kind kind);
/* Which kind a file name is ("core-42.img" -> IMG_CORE), or -EINVAL. */
int img_kind_of_name(const char *name);

/*
 * Create dirfd/name (O_EXCL, mode 0600) and write its header. A pages file gets its header
 * padded with zeros to CKPT_IMG_PAGES_DATA_OFF, and img_fd() is left at that offset.
 */
int img_create(int dirfd, const char *name, enum img_kind kind, struct img **ret);
/*
 * Open dirfd/name, check magic, kind and version (-EPROTO with a message naming the file).
 * A pages file must hold at least its padded header; img_fd() is left at
 * CKPT_IMG_PAGES_DATA_OFF.
 */
int img_open(int dirfd, const char *name, enum img_kind kind, struct img **ret);
int img_write_msg(struct img *img, const ProtobufCMessage *msg);
/* 1 and *ret on a record, 0 at a clean end of file, -errno (EBADMSG, EPROTO, ...) otherwise. */
int img_read_msg(struct img *img, ProtobufCMessage **ret);
/* Read exactly one record (inventory, core, mm): -EBADMSG if the file holds none. */
int img_read_one(int dirfd, const char *name, enum img_kind kind, ProtobufCMessage **ret);
/* Every record of dirfd/name (a pagemap's head first), in a malloc'ed array: img_free_all. */
int img_read_all(int dirfd, const char *name, enum img_kind kind, ProtobufCMessage ***ret, size_t *ret_n);
void img_free_all(ProtobufCMessage **v, size_t n);
int img_write_one(int dirfd, const char *name, enum img_kind kind, const ProtobufCMessage *msg);
/* fsync and close a written image; reports any deferred write error. Always frees img. */
int img_close(struct img *img);
/* Close an image after an error was already reported: no flush, no fsync, no message. */
void img_discard(struct img *img);
/* For pages files: the raw fd and the name, for page I/O beyond the header. */
int img_fd(const struct img *img);
const char *img_name(const struct img *img);

uint64_t img_checksum(const void *buf, size_t len);

#endif
