/* SPDX-License-Identifier: MIT */
/* A bump allocator for building image records: everything goes at once with arena_free(). */
#ifndef CKPT_ARENA_H
#define CKPT_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
};

/* Zeroed memory, or NULL. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t size);
void arena_free(struct arena *a);

#endif
