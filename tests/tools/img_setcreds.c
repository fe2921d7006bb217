/* SPDX-License-Identifier: MIT */
/*
 * For the tests: rewrite the credentials recorded in DIR/core-PID.img to UID:GID, with valid
 * record checksums, as a user who could edit an image would. A restore with privilege must
 * refuse the result (ckpt_restore_opts.check_owner).
 *   img_setcreds DIR PID UID GID
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "core.pb-c.h"
#include "image.h"
#include "util.h"

int main(int argc, char **argv)
{
	uint32_t pid, uid, gid;
	TaskCoreEntry *c = NULL;
	char name[64];
	int dirfd, r;

	if (argc != 5 || safe_atou32(argv[2], &pid) < 0 || safe_atou32(argv[3], &uid) < 0 ||
	    safe_atou32(argv[4], &gid) < 0) {
		fprintf(stderr, "usage: img_setcreds DIR PID UID GID\n");
		return 2;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		perror(argv[1]);
		return 1;
	}
	snprintf(name, sizeof(name), "core-%u.img", pid);
	r = img_read_one(dirfd, name, IMG_CORE, (ProtobufCMessage **)&c);
	if (r < 0)
		return 1;
	c->creds->uid = c->creds->euid = c->creds->suid = c->creds->fsuid = uid;
	c->creds->gid = c->creds->egid = c->creds->sgid = c->creds->fsgid = gid;
	if (unlinkat(dirfd, name, 0) < 0) {
		perror(name);
		return 1;
	}
	r = img_write_one(dirfd, name, IMG_CORE, &c->base);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	return r < 0 ? 1 : 0;
}
