/* SPDX-License-Identifier: MIT */
/*
 * Parsers of /proc/PID files (proc(5)). The kernel writes this text, but a process can put
 * almost anything in the strings it controls (its name, its file names), and a file read
 * while the process changes can be cut short: every parser checks each field and returns
 * -EINVAL on text it does not understand.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "log.h"
#include "proc.h"

/* The longest path built here: "/proc/<int>/task/<int>/children" or ".../fdinfo/<int>". */
#define PROC_PATH_LEN (sizeof("/proc//task//children") + 2 * sizeof("-2147483648"))

/* Make room for one more element of arr (n used out of cap); 0 or -ENOMEM. */
#define ARRAY_GROW(arr, cap, n)                                                         \
	({                                                                              \
		int _r_ = 0;                                                            \
		if ((n) >= (cap)) {                                                     \
			size_t _c_ = (cap) ? (cap)*2 : 16;                              \
			__typeof__(arr) _a_ = reallocarray((arr), _c_, sizeof(*(arr))); \
			if (_a_) {                                                      \
				(arr) = _a_;                                            \
				(cap) = _c_;                                            \
			} else {                                                        \
				_r_ = -ENOMEM;                                          \
			}                                                               \
		}                                                                       \
		_r_;                                                                    \
	})

/* ---- tokens ---- */

/*
 * A number in base 8, 10 or 16, digits only. safe_atou64 alone would let strtoull skip a
 * leading tab or newline and take a "0x" prefix; /proc prints neither.
 */
static int parse_u64(const char *s, int base, uint64_t *ret)
{
	const char *digits = base == 8 ? "01234567" : base == 10 ? "0123456789" : "0123456789abcdefABCDEF";

	if (!*s || s[strspn(s, digits)] != '\0')
		return -EINVAL;
	if (safe_atou64(s, base, ret) < 0)
		return -EINVAL;
	return 0;
}

static int parse_u32(const char *s, int base, uint32_t *ret)
{
	uint64_t v;

	if (parse_u64(s, base, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* An optional '-' and decimal digits. */
static int parse_i32(const char *s, int32_t *ret)
{
	const char *d = *s == '-' ? s + 1 : s;

	if (!*d || d[strspn(d, "0123456789")] != '\0')
		return -EINVAL;
	if (safe_atoi32(s, ret) < 0)
		return -EINVAL;
	return 0;
}

/* A pid that may be 0 (PPid of init, NSpgid of a kernel thread). */
static int parse_pid0(const char *s, pid_t *ret)
{
	uint32_t v;

	if (parse_u32(s, 10, &v) < 0 || v > INT32_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

/* A real pid: > 0. */
static int parse_pid(const char *s, pid_t *ret)
{
	if (!*s || s[strspn(s, "0123456789")] != '\0')
		return -EINVAL;
	if (safe_atopid(s, ret) < 0)
		return -EINVAL;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return -EINVAL;
	*ret = s[0] == '1';
	return 0;
}

/* Next word of *p split on spaces and tabs, NUL-terminated in place; NULL when none is left. */
static char *next_word(char **p)
{
	char *s = *p + strspn(*p, " \t"), *e;

	if (!*s) {
		*p = s;
		return NULL;
	}
	e = s + strcspn(s, " \t");
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

/* The only word of s; NULL if there is none or more than one. */
static char *only_word(char *s)
{
	char *w = next_word(&s);

	if (!w || next_word(&s))
		return NULL;
	return w;
}

/*
 * A writable copy of a line-based file's text. The kernel ends every line with '\n': text
 * that does not was cut short, and its last line cannot be trusted.
 */
static int copy_lines(const char *buf, const char *what, char **ret)
{
	size_t len = strlen(buf);

	if (len == 0 || buf[len - 1] != '\n')
		return bad_input("%s: empty, or its last line is cut short", what);
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

/* Next line of *p without its '\n'; NULL at the end. Empty lines are skipped. */
static char *next_line(char **p)
{
	char *l;

	while ((l = strsep(p, "\n")))
		if (*l)
			return l;
	return NULL;
}

/* Split "Key:\tvalue" at its first ':'; returns the value (blanks kept), NULL without ':'. */
static char *split_key(char *line)
{
	char *c = strchr(line, ':');

	if (!c)
		return NULL;
	*c = '\0';
	return c + 1;
}

/* ---- reading files ---- */

/*
 * Read one /proc file. ENOENT means the process (or thread, or fd) is gone when the
 * directory holding the file is gone too: then -ESRCH. If the directory is still there the
 * file itself is missing (a closed fd, a kernel built without the file): -ENOENT.
 */
static int read_proc(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *dir = NULL;
	int r = read_file_at(AT_FDCWD, path, ret, ret_len);
	char *slash;

	if (r != -ENOENT)
		return r;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (faccessat(AT_FDCWD, dir, F_OK, 0) < 0 && errno == ENOENT)
		return -ESRCH;
	return -ENOENT;
}

static int read_pid_file(pid_t pid, const char *name, char **ret, size_t *ret_len)
{
	char path[PROC_PATH_LEN];

	if (pid <= 0)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "/proc/%d/%s", pid, name) >= sizeof(path))
		return -ENAMETOOLONG;
	return read_proc(path, ret, ret_len);
}

/* ---- smaps ---- */

static const struct {
	char code[3];
	uint32_t bit;
} vm_flags[] = {
	{"gd", VMA_MADV_GROWSDOWN}, {"lo", VMA_MADV_LOCKED},	 {"dc", VMA_MADV_DONTFORK},
	{"dd", VMA_MADV_DONTDUMP},  {"hg", VMA_MADV_HUGEPAGE},	 {"nh", VMA_MADV_NOHUGEPAGE},
	{"mg", VMA_MADV_MERGEABLE}, {"wf", VMA_MADV_WIPEONFORK}, {"io", VMA_MADV_IO},
	{"pf", VMA_MADV_PFNMAP},    {"sh", VMA_MADV_SHARED},
};

/* "hex-hex " starts a VMA; the "Key:" lines that follow one never do. */
static bool is_vma_header(const char *l)
{
	static const char hex[] = "0123456789abcdef";
	size_t a = strspn(l, hex), b;

	if (a == 0 || l[a] != '-')
		return false;
	b = strspn(l + a + 1, hex);
	return b > 0 && l[a + 1 + b] == ' ';
}

static int parse_perms(const char *w, struct proc_vma *v)
{
	if (strlen(w) != 4 || !strchr("r-", w[0]) || !strchr("w-", w[1]) || !strchr("x-", w[2]) ||
	    !strchr("ps", w[3]))
		return -EINVAL;
	v->prot = (w[0] == 'r' ? PROT_READ : 0) | (w[1] == 'w' ? PROT_WRITE : 0) |
		  (w[2] == 'x' ? PROT_EXEC : 0);
	v->shared = w[3] == 's';
	return 0;
}

/* The path column: everything after the inode's padding, " (deleted)" stripped. */
static int parse_vma_path(const char *p, struct proc_vma *v)
{
	static const char del[] = " (deleted)";
	size_t len;

	p += strspn(p, " ");
	len = strlen(p);
	if (len == 0)
		return 0;
	if (len > sizeof(del) - 1 && !strcmp(p + len - (sizeof(del) - 1), del)) {
		v->deleted = true;
		len -= sizeof(del) - 1;
	}
	v->path = strndup(p, len);
	return v->path ? 0 : -ENOMEM;
}

/* "start-end perms offset major:minor inode   path" (proc(5), /proc/pid/maps). */
static int parse_vma_header(char *line, struct proc_vma *v)
{
	char *p = line, *range, *perms, *off, *dev, *ino, *sep;

	range = next_word(&p);
	perms = next_word(&p);
	off = next_word(&p);
	dev = next_word(&p);
	ino = next_word(&p);
	if (!ino)
		return bad_input("smaps: VMA line cut short");
	sep = strchr(range, '-');
	*sep = '\0';
	if (parse_u64(range, 16, &v->start) < 0 || parse_u64(sep + 1, 16, &v->end) < 0 || v->start >= v->end)
		return bad_input("smaps: bad address range '%s-%s'", range, sep + 1);
	if (parse_perms(perms, v) < 0)
		return bad_input("smaps: bad permissions '%s'", perms);
	sep = strchr(dev, ':');
	if (!sep)
		return bad_input("smaps: bad device '%s'", dev);
	*sep = '\0';
	if (parse_u64(off, 16, &v->pgoff) < 0 || parse_u32(dev, 16, &v->dev_major) < 0 ||
	    parse_u32(sep + 1, 16, &v->dev_minor) < 0 || parse_u64(ino, 10, &v->ino) < 0)
		return bad_input("smaps: bad offset, device or inode in VMA %" PRIx64, v->start);
	return parse_vma_path(p, v);
}

static uint32_t parse_vm_flags(char *p)
{
	uint32_t madv = 0;
	char *w;

	while ((w = next_word(&p)))
		for (size_t i = 0; i < ARRAY_SIZE(vm_flags); i++)
			if (!strcmp(w, vm_flags[i].code))
				madv |= vm_flags[i].bit;
	return madv;
}

void proc_vmas_free(struct proc_vma *vmas, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(vmas[i].path);
	free(vmas);
}

struct vma_list {
	struct proc_vma *v;
	size_t n, cap;
};

static void vma_list_done(struct vma_list *l)
{
	proc_vmas_free(l->v, l->n);
}

/* An empty text is no VMA at all: a kernel thread or a zombie has no mm. */
int proc_parse_smaps_buf(const char *buf, struct proc_vma **ret, size_t *ret_n)
{
	_cleanup_(vma_list_done) struct vma_list l = {};
	_cleanup_free_ char *copy = NULL;
	char *p, *line;
	int r;

	if (*buf) {
		r = copy_lines(buf, "smaps", &copy);
		if (r < 0)
			return r;
	}
	p = copy;
	while (p && (line = next_line(&p))) {
		if (is_vma_header(line)) {
			r = ARRAY_GROW(l.v, l.cap, l.n);
			if (r < 0)
				return r;
			l.v[l.n] = (struct proc_vma){};
			r = parse_vma_header(line, &l.v[l.n]);
			if (r < 0) {
				free(l.v[l.n].path);
				return r;
			}
			l.n++;
		} else if (l.n == 0) {
			return bad_input("smaps: '%.80s' before the first VMA", line);
		} else if (!strncmp(line, "VmFlags:", 8)) {
			l.v[l.n - 1].madv = parse_vm_flags(line + 8);
		}
	}
	*ret_n = l.n;
	l.n = 0;
	*ret = TAKE_PTR(l.v);
	return 0;
}

int proc_parse_smaps(pid_t pid, struct proc_vma **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_pid_file(pid, "smaps", &buf, NULL);

	if (r < 0)
		return r;
	return proc_parse_smaps_buf(buf, ret, ret_n);
}

/* ---- status ---- */

enum status_kind {
	ST_PID,	    /* pid_t, may be 0 */
	ST_LASTPID, /* tab-separated pids, one per PID namespace: keep the innermost */
	ST_IDS,	    /* four uids or gids */
	ST_HEX64,
	ST_OCT32,
	ST_U32,
	ST_INT,
	ST_BOOL,
};

/* Keys parsed from a table; required ones are printed by every kernel config we support. */
static const struct status_field {
	const char *key;
	enum status_kind kind;
	size_t off;
	bool required;
} status_fields[] = {
	{"Umask", ST_OCT32, offsetof(struct proc_status, umask), false},
	{"Tgid", ST_PID, offsetof(struct proc_status, tgid), true},
	{"Pid", ST_PID, offsetof(struct proc_status, pid), true},
	{"PPid", ST_PID, offsetof(struct proc_status, ppid), true},
	{"NStgid", ST_LASTPID, offsetof(struct proc_status, ns_tgid), false},
	{"NSpid", ST_LASTPID, offsetof(struct proc_status, ns_pid), false},
	{"NSpgid", ST_LASTPID, offsetof(struct proc_status, ns_pgid), false},
	{"NSsid", ST_LASTPID, offsetof(struct proc_status, ns_sid), false},
	{"Uid", ST_IDS, offsetof(struct proc_status, uid), true},
	{"Gid", ST_IDS, offsetof(struct proc_status, gid), true},
	{"CapInh", ST_HEX64, offsetof(struct proc_status, cap_inh), true},
	{"CapPrm", ST_HEX64, offsetof(struct proc_status, cap_prm), true},
	{"CapEff", ST_HEX64, offsetof(struct proc_status, cap_eff), true},
	{"CapBnd", ST_HEX64, offsetof(struct proc_status, cap_bnd), true},
	{"CapAmb", ST_HEX64, offsetof(struct proc_status, cap_amb), false},
	{"NoNewPrivs", ST_BOOL, offsetof(struct proc_status, no_new_privs), false},
	{"Seccomp", ST_INT, offsetof(struct proc_status, seccomp), false},
	{"SigPnd", ST_HEX64, offsetof(struct proc_status, sig_pnd), true},
	{"ShdPnd", ST_HEX64, offsetof(struct proc_status, shd_pnd), true},
	{"SigBlk", ST_HEX64, offsetof(struct proc_status, sig_blk), true},
	{"SigIgn", ST_HEX64, offsetof(struct proc_status, sig_ign), true},
	{"SigCgt", ST_HEX64, offsetof(struct proc_status, sig_cgt), true},
	{"Threads", ST_U32, offsetof(struct proc_status, threads), true},
	{"Kthread", ST_BOOL, offsetof(struct proc_status, kthread), false},
};

static int parse_last_pid(char *p, pid_t *ret)
{
	char *w;
	int n = 0;

	while ((w = next_word(&p))) {
		if (parse_pid0(w, ret) < 0)
			return -EINVAL;
		n++;
	}
	return n > 0 ? 0 : -EINVAL;
}

static int parse_ids(char *p, uint32_t *ids)
{
	for (int i = 0; i < 4; i++) {
		char *w = next_word(&p);

		if (!w || parse_u32(w, 10, &ids[i]) < 0)
			return -EINVAL;
	}
	return next_word(&p) ? -EINVAL : 0;
}

static int parse_status_field(const struct status_field *f, char *val, struct proc_status *st)
{
	void *dst = (char *)st + f->off;
	char *w;

	switch (f->kind) {
	case ST_LASTPID:
		return parse_last_pid(val, dst);
	case ST_IDS:
		return parse_ids(val, dst);
	default:
		break;
	}
	w = only_word(val);
	if (!w)
		return -EINVAL;
	switch (f->kind) {
	case ST_PID:
		return parse_pid0(w, dst);
	case ST_HEX64:
		return strlen(w) == 16 ? parse_u64(w, 16, dst) : -EINVAL;
	case ST_OCT32:
		return parse_u32(w, 8, dst);
	case ST_U32:
		return parse_u32(w, 10, dst);
	case ST_INT:
		return parse_i32(w, dst);
	case ST_BOOL:
		return parse_bool(w, dst);
	default:
		return -EINVAL;
	}
}

static int parse_groups(char *p, struct proc_status *st)
{
	_cleanup_free_ uint32_t *g = NULL;
	size_t n = 0, cap = 0;
	char *w;

	while ((w = next_word(&p))) {
		if (ARRAY_GROW(g, cap, n) < 0)
			return -ENOMEM;
		if (parse_u32(w, 10, &g[n++]) < 0)
			return bad_input("status: bad group '%s'", w);
	}
	free(st->groups);
	st->groups = TAKE_PTR(g);
	st->ngroups = n;
	return 0;
}

/* "Name:\t" and the name as the kernel escaped it, kept as is (it may start with a blank). */
static int parse_name(const char *val, struct proc_status *st)
{
	if (*val == '\t')
		val++;
	free(st->name);
	st->name = strdup(val);
	return st->name ? 0 : -ENOMEM;
}

/* Lines of status parsed by hand. */
static const char *const status_special[] = {"Name", "State", "Groups"};
#define STATUS_SPECIAL_ALL ((1u << ARRAY_SIZE(status_special)) - 1)

static int parse_state(char *val, struct proc_status *st)
{
	/* "R (running)" */
	char *w = next_word(&val);

	if (!w || strlen(w) != 1 || !((*w >= 'A' && *w <= 'Z') || (*w >= 'a' && *w <= 'z')))
		return bad_input("status: bad State");
	st->state = *w;
	return 0;
}

static int parse_status_special(size_t i, char *val, struct proc_status *st)
{
	switch (i) {
	case 0:
		return parse_name(val, st);
	case 1:
		return parse_state(val, st);
	default:
		return parse_groups(val, st);
	}
}

/* Other keys (VmRSS, SigQ, Cpus_allowed, ...) are skipped. */
static int parse_status_line(char *line, struct proc_status *st, uint32_t *seen, uint32_t *seen_special)
{
	char *val = split_key(line);
	int r;

	if (!val)
		return bad_input("status: no ':' in '%.80s'", line);
	for (size_t i = 0; i < ARRAY_SIZE(status_fields); i++) {
		if (strcmp(line, status_fields[i].key))
			continue;
		if (parse_status_field(&status_fields[i], val, st) < 0)
			return bad_input("status: bad %s", line);
		*seen |= 1u << i;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(status_special); i++) {
		if (strcmp(line, status_special[i]))
			continue;
		r = parse_status_special(i, val, st);
		if (r < 0)
			return r;
		*seen_special |= 1u << i;
		return 0;
	}
	return 0;
}

static int status_check(uint32_t seen, uint32_t seen_special)
{
	if (seen_special != STATUS_SPECIAL_ALL)
		return bad_input("status: no Name, State or Groups");
	for (size_t i = 0; i < ARRAY_SIZE(status_fields); i++)
		if (status_fields[i].required && !(seen & (1u << i)))
			return bad_input("status: no %s", status_fields[i].key);
	return 0;
}

void proc_status_free(struct proc_status *st)
{
	if (!st)
		return;
	free(st->name);
	free(st->groups);
	*st = (struct proc_status){};
}

int proc_parse_status_buf(const char *buf, struct proc_status *ret)
{
	_cleanup_(proc_status_free) struct proc_status st = {.ns_tgid = -1, .ns_pid = -1};
	_cleanup_free_ char *copy = NULL;
	uint32_t seen = 0, seen_special = 0;
	char *p, *line;
	int r;

	r = copy_lines(buf, "status", &copy);
	if (r < 0)
		return r;
	p = copy;
	while ((line = next_line(&p))) {
		r = parse_status_line(line, &st, &seen, &seen_special);
		if (r < 0)
			return r;
	}
	r = status_check(seen, seen_special);
	if (r < 0)
		return r;
	/* Without CONFIG_PID_NS there is one namespace and no NS* lines. */
	if (st.ns_tgid < 0)
		st.ns_tgid = st.tgid;
	if (st.ns_pid < 0)
		st.ns_pid = st.pid;
	*ret = st;
	st = (struct proc_status){};
	return 0;
}

int proc_parse_status(pid_t pid, struct proc_status *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_pid_file(pid, "status", &buf, NULL);

	if (r < 0)
		return r;
	return proc_parse_status_buf(buf, ret);
}

/* ---- stat ---- */

/* Fields 3 (state) to 51 (env_end) of proc(5), the ones after "pid (comm)". */
#define STAT_FIRST   3
#define STAT_LAST    51
#define STAT_F(f, n) ((f)[(n)-STAT_FIRST])

static int stat_fields(char *p, char **f)
{
	for (int i = 0; i <= STAT_LAST - STAT_FIRST; i++) {
		f[i] = strsep(&p, " ");
		if (!f[i] || !*f[i])
			return bad_input("stat: field %d missing", i + STAT_FIRST);
	}
	return 0;
}

static int stat_u64s(char **f, struct proc_stat *st)
{
	static const struct {
		int field;
		size_t off;
	} u64s[] = {
		{22, offsetof(struct proc_stat, start_time)}, {26, offsetof(struct proc_stat, start_code)},
		{27, offsetof(struct proc_stat, end_code)},   {28, offsetof(struct proc_stat, start_stack)},
		{45, offsetof(struct proc_stat, start_data)}, {46, offsetof(struct proc_stat, end_data)},
		{47, offsetof(struct proc_stat, start_brk)},  {48, offsetof(struct proc_stat, arg_start)},
		{49, offsetof(struct proc_stat, arg_end)},    {50, offsetof(struct proc_stat, env_start)},
		{51, offsetof(struct proc_stat, env_end)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(u64s); i++)
		if (parse_u64(STAT_F(f, u64s[i].field), 10, (uint64_t *)((char *)st + u64s[i].off)) < 0)
			return bad_input("stat: bad field %d", u64s[i].field);
	return 0;
}

static int stat_parse_fields(char **f, struct proc_stat *st)
{
	const char *state = STAT_F(f, 3);

	if (strlen(state) != 1)
		return bad_input("stat: bad state '%s'", state);
	st->state = state[0];
	if (parse_pid0(STAT_F(f, 4), &st->ppid) < 0 || parse_pid0(STAT_F(f, 5), &st->pgrp) < 0 ||
	    parse_pid0(STAT_F(f, 6), &st->session) < 0 || parse_i32(STAT_F(f, 7), &st->tty_nr) < 0 ||
	    parse_u32(STAT_F(f, 9), 10, &st->flags) < 0 ||
	    parse_u32(STAT_F(f, 20), 10, &st->num_threads) < 0 ||
	    parse_i32(STAT_F(f, 38), &st->exit_signal) < 0)
		return bad_input("stat: bad ppid, pgrp, session, tty, flags, threads or exit signal");
	return stat_u64s(f, st);
}

int proc_parse_stat_buf(const char *buf, struct proc_stat *ret)
{
	_cleanup_free_ char *copy = NULL;
	char *f[STAT_LAST - STAT_FIRST + 1];
	struct proc_stat st = {};
	char *lpar, *rpar, *nl;
	pid_t pid;
	int r;

	copy = strdup(buf);
	if (!copy)
		return -ENOMEM;
	/* "pid (comm) state ...": comm may hold anything, even ") " and '\n', so use the last ')' */
	lpar = strchr(copy, '(');
	rpar = strrchr(copy, ')');
	if (!lpar || lpar == copy || lpar[-1] != ' ' || !rpar || rpar < lpar || rpar[1] != ' ')
		return bad_input("stat: no '(comm) '");
	lpar[-1] = '\0';
	if (parse_pid(copy, &pid) < 0)
		return bad_input("stat: bad pid '%.20s'", copy);
	nl = strchr(rpar + 2, '\n');
	if (!nl || nl[1])
		return bad_input("stat: not one line ending in a newline");
	*nl = '\0';
	r = stat_fields(rpar + 2, f);
	if (r < 0)
		return r;
	r = stat_parse_fields(f, &st);
	if (r < 0)
		return r;
	*ret = st;
	return 0;
}

int proc_parse_stat(pid_t pid, struct proc_stat *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_pid_file(pid, "stat", &buf, NULL);

	if (r < 0)
		return r;
	return proc_parse_stat_buf(buf, ret);
}

/* ---- limits ---- */

/* Row names of /proc/PID/limits (fs/proc/base.c lnames[]), by RLIMIT_* index. */
static const char *const limit_names[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "Max cpu time",
	[RLIMIT_FSIZE] = "Max file size",
	[RLIMIT_DATA] = "Max data size",
	[RLIMIT_STACK] = "Max stack size",
	[RLIMIT_CORE] = "Max core file size",
	[RLIMIT_RSS] = "Max resident set",
	[RLIMIT_NPROC] = "Max processes",
	[RLIMIT_NOFILE] = "Max open files",
	[RLIMIT_MEMLOCK] = "Max locked memory",
	[RLIMIT_AS] = "Max address space",
	[RLIMIT_LOCKS] = "Max file locks",
	[RLIMIT_SIGPENDING] = "Max pending signals",
	[RLIMIT_MSGQUEUE] = "Max msgqueue size",
	[RLIMIT_NICE] = "Max nice priority",
	[RLIMIT_RTPRIO] = "Max realtime priority",
	[RLIMIT_RTTIME] = "Max realtime timeout",
};

static int limit_index(const char *line)
{
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		size_t len = strlen(limit_names[i]);

		if (!strncmp(line, limit_names[i], len) && line[len] == ' ')
			return i;
	}
	return -1;
}

static int parse_rlim(const char *w, rlim_t *ret)
{
	uint64_t v;

	if (!strcmp(w, "unlimited")) {
		*ret = RLIM_INFINITY;
		return 0;
	}
	if (parse_u64(w, 10, &v) < 0)
		return -EINVAL;
	*ret = (rlim_t)v;
	return 0;
}

/* "Max open files            1024                 4096                 files     " */
static int parse_limit_row(char *line, struct rlimit *rl, uint32_t *seen)
{
	int i = limit_index(line);
	char *p, *soft, *hard;

	if (i < 0) {
		pr_debug("limits: skipping unknown row '%.80s'", line);
		return 0;
	}
	if (*seen & (1u << i))
		return bad_input("limits: '%s' twice", limit_names[i]);
	p = line + strlen(limit_names[i]);
	soft = next_word(&p);
	hard = next_word(&p);
	if (!hard || parse_rlim(soft, &rl[i].rlim_cur) < 0 || parse_rlim(hard, &rl[i].rlim_max) < 0)
		return bad_input("limits: bad values for '%s'", limit_names[i]);
	*seen |= 1u << i;
	return 0;
}

int proc_parse_limits_buf(const char *buf, struct rlimit *rl)
{
	_cleanup_free_ char *copy = NULL;
	struct rlimit out[RLIM_NLIMITS] = {};
	uint32_t seen = 0;
	char *p, *line;
	int r;

	r = copy_lines(buf, "limits", &copy);
	if (r < 0)
		return r;
	p = copy;
	line = next_line(&p);
	if (!line || strncmp(line, "Limit ", 6))
		return bad_input("limits: no header line");
	while ((line = next_line(&p))) {
		r = parse_limit_row(line, out, &seen);
		if (r < 0)
			return r;
	}
	if (seen != (1u << RLIM_NLIMITS) - 1)
		return bad_input("limits: rows missing (have %#x)", seen);
	memcpy(rl, out, sizeof(out));
	return 0;
}

int proc_parse_limits(pid_t pid, struct rlimit *rl)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_pid_file(pid, "limits", &buf, NULL);

	if (r < 0)
		return r;
	return proc_parse_limits_buf(buf, rl);
}

/* ---- fdinfo ---- */

enum { FDI_POS = 1, FDI_FLAGS = 2, FDI_MNT = 4, FDI_INO = 8 };

static int parse_fdinfo_line(char *line, struct proc_fdinfo *fi, unsigned *seen)
{
	char *val = split_key(line), *w;
	int32_t mnt;

	if (!val)
		return 0;
	if (strcmp(line, "pos") && strcmp(line, "flags") && strcmp(line, "mnt_id") && strcmp(line, "ino"))
		return 0; /* eventfd-count:, tfd:, lock:, ... belong to other parsers */
	w = only_word(val);
	if (!w)
		return bad_input("fdinfo: bad %s", line);
	if (!strcmp(line, "pos")) {
		*seen |= FDI_POS;
		return parse_u64(w, 10, &fi->pos) < 0 ? bad_input("fdinfo: bad pos '%s'", w) : 0;
	}
	if (!strcmp(line, "flags")) {
		*seen |= FDI_FLAGS;
		return parse_u32(w, 8, &fi->flags) < 0 ? bad_input("fdinfo: bad flags '%s'", w) : 0;
	}
	if (!strcmp(line, "ino")) {
		*seen |= FDI_INO;
		return parse_u64(w, 10, &fi->ino) < 0 ? bad_input("fdinfo: bad ino '%s'", w) : 0;
	}
	*seen |= FDI_MNT;
	if (parse_i32(w, &mnt) < 0 || mnt < 0)
		return bad_input("fdinfo: bad mnt_id '%s'", w);
	fi->mnt_id = mnt;
	return 0;
}

/* pos, flags and mnt_id are required; ino is there since Linux 5.14 and is 0 without it. */
int proc_parse_fdinfo_buf(const char *buf, struct proc_fdinfo *ret)
{
	_cleanup_free_ char *copy = NULL;
	struct proc_fdinfo fi = {};
	unsigned seen = 0;
	char *p, *line;
	int r;

	r = copy_lines(buf, "fdinfo", &copy);
	if (r < 0)
		return r;
	p = copy;
	while ((line = next_line(&p))) {
		r = parse_fdinfo_line(line, &fi, &seen);
		if (r < 0)
			return r;
	}
	if ((seen & (FDI_POS | FDI_FLAGS | FDI_MNT)) != (FDI_POS | FDI_FLAGS | FDI_MNT))
		return bad_input("fdinfo: no pos, flags or mnt_id");
	*ret = fi;
	return 0;
}

int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *ret)
{
	_cleanup_free_ char *buf = NULL;
	char path[PROC_PATH_LEN];
	int r;

	if (pid <= 0 || fd < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	r = read_proc(path, &buf, NULL);
	if (r < 0)
		return r;
	return proc_parse_fdinfo_buf(buf, ret);
}

/* ---- timers ---- */

enum { TM_ID = 1, TM_SIGNAL = 2, TM_NOTIFY = 4, TM_CLOCK = 8, TM_ALL = 15 };

/* "14/00007ffd12345678": signal number and sigev_value (printed with %px). */
static int parse_timer_signal(char *val, struct proc_timer *t)
{
	char *w = only_word(val), *slash;

	if (!w || !(slash = strchr(w, '/')))
		return -EINVAL;
	*slash = '\0';
	if (parse_i32(w, &t->signo) < 0 || t->signo < 0 || t->signo > 64)
		return -EINVAL;
	/* Kernels before 4.15 printed it with %p, which shows NULL as "(null)". */
	if (!strcmp(slash + 1, "(null)")) {
		t->sigval = 0;
		return 0;
	}
	return parse_u64(slash + 1, 16, &t->sigval);
}

/*
 * "signal/pid.123": the kernel prints the kind of it_sigev_notify without SIGEV_THREAD_ID
 * (signal, none or thread), then "tid" if SIGEV_THREAD_ID is set, else "pid". It accepts
 * only SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD (raw syscall only: glibc turns SIGEV_THREAD
 * into SIGEV_THREAD_ID to its helper thread) and SIGEV_SIGNAL|SIGEV_THREAD_ID, so
 * "none/tid" and "thread/tid" never appear.
 */
static int parse_timer_notify(char *val, struct proc_timer *t)
{
	char *w = only_word(val), *slash, *dot;

	if (!w || !(slash = strchr(w, '/')) || !(dot = strchr(slash, '.')))
		return -EINVAL;
	*slash = *dot = '\0';
	if (!strcmp(slash + 1, "tid")) {
		if (strcmp(w, "signal"))
			return -EINVAL;
		t->notify = SIGEV_THREAD_ID;
	} else if (!strcmp(slash + 1, "pid")) {
		if (!strcmp(w, "signal"))
			t->notify = SIGEV_SIGNAL;
		else if (!strcmp(w, "none"))
			t->notify = SIGEV_NONE;
		else if (!strcmp(w, "thread"))
			t->notify = SIGEV_THREAD;
		else
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return parse_pid0(dot + 1, &t->notify_tid);
}

static int parse_timer_value(const char *key, char *val, struct proc_timer *t, unsigned *have)
{
	char *w;

	if (!strcmp(key, "signal")) {
		*have |= TM_SIGNAL;
		return parse_timer_signal(val, t);
	}
	if (!strcmp(key, "notify")) {
		*have |= TM_NOTIFY;
		return parse_timer_notify(val, t);
	}
	if (!strcmp(key, "ClockID")) {
		*have |= TM_CLOCK;
		w = only_word(val);
		return w ? parse_i32(w, &t->clockid) : -EINVAL;
	}
	return 0;
}

struct timer_list {
	struct proc_timer *t;
	size_t n, cap;
	unsigned have; /* TM_* of t[n], the block being read */
};

/* Close the block being read, if any: it must be whole. */
static int timer_block_end(struct timer_list *l)
{
	if (!l->have)
		return 0;
	if (l->have != TM_ALL)
		return bad_input("timers: timer %d incomplete", l->t[l->n].id);
	l->n++;
	l->have = 0;
	return 0;
}

static int parse_timer_line(char *line, struct timer_list *l)
{
	char *val = split_key(line), *w;
	int r;

	if (!val)
		return bad_input("timers: no ':' in '%.80s'", line);
	if (!strcmp(line, "ID")) {
		r = timer_block_end(l);
		if (r < 0)
			return r;
		r = ARRAY_GROW(l->t, l->cap, l->n);
		if (r < 0)
			return r;
		l->t[l->n] = (struct proc_timer){};
		w = only_word(val);
		if (!w || parse_i32(w, &l->t[l->n].id) < 0 || l->t[l->n].id < 0)
			return bad_input("timers: bad ID");
		l->have = TM_ID;
		return 0;
	}
	if (!l->have)
		return bad_input("timers: '%s' before an ID", line);
	if (parse_timer_value(line, val, &l->t[l->n], &l->have) < 0)
		return bad_input("timers: bad %s in timer %d", line, l->t[l->n].id);
	return 0;
}

/* An empty text is no timer. */
int proc_parse_timers_buf(const char *buf, struct proc_timer **ret, size_t *ret_n)
{
	struct timer_list l = {};
	_cleanup_free_ char *copy = NULL;
	char *p, *line;
	int r = 0;

	if (*buf) {
		r = copy_lines(buf, "timers", &copy);
		if (r < 0)
			return r;
	}
	p = copy;
	while (p && (line = next_line(&p))) {
		r = parse_timer_line(line, &l);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = timer_block_end(&l);
	if (r < 0) {
		free(l.t);
		return r;
	}
	*ret = l.t;
	*ret_n = l.n;
	return 0;
}

int proc_parse_timers(pid_t pid, struct proc_timer **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_pid_file(pid, "timers", &buf, NULL);

	if (r < 0)
		return r;
	return proc_parse_timers_buf(buf, ret, ret_n);
}

/* ---- auxv ---- */

/* The kernel copies saved_auxv up to and including the AT_NULL pair; a kernel thread has none. */
int proc_read_auxv(pid_t pid, uint64_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t *words;
	size_t len, n;
	int r = read_pid_file(pid, "auxv", &buf, &len);

	if (r < 0)
		return r;
	if (len % 16)
		return bad_input("auxv of pid %d: %zu bytes, not pairs of 64-bit words", pid, len);
	n = len / 8;
	words = malloc(len ? len : 1);
	if (!words)
		return -ENOMEM;
	memcpy(words, buf, len);
	if (n && words[n - 2] != 0) {
		free(words);
		return bad_input("auxv of pid %d: no AT_NULL at the end", pid);
	}
	*ret = words;
	*ret_n = n;
	return 0;
}

/* ---- directories and pid lists ---- */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * Entries of a /proc directory whose names are numbers (tids, fds), sorted. A missing
 * directory means the process is gone. When a process lists its own /proc/self/fd, the
 * directory's own fd is in the list.
 */
static int list_dir_numbers(const char *path, int **ret, size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ int *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = -errno;

		close(fd);
		return e;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		pid_t x;

		if (de->d_name[0] == '.')
			continue;
		if (parse_pid0(de->d_name, &x) < 0)
			return bad_input("'%s': entry '%.40s' is not a number", path, de->d_name);
		if (ARRAY_GROW(v, cap, n) < 0)
			return -ENOMEM;
		v[n++] = x;
	}
	if (errno)
		return errno == ENOENT ? -ESRCH : -errno;
	qsort(v, n, sizeof(*v), cmp_int);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int proc_list_tasks(pid_t pid, pid_t **ret, size_t *ret_n)
{
	char path[PROC_PATH_LEN];
	pid_t *v;
	size_t n;
	int r;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	r = list_dir_numbers(path, &v, &n);
	if (r < 0)
		return r;
	/* The leader first, the others still in order. */
	for (size_t i = 0; i < n; i++) {
		if (v[i] != pid)
			continue;
		memmove(v + 1, v, i * sizeof(*v));
		v[0] = pid;
		break;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int proc_list_fds(pid_t pid, int **ret, size_t *ret_n)
{
	char path[PROC_PATH_LEN];

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	return list_dir_numbers(path, ret, ret_n);
}

/* "12 34 56 " as /proc/PID/task/TID/children prints it; blanks and newlines separate. */
int proc_parse_pid_list(const char *buf, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *copy = strdup(buf);
	_cleanup_free_ pid_t *v = NULL;
	size_t n = 0, cap = 0;
	char *p = copy, *w;

	if (!copy)
		return -ENOMEM;
	while ((w = strsep(&p, " \t\n"))) {
		if (!*w)
			continue;
		if (ARRAY_GROW(v, cap, n) < 0)
			return -ENOMEM;
		if (parse_pid(w, &v[n++]) < 0)
			return bad_input("pid list: bad pid '%.20s'", w);
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

/* ENOENT: -ESRCH if the thread is gone, -ENOENT if the kernel lacks CONFIG_PROC_CHILDREN. */
int proc_list_children(pid_t pid, pid_t tid, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	char path[PROC_PATH_LEN];
	int r;

	if (pid <= 0 || tid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
	r = read_proc(path, &buf, NULL);
	if (r < 0)
		return r;
	return proc_parse_pid_list(buf, ret, ret_n);
}
