/* SPDX-License-Identifier: MIT */
/*
 * hello_dynamic.c linked statically (the Makefile adds -static for names with "_static"):
 * no ld.so, no shared libraries, a vdso found through the auxiliary vector only.
 */
#include "hello_dynamic.c"
