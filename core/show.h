/* SPDX-License-Identifier: MIT */
/*
 * ckpt show: images decoded to JSON. A generic writer over the protobuf-c descriptors, so a
 * new field shows without a change here: nested messages as objects, repeated fields as
 * arrays, enums by name, bytes as a hex string, optional fields only when set.
 */
#ifndef CKPT_SHOW_H
#define CKPT_SHOW_H

#include <stdio.h>

/*
 * Every *.img of dir, inventory.img first and then by name, as one JSON document:
 * {"dir": "...", "images": [{"file": "core-42.img", "kind": "core", "records": [...]}, ...]}.
 * A pages file shows as {"file": ..., "kind": "pages", "size": <file size in bytes>}. Other
 * files are skipped. Nothing is written to out unless every image decodes; otherwise the
 * image layer's error (already logged) is returned.
 */
int ckpt_show_dir(const char *dir, FILE *out);
/* One image, dirfd/name, as one JSON object (the element of "images" above) and a newline. */
int ckpt_show_file(int dirfd, const char *name, FILE *out);

#endif
