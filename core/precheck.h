/* SPDX-License-Identifier: MIT */
/*
 * What a dump cannot take, refused for the whole seized tree before anything is injected
 * or read from its memory: the tree is only detached and runs on.
 */
#ifndef CKPT_PRECHECK_H
#define CKPT_PRECHECK_H

#include "ckpt.h"
#include "pstree.h"

int precheck_tree(const struct pstree *t, const struct ckpt_dump_opts *opts);

#endif
