/* SPDX-License-Identifier: MIT */
/* aarch64 CPU features: the kernel's HWCAP words; there is no XSAVE-like feature mask. */
#include <sys/auxv.h>
#include <asm/hwcap.h>
#include "arch-private.h"

/*
 * Feature words, in this order (append only): AT_HWCAP bits 0-31, AT_HWCAP bits 32-63,
 * AT_HWCAP2 bits 0-31, AT_HWCAP2 bits 32-63. Every HWCAP bit names something user space may
 * use, except EVTSTRM (the timer event stream, a platform property), which is masked out.
 */
#define A64_NR_FEATURE_WORDS 4

static const char *const a64_word_label[A64_NR_FEATURE_WORDS] = {
	"HWCAP",
	"HWCAP[63:32]",
	"HWCAP2",
	"HWCAP2[63:32]",
};

/* AT_HWCAP bits 0-31, named as /proc/cpuinfo does (Documentation/arch/arm64/elf_hwcaps.rst). */
static const char *const a64_hwcap_names[32] = {
	"fp",	   "asimd", "evtstrm", "aes",	"pmull",    "sha1",   "sha2", "crc32",
	"atomics", "fphp",  "asimdhp", "cpuid", "asimdrdm", "jscvt",  "fcma", "lrcpc",
	"dcpop",   "sha3",  "sm3",     "sm4",	"asimddp",  "sha512", "sve",  "asimdfhm",
	"dit",	   "uscat", "ilrcpc",  "flagm", "ssbs",	    "sb",     "paca", "pacg",
};

static uint32_t a64_word_mask(size_t word)
{
	return word == 0 ? ~(uint32_t)HWCAP_EVTSTRM : ~(uint32_t)0;
}

static void a64_feature_words_read(uint32_t w[A64_NR_FEATURE_WORDS])
{
	uint64_t hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);

	w[0] = (uint32_t)hwcap & a64_word_mask(0);
	w[1] = (uint32_t)(hwcap >> 32);
	w[2] = (uint32_t)hwcap2;
	w[3] = (uint32_t)(hwcap2 >> 32);
}

/* *ret is malloc'ed (free() it), *ret_n words in the order documented above. */
int arch_cpu_features(uint32_t **ret, size_t *ret_n)
{
	uint32_t *w = calloc(A64_NR_FEATURE_WORDS, sizeof(*w));

	if (!w)
		return -ENOMEM;
	a64_feature_words_read(w);
	*ret = w;
	*ret_n = A64_NR_FEATURE_WORDS;
	return 0;
}

/* No XCR0 on aarch64. */
uint64_t arch_xfeatures(void)
{
	return 0;
}

static void a64_describe(size_t word, uint32_t missing, char *why, size_t why_len)
{
	size_t pos;
	int n;

	n = snprintf(why, why_len, "CPU lacks features the image uses: %s bits %#x (", a64_word_label[word],
		     missing);
	pos = n > 0 ? MIN((size_t)n, why_len - 1) : 0;
	for (unsigned int b = 0; b < 32 && pos + 1 < why_len; b++) {
		if (!(missing & (1U << b)))
			continue;
		if (word == 0)
			n = snprintf(why + pos, why_len - pos, "%s ", a64_hwcap_names[b]);
		else
			n = snprintf(why + pos, why_len - pos, "bit%u ", b);
		pos = n > 0 ? MIN(pos + (size_t)n, why_len - 1) : pos;
	}
	if (pos > 0 && why[pos - 1] == ' ')
		pos--;
	snprintf(why + pos, why_len - pos, ")");
}

int arch_cpu_compatible(const InventoryEntry *inv, char *why, size_t why_len)
{
	uint32_t host_w[A64_NR_FEATURE_WORDS];

	if (why && why_len)
		why[0] = '\0';
	if (inv->arch != ARCH_KIND__AARCH64)
		return a64_why(why, why_len, -ENOEXEC, "image is for architecture %d, this host is aarch64",
			       (int)inv->arch);
	a64_feature_words_read(host_w);
	for (size_t i = 0; i < inv->n_cpu_features; i++) {
		uint32_t missing;

		if (i >= A64_NR_FEATURE_WORDS) {
			if (!inv->cpu_features[i])
				continue;
			return a64_why(why, why_len, -ENOEXEC,
				       "image records CPU feature word %zu (%#x) this version does not know",
				       i, inv->cpu_features[i]);
		}
		missing = inv->cpu_features[i] & a64_word_mask(i) & ~host_w[i];
		if (!missing)
			continue;
		if (why && why_len)
			a64_describe(i, missing, why, why_len);
		pr_debug("aarch64: image needs %s bits %#x this CPU lacks", a64_word_label[i], missing);
		return -ENOEXEC;
	}
	return 0;
}
