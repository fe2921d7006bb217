/* SPDX-License-Identifier: MIT */
/*
 * ckpt show: images to JSON (RFC 8259). The document is built in a memstream and copied to
 * the caller's stream only once every image has decoded, so that a failure never leaves
 * half a document behind. Write errors on the memstream are collected by ferror() at the end.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "image.h"
#include "log.h"
#include "show.h"

static void json_message(FILE *f, const ProtobufCMessage *msg);

/* Length of the well-formed UTF-8 sequence at s (RFC 3629, section 4), or 0. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/*
 * A JSON string. Control characters and bytes that are not UTF-8 are written as \u00XX, so
 * that the output is always valid JSON; such a byte reads back as U+00XX, not as itself.
 */
static void json_string(FILE *f, const char *str)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t n = strlen(str), i = 0;

	fputc('"', f);
	while (i < n) {
		size_t l;

		if (s[i] == '"' || s[i] == '\\') {
			fprintf(f, "\\%c", s[i]);
			i++;
			continue;
		}
		l = s[i] >= 0x20 && s[i] != 0x7f ? utf8_seq_len(s + i, n - i) : 0;
		if (l)
			fwrite(s + i, 1, l, f);
		else
			fprintf(f, "\\u%04x", s[i]);
		i += l ? l : 1;
	}
	fputc('"', f);
}

static void json_hex(FILE *f, const ProtobufCBinaryData *b)
{
	fputc('"', f);
	for (size_t i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
	fputc('"', f);
}

/* JSON has no NaN or infinity. */
static void json_double(FILE *f, double d)
{
	if (isfinite(d))
		fprintf(f, "%.17g", d);
	else
		fputs("null", f);
}

static void json_enum(FILE *f, const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

	if (ev)
		json_string(f, ev->name);
	else
		fprintf(f, "%d", v); /* a value this ckpt does not know: show the number */
}

/* One value of field fd stored at p. */
static void json_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(f, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(f, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		json_enum(f, fd->descriptor, *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		if (*(char *const *)p)
			json_string(f, *(char *const *)p);
		else
			fputs("null", f);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		json_hex(f, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		json_message(f, *(ProtobufCMessage *const *)p);
		break;
	}
}

/* Size of one element of a repeated field's array. */
static size_t field_elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* Whether a non-repeated field is set: required, its has_ flag, its oneof case, a pointer. */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
	const uint8_t *base = (const uint8_t *)msg;
	const void *member = base + fd->offset;

	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)member != NULL;
	/* An absent optional string points at its default (NULL when the .proto sets none). */
	if (fd->type == PROTOBUF_C_TYPE_STRING)
		return *(void *const *)member && *(void *const *)member != fd->default_value;
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	return true; /* proto3 implicit presence: always shown */
}

static void json_array(FILE *f, const ProtobufCFieldDescriptor *fd, const void *arr, size_t n)
{
	size_t sz = field_elem_size(fd->type);

	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_value(f, fd, (const uint8_t *)arr + i * sz);
	}
	fputc(']', f);
}

/* Fields a newer ckpt wrote that this one does not know: listed by number, not lost silently. */
static void json_unknown_fields(FILE *f, const ProtobufCMessage *msg, bool first)
{
	if (!msg->n_unknown_fields)
		return;
	fputs(first ? "\"_unknown_fields\": [" : ", \"_unknown_fields\": [", f);
	for (unsigned int i = 0; i < msg->n_unknown_fields; i++)
		fprintf(f, "%s%" PRIu32, i ? ", " : "", msg->unknown_fields[i].tag);
	fputc(']', f);
}

static void json_message(FILE *f, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc;
	bool first = true;

	if (!msg) {
		fputs("null", f);
		return;
	}
	desc = msg->descriptor;
	fputc('{', f);
	for (unsigned int i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &desc->fields[i];
		const uint8_t *member = (const uint8_t *)msg + fd->offset;
		bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;

		if (!repeated && !field_present(msg, fd))
			continue;
		if (!first)
			fputs(", ", f);
		first = false;
		json_string(f, fd->name);
		fputs(": ", f);
		if (repeated)
			json_array(f, fd, *(const void *const *)member,
				   *(const size_t *)((const uint8_t *)msg + fd->quantifier_offset));
		else
			json_value(f, fd, member);
	}
	json_unknown_fields(f, msg, first);
	fputc('}', f);
}

static int show_records(FILE *f, struct img *img)
{
	ProtobufCMessage *msg;
	bool first = true;
	int r;

	fputs(", \"records\": [", f);
	while ((r = img_read_msg(img, &msg)) > 0) {
		fputs(first ? "\n    " : ",\n    ", f);
		json_message(f, msg);
		protobuf_c_message_free_unpacked(msg, NULL);
		first = false;
	}
	if (r < 0)
		return r;
	fputs(first ? "]" : "\n  ]", f);
	return 0;
}

static int show_pages(FILE *f, struct img *img)
{
	struct stat st;

	if (fstat(img_fd(img), &st) < 0)
		return pr_perror("'%s': stat", img_name(img));
	fprintf(f, ", \"size\": %" PRIu64, (uint64_t)st.st_size);
	return 0;
}

/* One image as a JSON object, on f. */
static int show_image(FILE *f, int dirfd, const char *name)
{
	struct img *img;
	int kind, r;

	kind = img_kind_of_name(name);
	if (kind < 0) {
		pr_err("'%s': not the name of a ckpt image", name);
		return kind;
	}
	r = img_open(dirfd, name, kind, &img);
	if (r < 0)
		return r;
	fputs("{\"file\": ", f);
	json_string(f, name);
	fputs(", \"kind\": ", f);
	json_string(f, img_kind_name(kind));
	r = kind == IMG_PAGES ? show_pages(f, img) : show_records(f, img);
	img_close(img);
	if (r < 0)
		return r;
	fputc('}', f);
	return 0;
}

struct show_args {
	const char *dir;
	int dirfd;
	const char *name; /* one file */
	char **names;	  /* a directory */
	size_t n_names;
};

/* Run fn into a memstream; copy the result to out only when fn succeeded. */
static int show_buffered(FILE *out, int (*fn)(FILE *, const struct show_args *), const struct show_args *a)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	f = open_memstream(&data, &len);
	if (!f)
		return pr_perror("show: open_memstream");
	r = fn(f, a);
	if (ferror(f) && r >= 0)
		r = pr_err_errno(-ENOMEM, "show: building the JSON document");
	if (fclose(f) != 0 && r >= 0)
		r = pr_perror("show: building the JSON document");
	if (r < 0)
		return r;
	if (fwrite(data, 1, len, out) != len || fflush(out) != 0)
		return pr_perror("show: writing the output");
	return 0;
}

static int show_one(FILE *f, const struct show_args *a)
{
	int r = show_image(f, a->dirfd, a->name);

	if (r >= 0)
		fputc('\n', f);
	return r;
}

int ckpt_show_file(int dirfd, const char *name, FILE *out)
{
	struct show_args a = {.dirfd = dirfd, .name = name};

	return show_buffered(out, show_one, &a);
}

static int show_all(FILE *f, const struct show_args *a)
{
	int r;

	fputs("{\"dir\": ", f);
	json_string(f, a->dir);
	fputs(", \"images\": [", f);
	for (size_t i = 0; i < a->n_names; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		r = show_image(f, a->dirfd, a->names[i]);
		if (r < 0)
			return r;
	}
	fputs(a->n_names ? "\n]}\n" : "]}\n", f);
	return 0;
}

static bool is_img_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".img");
}

/* inventory.img first, the rest by name. */
static int img_name_cmp(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	bool ia = !strcmp(a, "inventory.img"), ib = !strcmp(b, "inventory.img");

	if (ia != ib)
		return ia ? -1 : 1;
	return strcmp(a, b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int add_name(struct show_args *a, const char *name)
{
	char **v = reallocarray(a->names, a->n_names + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	a->names = v;
	v[a->n_names] = strdup(name);
	if (!v[a->n_names])
		return -ENOMEM;
	a->n_names++;
	return 0;
}

/* The *.img names of a->dirfd, sorted, into a->names. */
static int list_images(struct show_args *a)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	fd = fcntl(a->dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return pr_perror("'%s': dup", a->dir);
	d = fdopendir(fd);
	if (!d) {
		r = pr_perror("'%s': opendir", a->dir);
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_type == DT_DIR || !is_img_name(de->d_name))
			continue;
		r = add_name(a, de->d_name);
		if (r < 0)
			return pr_err_errno(r, "'%s': listing", a->dir);
	}
	if (errno)
		return pr_perror("'%s': readdir", a->dir);
	if (a->n_names)
		qsort(a->names, a->n_names, sizeof(*a->names), img_name_cmp);
	return 0;
}

int ckpt_show_dir(const char *dir, FILE *out)
{
	_cleanup_close_ int dirfd = -EBADF;
	struct show_args a = {.dir = dir};
	int r;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return pr_perror("'%s': cannot open", dir);
	a.dirfd = dirfd;
	r = list_images(&a);
	if (r >= 0)
		r = show_buffered(out, show_all, &a);
	free_names(a.names, a.n_names);
	return r;
}
