/* SPDX-License-Identifier: MIT */
/*
 * Regular files, in the directory given as argv[1] (it must exist):
 *   reg.dat  O_RDWR, 8 KiB, offset 1234; also dup'ed to fd 100 (one shared file
 *            description: a write through one fd moves the offset of the other)
 *   app.log  O_WRONLY|O_APPEND, offset moved to 3 (writes still go to the end)
 *   ro.dat   O_RDONLY|O_CLOEXEC at offset 5
 *   map.dat  3 pages mapped MAP_PRIVATE, fd closed, page 1 modified in memory: after the
 *            restore the modification is in memory and the file on disk is unchanged
 *   shm.dat  2 pages mapped MAP_SHARED, fd closed, modified through the mapping: the
 *            change is in the file; after the restore a new change still reaches the file
 * After SIGTERM: offsets, open flags, FD_CLOEXEC, then writes and reads through every fd
 * and both mappings, comparing whole files byte for byte.
 *
 * usage: files DIR
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include "crtest.h"

#define REG_SIZE  8192
#define REG_OFF	  1234
#define DUP_FD	  100
#define LINE1	  "line one\n"
#define LINE2	  "line two\n"
#define RO_TEXT	  "read only data\n"
#define MAP_PAGES 3
#define SHM_PAGES 2
#define MOD1	  "modified in memory before READY"
#define MOD2	  "written to the shared mapping"
#define MOD3	  "and again after the restore"

static const char *dir;
static int fd_reg, fd_app, fd_ro;
static unsigned char *map_priv, *map_shm;
static size_t page;

static char *path_of(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static unsigned char pattern(size_t i, int salt)
{
	return (unsigned char)(i * 31 + 7 + (i >> 9) + salt);
}

static int create_file(const char *name, size_t len, int salt)
{
	unsigned char *buf = malloc(len);
	size_t i;
	int fd;

	if (!buf)
		cr_die("malloc");
	for (i = 0; i < len; i++)
		buf[i] = pattern(i, salt);
	fd = open(path_of(name), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || cr_write_all(fd, buf, len) < 0)
		cr_die("create %s", name);
	free(buf);
	return fd;
}

static unsigned char *map_file(const char *name, size_t pages, int salt, int flags)
{
	int fd = create_file(name, pages * page, salt);
	void *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		cr_die("mmap %s", name);
	close(fd);
	return p;
}

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	fd_reg = create_file("reg.dat", REG_SIZE, 0);
	if (lseek(fd_reg, REG_OFF, SEEK_SET) != REG_OFF)
		cr_die("lseek reg.dat");
	if (dup2(fd_reg, DUP_FD) != DUP_FD)
		cr_die("dup2");

	fd_app = open(path_of("app.log"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd_app < 0 || cr_write_all(fd_app, LINE1, strlen(LINE1)) < 0)
		cr_die("app.log");
	if (lseek(fd_app, 3, SEEK_SET) != 3)
		cr_die("lseek app.log");

	fd_ro = open(path_of("ro.dat"), O_WRONLY | O_CREAT | O_TRUNC, 0444);
	if (fd_ro < 0 || cr_write_all(fd_ro, RO_TEXT, strlen(RO_TEXT)) < 0)
		cr_die("ro.dat");
	close(fd_ro);
	fd_ro = open(path_of("ro.dat"), O_RDONLY | O_CLOEXEC);
	if (fd_ro < 0 || lseek(fd_ro, 5, SEEK_SET) != 5)
		cr_die("open ro.dat");

	map_priv = map_file("map.dat", MAP_PAGES, 1, MAP_PRIVATE);
	memcpy(map_priv + page + 100, MOD1, strlen(MOD1));
	map_shm = map_file("shm.dat", SHM_PAGES, 2, MAP_SHARED);
	memcpy(map_shm + 10, MOD2, strlen(MOD2));
}

/* Read the whole of name from disk through a new descriptor. */
static unsigned char *slurp(const char *name, size_t *len)
{
	int fd = open(path_of(name), O_RDONLY | O_CLOEXEC);
	off_t size;
	unsigned char *buf;

	if (fd < 0)
		cr_fail("open %s: %s", path_of(name), strerror(errno));
	size = lseek(fd, 0, SEEK_END);
	buf = malloc((size_t)size + 1);
	if (size < 0 || !buf || pread(fd, buf, (size_t)size, 0) != size)
		cr_fail("read %s: %s", name, strerror(errno));
	close(fd);
	*len = (size_t)size;
	return buf;
}

/* name on disk must be the pattern of salt over len bytes, with patch at off. */
static void expect_file(const char *name, size_t want_len, int salt, size_t off, const char *patch,
			const char *patch2, size_t off2)
{
	size_t len, i;
	unsigned char *got = slurp(name, &len), *want = malloc(want_len);

	for (i = 0; i < want_len; i++)
		want[i] = pattern(i, salt);
	if (patch)
		memcpy(want + off, patch, strlen(patch));
	if (patch2)
		memcpy(want + off2, patch2, strlen(patch2));
	if (len != want_len)
		cr_fail("%s: size %zu, want %zu", name, len, want_len);
	for (i = 0; i < len; i++)
		if (got[i] != want[i])
			cr_fail("%s: byte %zu is 0x%02x, want 0x%02x", name, i, got[i], want[i]);
	free(got);
	free(want);
}

static void check_fd(int fd, const char *name, int accmode, int append, int cloexec, off_t off)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (fl < 0 || fdfl < 0)
		cr_fail("fd %d (%s): fcntl: %s", fd, name, strerror(errno));
	if ((fl & O_ACCMODE) != accmode || !!(fl & O_APPEND) != append)
		cr_fail("fd %d (%s): open flags %#o", fd, name, fl);
	if (!!(fdfl & FD_CLOEXEC) != cloexec)
		cr_fail("fd %d (%s): FD_CLOEXEC is %d, want %d", fd, name, !!(fdfl & FD_CLOEXEC), cloexec);
	if (pos != off)
		cr_fail("fd %d (%s): offset %lld, want %lld", fd, name, (long long)pos, (long long)off);
}

static void verify_fds(void)
{
	char buf[8] = "";
	size_t len;
	unsigned char *app;

	check_fd(fd_reg, "reg.dat", O_RDWR, 0, 1, REG_OFF);
	check_fd(DUP_FD, "reg.dat dup", O_RDWR, 0, 0, REG_OFF);
	check_fd(fd_app, "app.log", O_WRONLY, 1, 0, 3);
	check_fd(fd_ro, "ro.dat", O_RDONLY, 0, 1, 5);

	if (cr_write_all(fd_reg, "AFTER", 5) < 0)
		cr_fail("write reg.dat: %s", strerror(errno));
	if (lseek(DUP_FD, 0, SEEK_CUR) != REG_OFF + 5)
		cr_fail("fd %d no longer shares its offset with fd %d", DUP_FD, fd_reg);
	expect_file("reg.dat", REG_SIZE, 0, REG_OFF, "AFTER", NULL, 0);

	if (cr_write_all(fd_app, LINE2, strlen(LINE2)) < 0)
		cr_fail("write app.log: %s", strerror(errno));
	app = slurp("app.log", &len);
	if (len != strlen(LINE1 LINE2) || memcmp(app, LINE1 LINE2, len))
		cr_fail("app.log holds '%.*s'", (int)len, app);
	free(app);

	if (read(fd_ro, buf, 4) != 4 || memcmp(buf, "only", 4))
		cr_fail("ro.dat: read '%.4s' at offset 5", buf);
}

static void verify_maps(void)
{
	size_t i;

	for (i = 0; i < MAP_PAGES * page; i++) {
		unsigned char want = pattern(i, 1);

		if (i >= page + 100 && i < page + 100 + strlen(MOD1))
			want = (unsigned char)MOD1[i - page - 100];
		if (map_priv[i] != want)
			cr_fail("map.dat mapping: byte %zu is 0x%02x, want 0x%02x", i, map_priv[i], want);
	}
	expect_file("map.dat", MAP_PAGES * page, 1, 0, NULL, NULL, 0);

	expect_file("shm.dat", SHM_PAGES * page, 2, 10, MOD2, NULL, 0);
	memcpy(map_shm + page + 50, MOD3, strlen(MOD3));
	expect_file("shm.dat", SHM_PAGES * page, 2, 10, MOD2, MOD3, page + 50);
}

int main(int argc, char **argv)
{
	cr_init();
	if (argc != 2)
		cr_fail("setup: usage: files DIR");
	dir = argv[1];
	setup();
	cr_ready();
	cr_wait_sigterm();
	verify_fds();
	verify_maps();
	cr_pass();
}
