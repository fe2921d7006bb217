/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>
#include "log.h"
#include "peers.h"
#include "tcp-wire.h"
#include "util.h"

#define PEERS_DIR   ".nodes"
#define ADDRESS_MAX 300

/* A Slurm node name as a file name: letters, digits, '.', '-', '_', not starting with '.'. */
static bool good_node_name(const char *node)
{
	size_t n = strlen(node);

	return n > 0 && n < 128 && node[0] != '.' &&
	       strspn(node, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

static int path_of(const char *root, const char *node, const char *suffix, char **ret)
{
	if (!good_node_name(node))
		return -EINVAL;
	return asprintf(ret, "%s/%s/%s%s", root, PEERS_DIR, node, suffix) < 0 ? -ENOMEM : 0;
}

int peers_publish(const char *images_root, const char *node, const char *address)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&dir, "%s/%s", images_root, PEERS_DIR) < 0)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return pr_perror("cannot create '%s'", dir);
	r = path_of(images_root, node, ".tmp", &tmp);
	if (r == 0)
		r = path_of(images_root, node, "", &path);
	if (r < 0)
		return pr_err_errno(r, "node name '%s'", node);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pr_perror("cannot create '%s'", tmp);
	r = write_all(fd, address, strlen(address));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return pr_err_errno(r, "cannot publish this node's address in '%s'", path);
	}
	pr_info("other nodes find this one at %s (%s)", address, path);
	return 0;
}

void peers_unpublish(const char *images_root, const char *node)
{
	_cleanup_free_ char *path = NULL;

	if (path_of(images_root, node, "", &path) == 0 && unlink(path) < 0 && errno != ENOENT)
		pr_warn("cannot remove '%s': %m", path);
}

int peers_lookup(const char *images_root, const char *node, char **ret_address)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len = 0;
	int r = path_of(images_root, node, "", &path);

	if (r < 0)
		return r;
	r = read_file_at(AT_FDCWD, path, &buf, &len);
	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, CKPTD_TCP_PREFIX, strlen(CKPTD_TCP_PREFIX)) || strlen(buf) > ADDRESS_MAX)
		return -EBADMSG;
	*ret_address = TAKE_PTR(buf);
	return 0;
}
