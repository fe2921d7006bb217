/* SPDX-License-Identifier: MIT */
/* x86_64 CPU facts: CPUID feature words, XCR0, the XSAVE layout; compatibility of an image. */
#include <cpuid.h>
#include <pthread.h>
#include "arch-private.h"

enum { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

/*
 * The feature words arch_cpu_features() records, in this order (the order is part of the image
 * format: only ever append):
 *   0 leaf 1 ECX          1 leaf 1 EDX
 *   2 leaf 7.0 EBX        3 leaf 7.0 ECX       4 leaf 7.0 EDX
 *   5 leaf 7.1 EAX        6 leaf 0xD.1 EAX
 *   7 leaf 0x80000001 ECX 8 leaf 0x80000001 EDX
 * Only the bits named in x86_feature_bits[] are kept: instructions a program can use. Bits
 * that describe the platform (APIC, x2APIC, hypervisor, VMX, PCID, performance hints such as
 * ERMS/FSRM, topology) are masked out, so two hosts that run the same code compare equal.
 */
struct x86_feature_word {
	uint32_t leaf, subleaf;
	int reg;
	const char *label;
};

static const struct x86_feature_word x86_feature_words[] = {
	{1, 0, REG_ECX, "leaf 1 ECX"},
	{1, 0, REG_EDX, "leaf 1 EDX"},
	{7, 0, REG_EBX, "leaf 7 EBX"},
	{7, 0, REG_ECX, "leaf 7 ECX"},
	{7, 0, REG_EDX, "leaf 7 EDX"},
	{7, 1, REG_EAX, "leaf 7.1 EAX"},
	{0xd, 1, REG_EAX, "leaf 0xd.1 EAX"},
	{0x80000001, 0, REG_ECX, "leaf 0x80000001 ECX"},
	{0x80000001, 0, REG_EDX, "leaf 0x80000001 EDX"},
};
#define X86_NR_FEATURE_WORDS ARRAY_SIZE(x86_feature_words)

struct x86_feature_bit {
	uint8_t word, bit;
	const char *name;
};

/* Names as /proc/cpuinfo spells them (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, E.3). */
static const struct x86_feature_bit x86_feature_bits[] = {
	{0, 0, "sse3"},
	{0, 1, "pclmulqdq"},
	{0, 9, "ssse3"},
	{0, 12, "fma"},
	{0, 13, "cx16"},
	{0, 19, "sse4_1"},
	{0, 20, "sse4_2"},
	{0, 22, "movbe"},
	{0, 23, "popcnt"},
	{0, 25, "aes"},
	{0, 26, "xsave"},
	{0, 27, "osxsave"},
	{0, 28, "avx"},
	{0, 29, "f16c"},
	{0, 30, "rdrand"},

	{1, 0, "fpu"},
	{1, 4, "tsc"},
	{1, 8, "cx8"},
	{1, 15, "cmov"},
	{1, 19, "clflush"},
	{1, 23, "mmx"},
	{1, 24, "fxsr"},
	{1, 25, "sse"},
	{1, 26, "sse2"},

	{2, 0, "fsgsbase"},
	{2, 3, "bmi1"},
	{2, 4, "hle"},
	{2, 5, "avx2"},
	{2, 8, "bmi2"},
	{2, 11, "rtm"},
	{2, 14, "mpx"},
	{2, 16, "avx512f"},
	{2, 17, "avx512dq"},
	{2, 18, "rdseed"},
	{2, 19, "adx"},
	{2, 21, "avx512ifma"},
	{2, 23, "clflushopt"},
	{2, 24, "clwb"},
	{2, 26, "avx512pf"},
	{2, 27, "avx512er"},
	{2, 28, "avx512cd"},
	{2, 29, "sha_ni"},
	{2, 30, "avx512bw"},
	{2, 31, "avx512vl"},

	{3, 0, "prefetchwt1"},
	{3, 1, "avx512vbmi"},
	{3, 3, "pku"},
	{3, 4, "ospke"},
	{3, 5, "waitpkg"},
	{3, 6, "avx512_vbmi2"},
	{3, 7, "shstk"},
	{3, 8, "gfni"},
	{3, 9, "vaes"},
	{3, 10, "vpclmulqdq"},
	{3, 11, "avx512_vnni"},
	{3, 12, "avx512_bitalg"},
	{3, 14, "avx512_vpopcntdq"},
	{3, 22, "rdpid"},
	{3, 25, "cldemote"},
	{3, 27, "movdiri"},
	{3, 28, "movdir64b"},
	{3, 29, "enqcmd"},

	{4, 2, "avx512_4vnniw"},
	{4, 3, "avx512_4fmaps"},
	{4, 5, "uintr"},
	{4, 8, "avx512_vp2intersect"},
	{4, 14, "serialize"},
	{4, 16, "tsxldtrk"},
	{4, 20, "ibt"},
	{4, 22, "amx_bf16"},
	{4, 23, "avx512_fp16"},
	{4, 24, "amx_tile"},
	{4, 25, "amx_int8"},

	{5, 0, "sha512"},
	{5, 1, "sm3"},
	{5, 2, "sm4"},
	{5, 3, "rao_int"},
	{5, 4, "avx_vnni"},
	{5, 5, "avx512_bf16"},
	{5, 7, "cmpccxadd"},
	{5, 21, "amx_fp16"},
	{5, 23, "avx_ifma"},

	{6, 0, "xsaveopt"},
	{6, 1, "xsavec"},
	{6, 2, "xgetbv1"},

	{7, 0, "lahf_lm"},
	{7, 5, "abm"},
	{7, 6, "sse4a"},
	{7, 7, "misalignsse"},
	{7, 8, "3dnowprefetch"},
	{7, 11, "xop"},
	{7, 16, "fma4"},
	{7, 21, "tbm"},

	{8, 11, "syscall"},
	{8, 22, "mmxext"},
	{8, 27, "rdtscp"},
	{8, 29, "lm"},
	{8, 30, "3dnowext"},
	{8, 31, "3dnow"},
};

static uint32_t x86_word_mask(size_t word)
{
	uint32_t m = 0;

	for (size_t i = 0; i < ARRAY_SIZE(x86_feature_bits); i++)
		if (x86_feature_bits[i].word == word)
			m |= 1U << x86_feature_bits[i].bit;
	return m;
}

static const char *x86_bit_name(size_t word, unsigned int bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(x86_feature_bits); i++)
		if (x86_feature_bits[i].word == word && x86_feature_bits[i].bit == bit)
			return x86_feature_bits[i].name;
	return NULL;
}

/* CPUID that answers zeros for a leaf above the maximum the CPU reports. */
static void x86_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	uint32_t max = __get_cpuid_max(leaf & 0x80000000U, NULL);

	r[0] = r[1] = r[2] = r[3] = 0;
	if (max < leaf)
		return;
	__cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
}

static uint64_t x86_xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static uint32_t x86_probe_mxcsr_mask(void)
{
	uint8_t area[X86_FXSAVE_SIZE] __attribute__((aligned(16))) = {};
	uint32_t mask;

	__asm__ volatile("fxsave64 %0" : "=m"(area));
	memcpy(&mask, area + X86_FXSAVE_MXCSR_MASK_OFF, sizeof(mask));
	/* Intel SDM vol. 1, 11.6.6: a zero MXCSR_MASK means the default mask 0xffbf. */
	return mask ? mask : 0xffbf;
}

static struct x86_host host;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void x86_host_probe(void)
{
	uint32_t r[4];
	uint16_t cs, ss;

	x86_cpuid(1, 0, r);
	host.osxsave = r[REG_ECX] & (1U << 27);
	if (host.osxsave) {
		host.xcr0 = x86_xgetbv0();
		x86_cpuid(0xd, 0, r);
		host.xsave_size = r[REG_EBX];
		/* Components 0 and 1 live in the legacy area; 2..62 have their own leaf 0xD.i. */
		for (unsigned int i = 2; i < 63; i++) {
			if (!(host.xcr0 & (1ULL << i)))
				continue;
			x86_cpuid(0xd, i, r);
			host.comp_size[i] = r[REG_EAX];
			host.comp_off[i] = r[REG_EBX];
		}
	}
	host.mxcsr_mask = x86_probe_mxcsr_mask();
	__asm__("mov %%cs, %0" : "=r"(cs));
	__asm__("mov %%ss, %0" : "=r"(ss));
	host.user_cs = cs;
	host.user_ss = ss;
}

const struct x86_host *x86_host(void)
{
	pthread_once(&host_once, x86_host_probe);
	return &host;
}

uint64_t arch_xfeatures(void)
{
	return x86_host()->xcr0;
}

static void x86_feature_words_read(uint32_t w[X86_NR_FEATURE_WORDS])
{
	uint32_t r[4];

	for (size_t i = 0; i < X86_NR_FEATURE_WORDS; i++) {
		const struct x86_feature_word *fw = &x86_feature_words[i];

		x86_cpuid(fw->leaf, fw->subleaf, r);
		/* Leaf 7 subleaf 1 exists only if leaf 7.0 EAX (the highest subleaf) says so. */
		if (fw->leaf == 7 && fw->subleaf > 0) {
			uint32_t r0[4];

			x86_cpuid(7, 0, r0);
			if (r0[REG_EAX] < fw->subleaf)
				r[fw->reg] = 0;
		}
		w[i] = r[fw->reg] & x86_word_mask(i);
	}
}

/* *ret is malloc'ed (free() it), *ret_n words in the order documented above. */
int arch_cpu_features(uint32_t **ret, size_t *ret_n)
{
	uint32_t *w = calloc(X86_NR_FEATURE_WORDS, sizeof(*w));

	if (!w)
		return -ENOMEM;
	x86_feature_words_read(w);
	*ret = w;
	*ret_n = X86_NR_FEATURE_WORDS;
	return 0;
}

/* Append to why at *pos, never past why_len; keeps a NUL at the end. */
static void _printf_(4, 5) why_append(char *why, size_t why_len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!why || *pos + 1 >= why_len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why + *pos, why_len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos = MIN(*pos + (size_t)n, why_len - 1);
}

static void x86_describe_missing(size_t word, uint32_t missing, char *why, size_t why_len, size_t *pos)
{
	bool first = true;

	why_append(why, why_len, pos, "%s bits %#x (", x86_feature_words[word].label, missing);
	for (unsigned int b = 0; b < 32; b++) {
		const char *name;

		if (!(missing & (1U << b)))
			continue;
		name = x86_bit_name(word, b);
		if (name)
			why_append(why, why_len, pos, "%s%s", first ? "" : " ", name);
		else
			why_append(why, why_len, pos, "%sbit%u", first ? "" : " ", b);
		first = false;
	}
	why_append(why, why_len, pos, ")");
}

static int x86_features_missing(const InventoryEntry *inv, char *why, size_t why_len)
{
	uint32_t host_w[X86_NR_FEATURE_WORDS];
	size_t pos = 0;
	bool any = false;

	x86_feature_words_read(host_w);
	for (size_t i = 0; i < inv->n_cpu_features; i++) {
		uint32_t missing;

		/* A word this version does not know: a newer image, cannot vouch for it. */
		if (i >= X86_NR_FEATURE_WORDS) {
			if (!inv->cpu_features[i])
				continue;
			return x86_why(why, why_len, -ENOEXEC,
				       "image records CPU feature word %zu (%#x) this version does not know",
				       i, inv->cpu_features[i]);
		}
		missing = inv->cpu_features[i] & x86_word_mask(i) & ~host_w[i];
		if (!missing)
			continue;
		why_append(why, why_len, &pos, "%s", any ? "; " : "CPU lacks features the image uses: ");
		x86_describe_missing(i, missing, why, why_len, &pos);
		any = true;
	}
	if (any) {
		pr_debug("x86_64: %s", why ? why : "CPU lacks features the image uses");
		return -ENOEXEC;
	}
	return 0;
}

int arch_cpu_compatible(const InventoryEntry *inv, char *why, size_t why_len)
{
	uint64_t xcr0 = x86_host()->xcr0;
	int r;

	if (why && why_len)
		why[0] = '\0';
	if (inv->arch != ARCH_KIND__X86_64)
		return x86_why(why, why_len, -ENOEXEC, "image is for architecture %d, this host is x86_64",
			       (int)inv->arch);
	r = x86_features_missing(inv, why, why_len);
	if (r < 0)
		return r;
	if (inv->has_xfeatures && (inv->xfeatures & ~xcr0))
		return x86_why(why, why_len, -ENOEXEC,
			       "image uses XSAVE features %#llx that this CPU/kernel has not enabled "
			       "(XCR0 %#llx)",
			       (unsigned long long)(inv->xfeatures & ~xcr0), (unsigned long long)xcr0);
	return 0;
}
