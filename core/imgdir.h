/* SPDX-License-Identifier: MIT */
/* The images directory given with -D. */
#ifndef CKPT_IMGDIR_H
#define CKPT_IMGDIR_H

/*
 * Create path (and its parents, mode 0700) when missing, open it, make sure it can be
 * written and holds no complete checkpoint (an inventory.img), and remove leftovers of an
 * earlier failed dump. All before the tree is touched.
 */
int imgdir_open_for_dump(const char *path, int *ret_dirfd);
/* Open an existing images directory for reading. */
int imgdir_open_for_restore(const char *path, int *ret_dirfd);
/* Remove every *.img of dirfd: undo a failed dump. */
void imgdir_remove_images(int dirfd);

#endif
