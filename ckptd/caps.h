/* SPDX-License-Identifier: MIT */
#ifndef CKPTD_CAPS_H
#define CKPTD_CAPS_H

/* Keep only the capabilities the jobs need (caps.c says why each); drop the rest. */
int caps_drop(void);

#endif
