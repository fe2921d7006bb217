/* SPDX-License-Identifier: MIT */
/* Small helpers shared by all of libckpt: cleanup attributes, ownership transfer, checked parsers. */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define MAX(a, b)	 ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a)	 (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define _unused_	 __attribute__((unused))
#define _printf_(a, b)	 __attribute__((format(printf, a, b)))
#define _public_	 __attribute__((visibility("default")))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_(f)	   __attribute__((cleanup(f)))
#define _cleanup_free_	   _cleanup_(freep)
#define _cleanup_close_	   _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Hand ownership on: returns the value and leaves the variable empty. */
#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -EBADF;   \
		_fd_;            \
	})
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})

/* Checked number parsers: whole string, no sign surprises, range checked. 0 or -EINVAL/-ERANGE. */
int safe_atou64(const char *s, int base, uint64_t *ret);
int safe_atou32(const char *s, uint32_t *ret);
int safe_atoi32(const char *s, int32_t *ret);
int safe_atopid(const char *s, pid_t *ret);

/* Read a whole small file (from /proc) into a NUL-terminated malloc'ed buffer. */
int read_file_at(int dirfd, const char *path, char **ret, size_t *ret_len);
/* Write all of buf, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes; -EIO on a short file. */
int read_all(int fd, void *buf, size_t len);
int pread_all(int fd, void *buf, size_t len, off_t off);
/* Path of an fd's target via readlink; malloc'ed. */
int readlink_malloc(int dirfd, const char *path, char **ret);
uint64_t now_ns(int clock);

#endif
