/* SPDX-License-Identifier: MIT */
/*
 * ckpt.meta: "key=value\n" lines, "format=1" first. Values escape '\\' and newline as "\\\\"
 * and "\\n" (a path may hold a newline). The file is untrusted input on read: strict parser,
 * unknown keys ignored, duplicates and missing required keys refused.
 */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include "log.h"
#include "internal.h"

#define META_FORMAT "1"

enum meta_kind { M_U32, M_U64, M_I64, M_STR };

struct meta_field {
	const char *key;
	enum meta_kind kind;
	size_t off;
	bool required;
};

#define F(k, t, req)                                        \
	{                                                   \
#k, t, offsetof(struct layout_meta, k), req \
	}
static const struct meta_field fields[] = {
	F(job_id, M_U32, true),
	F(uid, M_U32, true),
	F(gid, M_U32, true),
	F(node, M_STR, false),
	F(time, M_I64, true),
	F(reason, M_STR, true),
	F(restart_count, M_U32, false),
	F(engine_version, M_STR, false),
	F(image_version, M_U32, false),
	F(cpu_features, M_STR, false),
	F(topology, M_STR, false),
	F(bytes, M_U64, false),
	F(duration_ns, M_U64, false),
	F(frozen_ns, M_U64, false),
	F(script_path, M_STR, false),
	F(stdout_path, M_STR, false),
	F(stderr_path, M_STR, false),
	F(kept, M_U32, false),
};
#undef F

static const char *const reasons[] = {"preempt",  "drain",    "reboot", "maint",
				      "interval", "walltime", "request"};

bool lay_reason_valid(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(reasons); i++)
		if (!strcmp(s, reasons[i]))
			return true;
	return false;
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_field(FILE *f, const struct meta_field *fd, const struct layout_meta *m)
{
	const char *p = (const char *)m + fd->off;

	switch (fd->kind) {
	case M_U32:
		fprintf(f, "%s=%" PRIu32 "\n", fd->key, *(const uint32_t *)p);
		break;
	case M_U64:
		fprintf(f, "%s=%" PRIu64 "\n", fd->key, *(const uint64_t *)p);
		break;
	case M_I64:
		fprintf(f, "%s=%" PRId64 "\n", fd->key, *(const int64_t *)p);
		break;
	case M_STR:
		if (!*(char *const *)p)
			break;
		fprintf(f, "%s=", fd->key);
		put_escaped(f, *(char *const *)p);
		fputc('\n', f);
		break;
	}
}

static int meta_format(const struct layout_meta *m, char **ret, size_t *ret_len)
{
	FILE *f = open_memstream(ret, ret_len);

	if (!f)
		return -ENOMEM;
	fputs("format=" META_FORMAT "\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		put_field(f, &fields[i], m);
	if (fclose(f) != 0) {
		free(*ret);
		return -ENOMEM;
	}
	return 0;
}

/* Create dirfd/ckpt.meta (0600, replacing what the engine may have left); fsync comes later. */
int lay_meta_write(int dirfd, const struct layout_meta *m)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = meta_format(m, &buf, &len);
	if (r < 0)
		return r;
	if (len > LAYOUT_META_MAX)
		return -E2BIG;
	if (unlinkat(dirfd, LAYOUT_META_NAME, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, LAYOUT_META_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r < 0)
		return r;
	return close(TAKE_FD(fd)) < 0 ? -errno : 0;
}

/* Read dirfd/ckpt.meta: a regular file (no symlink) of at most max bytes. */
int lay_meta_load(int dirfd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;
	ssize_t n;

	fd = openat(dirfd, LAYOUT_META_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		return bad_input("'" LAYOUT_META_NAME "' not a regular file of at most %zu bytes", max);
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	/* Read to EOF, not st_size: the file may have changed; more than max is refused. */
	while ((n = read(fd, buf + len, max + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		len += (size_t)n;
		if (len > max)
			return bad_input("'" LAYOUT_META_NAME "' larger than %zu bytes", max);
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int unescape(const char *s, size_t len, char **ret)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (++i == len || (s[i] != '\\' && s[i] != 'n')) {
			free(out);
			return bad_input("meta: bad escape");
		}
		*o++ = s[i] == 'n' ? '\n' : '\\';
	}
	*o = '\0';
	*ret = out;
	return 0;
}

static int parse_i64(const char *s, int64_t *ret)
{
	uint64_t v;
	bool neg = *s == '-';
	int r;

	/* "-0" and "-" are junk; the magnitude is checked against both ends. */
	if (neg && s[1] == '0')
		return -EINVAL;
	r = safe_atou64(s + neg, 10, &v);
	if (r < 0)
		return r;
	if (v > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int set_field(const struct meta_field *fd, const char *val, size_t len, struct layout_meta *m)
{
	_cleanup_free_ char *s = NULL;
	char *p = (char *)m + fd->off;
	uint64_t u;
	int r;

	r = unescape(val, len, &s);
	if (r < 0)
		return r;
	switch (fd->kind) {
	case M_U32:
		r = safe_atou32(s, (uint32_t *)p);
		break;
	case M_U64:
		r = safe_atou64(s, 10, &u);
		if (r >= 0)
			*(uint64_t *)p = u;
		break;
	case M_I64:
		r = parse_i64(s, (int64_t *)p);
		break;
	case M_STR:
		*(char **)p = TAKE_PTR(s);
		break;
	}
	return r < 0 ? bad_input("meta: bad value of '%s'", fd->key) : 0;
}

static bool key_valid(const char *k, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

/* One "key=value" line (no newline). seen: bit i for fields[i], the top bit for format. */
static int parse_line(const char *line, size_t len, struct layout_meta *m, uint32_t *seen)
{
	const char *eq = memchr(line, '=', len);
	size_t klen, vlen;

	if (!eq || !key_valid(line, (size_t)(eq - line)))
		return bad_input("meta: bad line '%.*s'", (int)MIN(len, 64), line);
	klen = (size_t)(eq - line);
	vlen = len - klen - 1;
	if (klen == 6 && !memcmp(line, "format", 6)) {
		if (*seen & (1u << 31) || vlen != 1 || eq[1] != META_FORMAT[0])
			return bad_input("meta: bad or repeated format");
		*seen |= 1u << 31;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (strlen(fields[i].key) != klen || memcmp(fields[i].key, line, klen))
			continue;
		if (*seen & (1u << i))
			return bad_input("meta: '%s' repeated", fields[i].key);
		*seen |= 1u << i;
		return set_field(&fields[i], eq + 1, vlen, m);
	}
	return 0; /* unknown keys: written by a newer version */
}

static int check_required(uint32_t seen, const struct layout_meta *m)
{
	if (!(seen & (1u << 31)))
		return bad_input("meta: no format");
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i].required && !(seen & (1u << i)))
			return bad_input("meta: no '%s'", fields[i].key);
	if (!lay_reason_valid(m->reason))
		return bad_input("meta: unknown reason");
	return 0;
}

int lay_meta_parse(const char *buf, size_t len, struct layout_meta *ret)
{
	struct layout_meta m = {};
	uint32_t seen = 0;
	size_t pos = 0;
	int r = 0;

	if (memchr(buf, '\0', len))
		r = bad_input("meta: NUL byte");
	while (r >= 0 && pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);

		if (!nl) {
			r = bad_input("meta: last line not terminated");
			break;
		}
		r = parse_line(buf + pos, (size_t)(nl - buf - pos), &m, &seen);
		pos = (size_t)(nl - buf) + 1;
	}
	if (r >= 0)
		r = check_required(seen, &m);
	if (r < 0) {
		layout_meta_free(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void layout_meta_free(struct layout_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i].kind == M_STR)
			free(*(char **)((char *)m + fields[i].off));
	*m = (struct layout_meta){};
}

int layout_latest_meta(struct layout *l, uint32_t job_id, uint32_t *ret_seq, struct layout_meta *ret)
{
	uint32_t seq;
	int r = layout_latest(l, job_id, &seq, NULL);

	if (r == 0)
		r = layout_meta_read(l, job_id, seq, ret);
	if (r == 0 && ret_seq)
		*ret_seq = seq;
	return r;
}
