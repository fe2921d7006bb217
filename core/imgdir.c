/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>
#include "imgdir.h"
#include "log.h"

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return pr_perror("cannot create images directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return pr_perror("cannot create images directory '%s'", p);
	return 0;
}

static bool is_image_name(const char *n)
{
	size_t l = strlen(n);

	return l > 4 && !strcmp(n + l - 4, ".img");
}

int imgdir_open_for_dump(const char *path, int *ret_dirfd)
{
	_cleanup_close_ int dfd = -EBADF, probe = -EBADF;
	int r;

	r = mkdir_parents(path);
	if (r < 0)
		return r;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return pr_perror("cannot open images directory '%s'", path);
	if (faccessat(dfd, "inventory.img", F_OK, 0) == 0)
		return pr_err("images directory '%s' already holds a checkpoint; use an empty one", path),
		       -EEXIST;
	/* Root passes access(2) checks; only creating a file tells whether we can write here. */
	probe = openat(dfd, ".ckpt-write-test", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (probe < 0)
		return pr_perror("cannot write to images directory '%s'", path);
	unlinkat(dfd, ".ckpt-write-test", 0);
	imgdir_remove_images(dfd);
	*ret_dirfd = TAKE_FD(dfd);
	return 0;
}

int imgdir_open_for_restore(const char *path, int *ret_dirfd)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return pr_perror("cannot open images directory '%s'", path);
	if (faccessat(dfd, "inventory.img", F_OK, 0) < 0) {
		int e = -errno;

		close(dfd);
		if (e == -ENOENT)
			return pr_err("'%s' holds no checkpoint (no inventory.img)", path), -ENOENT;
		return pr_err_errno(e, "'%s/inventory.img'", path);
	}
	*ret_dirfd = dfd;
	return 0;
}

void imgdir_remove_images(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	/* A fresh open file description: a dup would share (and may find at its end) the offset. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (is_image_name(de->d_name))
			unlinkat(dirfd, de->d_name, 0);
}
