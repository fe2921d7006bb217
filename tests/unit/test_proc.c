/* SPDX-License-Identifier: MIT */
/* Unit tests of core/proc.c: fixtures in the format of Linux 6.18, garbage, and live /proc/self. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "ckpt.h"
#include "proc.h"
#include "util.h"

/* ---- smaps ---- */

static const char smaps_fixture[] =
	"55f2e0fb3000-55f2e0fb8000 r-xp 00002000 fe:00 248056                     /usr/bin/sleep\n"
	"Size:                 20 kB\n"
	"KernelPageSize:        4 kB\n"
	"Rss:                  20 kB\n"
	"VmFlags: rd ex mr mw me \n"
	"55f2fedfb000-55f2fee1c000 rw-p 00000000 00:00 0                          [heap]\n"
	"Size:                132 kB\n"
	"THPeligible:           0\n"
	"VmFlags: rd wr mr mw me ac \n"
	"7fccf0f13000-7fccf0f16000 rw-p 00000000 00:00 0 \n"
	"Size:                 12 kB\n"
	"VmFlags: rd wr mr mw me ac dd wf \n"
	"7fccf1100000-7fccf1200000 rw-s 0001a000 103:02 1234567                    /tmp/my data file "
	"(deleted)\n"
	"Size:               1024 kB\n"
	"VmFlags: rd wr sh mr mw me ms lo dc \n"
	"7fe1270b2000-7fe1270b4000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
	"VmFlags: rd mr pf io de dd \n"
	"7fe1270b4000-7fe1270b6000 r-xp 00000000 00:00 0                          [anon:my name]\n"
	"VmFlags: rd ex mr mw me hg nh mg \n"
	"7ffe5b844000-7ffe5b865000 rw-p 00000000 00:00 0                          [stack]\n"
	"Size:                132 kB\n"
	"VmFlags: rd wr mr mw me gd ac \n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
	"Size:                  4 kB\n"
	"VmFlags: ex \n";

static void test_smaps_fixture(void **state)
{
	struct proc_vma *v;
	size_t n;

	assert_int_equal(proc_parse_smaps_buf(smaps_fixture, &v, &n), 0);
	assert_int_equal(n, 8);

	assert_int_equal(v[0].start, 0x55f2e0fb3000ull);
	assert_int_equal(v[0].end, 0x55f2e0fb8000ull);
	assert_int_equal(v[0].pgoff, 0x2000);
	assert_int_equal(v[0].prot, PROT_READ | PROT_EXEC);
	assert_false(v[0].shared);
	assert_int_equal(v[0].dev_major, 0xfe);
	assert_int_equal(v[0].dev_minor, 0);
	assert_int_equal(v[0].ino, 248056);
	assert_string_equal(v[0].path, "/usr/bin/sleep");
	assert_false(v[0].deleted);
	assert_int_equal(v[0].madv, 0);

	assert_string_equal(v[1].path, "[heap]");
	assert_int_equal(v[1].prot, PROT_READ | PROT_WRITE);

	assert_null(v[2].path);
	assert_int_equal(v[2].madv, VMA_MADV_DONTDUMP | VMA_MADV_WIPEONFORK);

	assert_true(v[3].shared);
	assert_int_equal(v[3].pgoff, 0x1a000);
	assert_int_equal(v[3].dev_major, 0x103);
	assert_int_equal(v[3].dev_minor, 2);
	assert_int_equal(v[3].ino, 1234567);
	assert_string_equal(v[3].path, "/tmp/my data file");
	assert_true(v[3].deleted);
	assert_int_equal(v[3].madv, VMA_MADV_SHARED | VMA_MADV_LOCKED | VMA_MADV_DONTFORK);

	assert_string_equal(v[4].path, "[vvar_vclock]");
	assert_int_equal(v[4].prot, PROT_READ);
	assert_int_equal(v[4].madv, VMA_MADV_PFNMAP | VMA_MADV_IO | VMA_MADV_DONTDUMP);

	assert_string_equal(v[5].path, "[anon:my name]");
	assert_int_equal(v[5].madv, VMA_MADV_HUGEPAGE | VMA_MADV_NOHUGEPAGE | VMA_MADV_MERGEABLE);

	assert_string_equal(v[6].path, "[stack]");
	assert_int_equal(v[6].madv, VMA_MADV_GROWSDOWN);

	assert_int_equal(v[7].start, 0xffffffffff600000ull);
	assert_int_equal(v[7].prot, PROT_EXEC);
	assert_string_equal(v[7].path, "[vsyscall]");
	proc_vmas_free(v, n);
}

/* A kernel thread or a zombie has an empty smaps: no VMA, not an error. */
static void test_smaps_empty(void **state)
{
	struct proc_vma *v = (void *)1;
	size_t n = 99;

	assert_int_equal(proc_parse_smaps_buf("", &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	proc_vmas_free(v, n);
}

/* A file named " (deleted)" alone, a path ending in spaces, "(deleted)" inside a name. */
static void test_smaps_odd_paths(void **state)
{
	static const char buf[] = "1000-2000 r--p 00000000 08:01 12  /a (deleted) b\n"
				  "2000-3000 r--p 00000000 08:01 13  /x  \n"
				  "3000-4000 r--p 00000000 08:01 14  /memfd:x (deleted)\n";
	struct proc_vma *v;
	size_t n;

	assert_int_equal(proc_parse_smaps_buf(buf, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].path, "/a (deleted) b");
	assert_false(v[0].deleted);
	assert_string_equal(v[1].path, "/x  ");
	assert_string_equal(v[2].path, "/memfd:x");
	assert_true(v[2].deleted);
	proc_vmas_free(v, n);
}

static void test_smaps_garbage(void **state)
{
	static const char *const bad[] = {
		"Size: 4 kB\n",						   /* no VMA first */
		"1000-2000 r--p 00000000 08:01\n",			   /* no inode */
		"1000-2000 r--p 00000000 08:01 12 /x",			   /* no final newline */
		"1000-2000 rw-p 0000zz00 08:01 12 /x\n",		   /* offset */
		"1000-2000 rwxq 00000000 08:01 12 /x\n",		   /* perms */
		"1000-2000 rw 00000000 08:01 12 /x\n",			   /* perms */
		"2000-1000 r--p 00000000 08:01 12 /x\n",		   /* start > end */
		"1000-1000 r--p 00000000 08:01 12 /x\n",		   /* empty */
		"1000-2000 r--p 00000000 0801 12 /x\n",			   /* device */
		"1000-2000 r--p 00000000 08:01 1x2 /x\n",		   /* inode */
		"1000-2000 r--p 00000000 08:01 -1 /x\n",		   /* inode */
		"1000-2000 r--p 00000000 08:01 99999999999999999999 /x\n", /* inode overflow */
		"1000-12345678901234567 r--p 00000000 08:01 1 /x\n",	   /* end overflow */
		"1000-2000 r--p 0x000000 08:01 1 /x\n",			   /* 0x prefix */
		"1000-2000 r--p 00000000 08:1ffffffff 1 /x\n",		   /* minor too large */
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct proc_vma *v = NULL;
		size_t n = 0;

		assert_int_equal(proc_parse_smaps_buf(bad[i], &v, &n), -EINVAL);
	}
}

static void test_smaps_live(void **state)
{
	struct proc_vma *v;
	size_t n;
	volatile int local = 1;
	uint64_t addr_local = (uintptr_t)&local, addr_code = (uintptr_t)&test_smaps_live;
	bool found_stack = false, found_code = false;
	_cleanup_free_ char *exe = NULL;

	assert_int_equal(readlink_malloc(AT_FDCWD, "/proc/self/exe", &exe), 0);
	assert_int_equal(proc_parse_smaps(getpid(), &v, &n), 0);
	assert_true(n > 5);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(v[i].start >= v[i - 1].end);
		if (addr_local >= v[i].start && addr_local < v[i].end) {
			assert_string_equal(v[i].path, "[stack]");
			assert_int_equal(v[i].prot, PROT_READ | PROT_WRITE);
			assert_true(v[i].madv & VMA_MADV_GROWSDOWN);
			found_stack = true;
		}
		if (addr_code >= v[i].start && addr_code < v[i].end) {
			assert_int_equal(v[i].prot, PROT_READ | PROT_EXEC);
			assert_false(v[i].shared);
			assert_string_equal(v[i].path, exe);
			assert_true(v[i].ino > 0);
			found_code = true;
		}
	}
	assert_true(found_stack);
	assert_true(found_code);
	proc_vmas_free(v, n);
}

/* ---- status ---- */

static const char status_fixture[] = "Name:\ta) b (c\n"
				     "Umask:\t0027\n"
				     "State:\tS (sleeping)\n"
				     "Tgid:\t5266\n"
				     "Ngid:\t0\n"
				     "Pid:\t5267\n"
				     "PPid:\t5264\n"
				     "TracerPid:\t0\n"
				     "Uid:\t1000\t1001\t1002\t1003\n"
				     "Gid:\t100\t101\t102\t103\n"
				     "FDSize:\t256\n"
				     "Groups:\t4 24 27 4294967294 \n"
				     "NStgid:\t5266\t12\t1\n"
				     "NSpid:\t5267\t13\t2\n"
				     "NSpgid:\t5264\t10\t1\n"
				     "NSsid:\t3083\t9\t1\n"
				     "Kthread:\t0\n"
				     "VmPeak:\t    3060 kB\n"
				     "VmRSS:\t    1732 kB\n"
				     "untag_mask:\t0xffffffffffffffff\n"
				     "Threads:\t2\n"
				     "SigQ:\t0/96364\n"
				     "SigPnd:\t0000000000000100\n"
				     "ShdPnd:\t0000000000004000\n"
				     "SigBlk:\t0000000000010000\n"
				     "SigIgn:\t0000000000001000\n"
				     "SigCgt:\t0000000180004002\n"
				     "CapInh:\t0000000000000000\n"
				     "CapPrm:\t000001fffeffffff\n"
				     "CapEff:\t000001fffeffffff\n"
				     "CapBnd:\t000001ffffffffff\n"
				     "CapAmb:\t0000000000000001\n"
				     "NoNewPrivs:\t1\n"
				     "Seccomp:\t2\n"
				     "Seccomp_filters:\t1\n"
				     "Speculation_Store_Bypass:\tvulnerable\n"
				     "SpeculationIndirectBranch:\talways enabled\n"
				     "Cpus_allowed:\t3\n"
				     "Cpus_allowed_list:\t0-1\n"
				     "Mems_allowed_list:\t0\n"
				     "voluntary_ctxt_switches:\t1\n"
				     "nonvoluntary_ctxt_switches:\t0\n";

static void test_status_fixture(void **state)
{
	struct proc_status st;

	assert_int_equal(proc_parse_status_buf(status_fixture, &st), 0);
	assert_string_equal(st.name, "a) b (c");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.umask, 027);
	assert_int_equal(st.tgid, 5266);
	assert_int_equal(st.pid, 5267);
	assert_int_equal(st.ppid, 5264);
	assert_int_equal(st.ns_tgid, 1);
	assert_int_equal(st.ns_pid, 2);
	assert_int_equal(st.ns_pgid, 1);
	assert_int_equal(st.ns_sid, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(st.uid[i], 1000 + i);
		assert_int_equal(st.gid[i], 100 + i);
	}
	assert_int_equal(st.ngroups, 4);
	assert_int_equal(st.groups[0], 4);
	assert_int_equal(st.groups[3], 4294967294u);
	assert_int_equal(st.cap_inh, 0);
	assert_int_equal(st.cap_prm, 0x1fffeffffffull);
	assert_int_equal(st.cap_eff, 0x1fffeffffffull);
	assert_int_equal(st.cap_bnd, 0x1ffffffffffull);
	assert_int_equal(st.cap_amb, 1);
	assert_true(st.no_new_privs);
	assert_int_equal(st.seccomp, 2);
	assert_int_equal(st.sig_pnd, 0x100);
	assert_int_equal(st.shd_pnd, 0x4000);
	assert_int_equal(st.sig_blk, 0x10000);
	assert_int_equal(st.sig_ign, 0x1000);
	assert_int_equal(st.sig_cgt, 0x180004002ull);
	assert_int_equal(st.threads, 2);
	assert_false(st.kthread);
	proc_status_free(&st);
	assert_null(st.name);
	assert_null(st.groups);
}

/* kthreadd as Linux 6.18 shows it, less Umask (older kernels leave it out for kernel threads). */
static const char status_kthread[] = "Name:\tkthreadd\n"
				     "State:\tS (sleeping)\n"
				     "Tgid:\t2\n"
				     "Ngid:\t0\n"
				     "Pid:\t2\n"
				     "PPid:\t0\n"
				     "TracerPid:\t0\n"
				     "Uid:\t0\t0\t0\t0\n"
				     "Gid:\t0\t0\t0\t0\n"
				     "FDSize:\t64\n"
				     "Groups:\t \n"
				     "NStgid:\t2\n"
				     "NSpid:\t2\n"
				     "NSpgid:\t0\n"
				     "NSsid:\t0\n"
				     "Kthread:\t1\n"
				     "Threads:\t1\n"
				     "SigQ:\t0/96364\n"
				     "SigPnd:\t0000000000000000\n"
				     "ShdPnd:\t0000000000000000\n"
				     "SigBlk:\t0000000000000000\n"
				     "SigIgn:\tffffffffffffffff\n"
				     "SigCgt:\t0000000000000000\n"
				     "CapInh:\t0000000000000000\n"
				     "CapPrm:\t000001ffffffffff\n"
				     "CapEff:\t000001ffffffffff\n"
				     "CapBnd:\t000001ffffffffff\n"
				     "CapAmb:\t0000000000000000\n"
				     "NoNewPrivs:\t0\n"
				     "Seccomp:\t0\n"
				     "Seccomp_filters:\t0\n"
				     "voluntary_ctxt_switches:\t58\n"
				     "nonvoluntary_ctxt_switches:\t0\n";

static void test_status_kthread(void **state)
{
	struct proc_status st;

	assert_int_equal(proc_parse_status_buf(status_kthread, &st), 0);
	assert_string_equal(st.name, "kthreadd");
	assert_true(st.kthread);
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.ns_pgid, 0);
	assert_int_equal(st.umask, 0);
	assert_int_equal(st.ngroups, 0);
	assert_int_equal(st.sig_ign, UINT64_MAX);
	proc_status_free(&st);
}

/* Replace the first line starting with key by repl ("" drops it). */
static char *status_with(const char *key, const char *repl)
{
	const char *at = strstr(status_fixture, key), *eol = strchr(at, '\n') + 1;
	char *s = NULL;

	assert_true(asprintf(&s, "%.*s%s%s", (int)(at - status_fixture), status_fixture, repl, eol) >= 0);
	return s;
}

static void test_status_garbage(void **state)
{
	static const char *const edits[][2] = {
		{"Pid:", "Pid:\t12x\n"},
		{"Pid:", "Pid:\t\n"},
		{"Pid:", "Pid:\t-1\n"},
		{"Pid:", "Pid:\t2147483648\n"},
		{"Pid:", "Pid:\t1 2\n"},
		{"Pid:", ""},
		{"Name:", ""},
		{"State:", "State:\n"},
		{"State:", "State:\t(sleeping)\n"},
		{"Uid:", "Uid:\t0\t0\t0\n"},
		{"Uid:", "Uid:\t0\t0\t0\t0\t0\n"},
		{"Gid:", "Gid:\t0\t0\tx\t0\n"},
		{"Groups:", "Groups:\t1 two\n"},
		{"Groups:", ""},
		{"NSpid:", "NSpid:\t\n"},
		{"NSpid:", "NSpid:\t1\tx\n"},
		{"CapEff:", "CapEff:\t000001fffeffffffff\n"},
		{"CapEff:", "CapEff:\t00000zfffeffffff\n"},
		{"CapEff:", ""},
		{"SigBlk:", "SigBlk:\t0x00000000000000\n"},
		{"Umask:", "Umask:\t0089\n"},
		{"NoNewPrivs:", "NoNewPrivs:\t2\n"},
		{"Threads:", "Threads:\t4294967296\n"},
		{"TracerPid:", "TracerPid 0\n"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
		_cleanup_free_ char *s = status_with(edits[i][0], edits[i][1]);
		struct proc_status st = {};

		if (proc_parse_status_buf(s, &st) != -EINVAL)
			fail_msg("edit %zu (%s) parsed", i, edits[i][1]);
		assert_null(st.name);
	}
}

static void test_status_truncated(void **state)
{
	struct proc_status st = {};
	_cleanup_free_ char *s =
		strndup(status_fixture, strstr(status_fixture, "CapPrm:") - status_fixture + 12);

	assert_int_equal(proc_parse_status_buf("", &st), -EINVAL);
	assert_int_equal(proc_parse_status_buf("\n", &st), -EINVAL);
	assert_int_equal(proc_parse_status_buf("garbage", &st), -EINVAL);
	assert_int_equal(proc_parse_status_buf(s, &st), -EINVAL);
	assert_int_equal(proc_parse_status_buf(status_kthread + 1, &st), -EINVAL);
}

static void test_status_live(void **state)
{
	struct proc_status st;
	gid_t groups[256];
	int ng = getgroups(ARRAY_SIZE(groups), groups);

	assert_int_equal(proc_parse_status(getpid(), &st), 0);
	assert_int_equal(st.ns_pid, getpid());
	assert_int_equal(st.ns_tgid, getpid());
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.uid[0], getuid());
	assert_int_equal(st.uid[1], geteuid());
	assert_int_equal(st.gid[0], getgid());
	assert_int_equal(st.ngroups, ng);
	assert_int_equal(st.state, 'R');
	assert_false(st.kthread);
	assert_int_equal(st.threads, 1);
	proc_status_free(&st);
}

/* ---- stat ---- */

static const char stat_fixture[] =
	"5267 (a) b (c) R 5264 5263 3083 34816 -1 4194304 100 0 0 0 0 0 0 0 20 0 3 0 66093 3133440 386 "
	"18446744073709551615 93898192494592 93898192514473 140726473374624 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
	"93898192530480 93898192532096 93899249483776 140726473378245 140726473378265 140726473378265 "
	"140726473379819 0\n";

static void test_stat_fixture(void **state)
{
	struct proc_stat st;

	assert_int_equal(proc_parse_stat_buf(stat_fixture, &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 5264);
	assert_int_equal(st.pgrp, 5263);
	assert_int_equal(st.session, 3083);
	assert_int_equal(st.tty_nr, 34816);
	assert_int_equal(st.flags, 4194304);
	assert_int_equal(st.num_threads, 3);
	assert_int_equal(st.start_time, 66093);
	assert_int_equal(st.start_code, 93898192494592ull);
	assert_int_equal(st.end_code, 93898192514473ull);
	assert_int_equal(st.start_stack, 140726473374624ull);
	assert_int_equal(st.exit_signal, 17);
	assert_int_equal(st.start_data, 93898192530480ull);
	assert_int_equal(st.end_data, 93898192532096ull);
	assert_int_equal(st.start_brk, 93899249483776ull);
	assert_int_equal(st.arg_start, 140726473378245ull);
	assert_int_equal(st.arg_end, 140726473378265ull);
	assert_int_equal(st.env_start, 140726473378265ull);
	assert_int_equal(st.env_end, 140726473379819ull);
}

/* A comm with ") R 1 2 " and a newline in it, and a kernel thread's line. */
static void test_stat_odd(void **state)
{
	static const char comm_trick[] = "7 (x) R 1 2 \n) S 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 "
					 "0 18446744073709551615 0 0 0 0 0 0 "
					 "0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
	static const char kthreadd[] = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 19 0 0 "
				       "18446744073709551615 0 0 0 0 0 0 0 "
				       "2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
	struct proc_stat st;

	assert_int_equal(proc_parse_stat_buf(comm_trick, &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.pgrp, 7);
	assert_int_equal(st.exit_signal, 17);
	assert_int_equal(proc_parse_stat_buf(kthreadd, &st), 0);
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.flags & 0x00200000, 0x00200000);
	assert_int_equal(st.exit_signal, 0);
	assert_int_equal(st.tty_nr, 0);
}

static void test_stat_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"5267 (cat) R 5264\n",
		"5267 (cat R 5264 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093\n",
		"(cat) R 5264 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 "
		"0 0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0\n",
		"x (cat) R 5264 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 "
		"0 0 0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0\n",
		"1 (cat) R x 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 0 "
		"0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0\n",
		"1 (cat) RR 1 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 "
		"0 0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0\n",
		"1 (cat) R 1 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 0 "
		"0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 99999999999999999999 0\n",
		"1 (cat) R 1 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 0 "
		"0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0", /* no newline */
		"1 (cat) R 1  5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 "
		"0 0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6 7 0\n", /* double space */
		"1 (cat) R 1 5264 3083 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 66093 3133440 386 1 2 3 4 0 0 "
		"0 0 0 0 "
		"0 0 0 17 1 0 0 0 0 0 1 2 3 4 5 6\n", /* field 51 missing */
	};
	struct proc_stat st;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (proc_parse_stat_buf(bad[i], &st) != -EINVAL)
			fail_msg("stat garbage %zu parsed", i);
}

static void test_stat_live(void **state)
{
	struct proc_stat st;
	pid_t child;
	int status;

	assert_int_equal(proc_parse_stat(getpid(), &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.pgrp, getpgrp());
	assert_int_equal(st.session, getsid(0));
	assert_int_equal(st.num_threads, 1);
	assert_true(st.start_code <= (uintptr_t)&test_stat_live && (uintptr_t)&test_stat_live < st.end_code);

	/* A reaped process is gone: -ESRCH, not -ENOENT. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(proc_parse_stat(child, &st), -ESRCH);
	assert_int_equal(proc_parse_stat(0, &st), -EINVAL);
}

/* ---- limits ---- */

static const char limits_fixture[] =
	"Limit                     Soft Limit           Hard Limit           Units     \n"
	"Max cpu time              unlimited            unlimited            seconds   \n"
	"Max file size             unlimited            unlimited            bytes     \n"
	"Max data size             unlimited            unlimited            bytes     \n"
	"Max stack size            8388608              unlimited            bytes     \n"
	"Max core file size        0                    unlimited            bytes     \n"
	"Max resident set          unlimited            unlimited            bytes     \n"
	"Max processes             96364                96364                processes \n"
	"Max open files            1024                 524288               files     \n"
	"Max locked memory         8388608              8388608              bytes     \n"
	"Max address space         unlimited            unlimited            bytes     \n"
	"Max file locks            unlimited            unlimited            locks     \n"
	"Max pending signals       96364                96364                signals   \n"
	"Max msgqueue size         819200               819200               bytes     \n"
	"Max nice priority         0                    0                    \n"
	"Max realtime priority     0                    0                    \n"
	"Max realtime timeout      200000               unlimited            us        \n";

static void test_limits_fixture(void **state)
{
	struct rlimit rl[RLIM_NLIMITS];

	assert_int_equal(proc_parse_limits_buf(limits_fixture, rl), 0);
	assert_true(rl[RLIMIT_CPU].rlim_cur == RLIM_INFINITY && rl[RLIMIT_CPU].rlim_max == RLIM_INFINITY);
	assert_int_equal(rl[RLIMIT_STACK].rlim_cur, 8388608);
	assert_true(rl[RLIMIT_STACK].rlim_max == RLIM_INFINITY);
	assert_int_equal(rl[RLIMIT_CORE].rlim_cur, 0);
	assert_int_equal(rl[RLIMIT_NOFILE].rlim_cur, 1024);
	assert_int_equal(rl[RLIMIT_NOFILE].rlim_max, 524288);
	assert_int_equal(rl[RLIMIT_NPROC].rlim_max, 96364);
	assert_int_equal(rl[RLIMIT_MSGQUEUE].rlim_cur, 819200);
	assert_int_equal(rl[RLIMIT_NICE].rlim_max, 0);
	assert_int_equal(rl[RLIMIT_RTTIME].rlim_cur, 200000);
	assert_true(rl[RLIMIT_RTTIME].rlim_max == RLIM_INFINITY);
}

static void test_limits_garbage(void **state)
{
	struct rlimit rl[RLIM_NLIMITS];
	_cleanup_free_ char *no_header = strdup(strchr(limits_fixture, '\n') + 1);
	_cleanup_free_ char *missing =
		strndup(limits_fixture, strstr(limits_fixture, "Max realtime timeout") - limits_fixture);
	_cleanup_free_ char *dup = NULL, *letters = strdup(limits_fixture), *huge = NULL, *onecol = NULL;

	assert_true(asprintf(&dup, "%s%s", limits_fixture, "Max cpu time              1 1 seconds\n") > 0);
	memcpy(strstr(letters, "8388608"), "83886o8", 7);
	assert_true(asprintf(&huge, "%sMax realtime timeout      18446744073709551616 unlimited us\n",
			     missing) > 0);
	assert_true(asprintf(&onecol, "%sMax realtime timeout      unlimited\n", missing) > 0);

	assert_int_equal(proc_parse_limits_buf("", rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf("Limit\n", rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(no_header, rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(missing, rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(dup, rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(letters, rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(huge, rl), -EINVAL);
	assert_int_equal(proc_parse_limits_buf(onecol, rl), -EINVAL);
	/* Cut in the middle of the last row. */
	missing[strlen(missing) - 5] = '\0';
	assert_int_equal(proc_parse_limits_buf(missing, rl), -EINVAL);
}

static void test_limits_live(void **state)
{
	struct rlimit rl[RLIM_NLIMITS], want, lowered;

	/* Make soft and hard differ, so that swapped columns would show. */
	assert_int_equal(getrlimit(RLIMIT_CORE, &lowered), 0);
	if (lowered.rlim_max > 4096 || lowered.rlim_max == RLIM_INFINITY) {
		lowered.rlim_cur = 4096;
		assert_int_equal(setrlimit(RLIMIT_CORE, &lowered), 0);
	}
	assert_int_equal(proc_parse_limits(getpid(), rl), 0);
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		assert_int_equal(getrlimit(i, &want), 0);
		assert_true(rl[i].rlim_cur == want.rlim_cur);
		assert_true(rl[i].rlim_max == want.rlim_max);
	}
}

/* ---- fdinfo ---- */

static void test_fdinfo_fixture(void **state)
{
	/* O_RDWR|O_APPEND|O_CLOEXEC|O_LARGEFILE on x86_64: 02|02000|02000000|0100000 */
	static const char buf[] = "pos:\t1234\n"
				  "flags:\t02102002\n"
				  "mnt_id:\t31\n"
				  "ino:\t917511\n";
	static const char epoll[] =
		"pos:\t0\n"
		"flags:\t02\n"
		"mnt_id:\t16\n"
		"ino:\t2081\n"
		"tfd:        5 events:       19 data:                5  pos:77 ino:1e sdev:16\n";
	static const char old[] = "pos:\t7\nflags:\t0100000\nmnt_id:\t23\n"; /* before Linux 5.14: no ino */
	struct proc_fdinfo fi;

	assert_int_equal(proc_parse_fdinfo_buf(buf, &fi), 0);
	assert_int_equal(fi.pos, 1234);
	assert_int_equal(fi.flags, O_RDWR | O_APPEND | O_CLOEXEC | 0100000);
	assert_int_equal(fi.flags & O_ACCMODE, O_RDWR);
	assert_true(fi.flags & O_APPEND);
	assert_true(fi.flags & O_CLOEXEC);
	assert_int_equal(fi.mnt_id, 31);
	assert_int_equal(fi.ino, 917511);

	assert_int_equal(proc_parse_fdinfo_buf(epoll, &fi), 0);
	assert_int_equal(fi.pos, 0);
	assert_int_equal(fi.ino, 2081);

	assert_int_equal(proc_parse_fdinfo_buf(old, &fi), 0);
	assert_int_equal(fi.pos, 7);
	assert_int_equal(fi.ino, 0);
}

static void test_fdinfo_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"pos:\t0\nflags:\t02\n",	     /* no mnt_id */
		"flags:\t02\nmnt_id:\t1\n",	     /* no pos */
		"pos:\t0\nflags:\t09\nmnt_id:\t1\n", /* not octal */
		"pos:\tx\nflags:\t02\nmnt_id:\t1\n",
		"pos:\t-1\nflags:\t02\nmnt_id:\t1\n",
		"pos:\t0\nflags:\t02\nmnt_id:\t-3\n",
		"pos:\t0\nflags:\t040000000000\nmnt_id:\t1\n", /* > 32 bits */
		"pos:\t18446744073709551616\nflags:\t02\nmnt_id:\t1\n",
		"pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t1 2\n",
		"pos:\t0\nflags:\t02\nmnt_id:\t1", /* cut short */
	};
	struct proc_fdinfo fi;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (proc_parse_fdinfo_buf(bad[i], &fi) != -EINVAL)
			fail_msg("fdinfo garbage %zu parsed", i);
}

static void test_fdinfo_live(void **state)
{
	char path[] = "/tmp/ckpt-test-proc-XXXXXX";
	_cleanup_close_ int tmp = mkostemp(path, O_CLOEXEC);
	_cleanup_close_ int fd = -EBADF;
	struct proc_fdinfo fi;
	struct statx stx;
	struct stat st;

	assert_true(tmp >= 0);
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	unlink(path);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 1234, SEEK_SET), 1234);
	assert_int_equal(proc_parse_fdinfo(getpid(), fd, &fi), 0);
	assert_int_equal(fi.pos, 1234);
	assert_int_equal(fi.flags & O_ACCMODE, O_RDWR);
	assert_true(fi.flags & O_APPEND);
	assert_true(fi.flags & O_CLOEXEC);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(fi.ino, st.st_ino);
	assert_int_equal(statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx), 0);
	if (stx.stx_mask & STATX_MNT_ID)
		assert_int_equal(fi.mnt_id, stx.stx_mnt_id);

	/* A closed fd of a live process is -ENOENT. */
	assert_int_equal(proc_parse_fdinfo(getpid(), 987654, &fi), -ENOENT);
}

/* ---- timers ---- */

/* As Linux 6.18 lists them, newest first; "thread/pid" comes from a raw SIGEV_THREAD. */
static const char timers_fixture[] = "ID: 4\n"
				     "signal: 12/0000000000000000\n"
				     "notify: thread/pid.11525\n"
				     "ClockID: 1\n"
				     "ID: 3\n"
				     "signal: 35/0000000000001234\n"
				     "notify: signal/pid.11525\n"
				     "ClockID: -6\n"
				     "ID: 2\n"
				     "signal: 35/00007ffd0000abcd\n"
				     "notify: signal/tid.11526\n"
				     "ClockID: 7\n"
				     "ID: 1\n"
				     "signal: 10/0000000000001234\n"
				     "notify: none/pid.11525\n"
				     "ClockID: 0\n";

static void test_timers_fixture(void **state)
{
	struct proc_timer *t;
	size_t n;

	assert_int_equal(proc_parse_timers_buf(timers_fixture, &t, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(t[0].id, 4);
	assert_int_equal(t[0].signo, 12);
	assert_int_equal(t[0].sigval, 0);
	assert_int_equal(t[0].notify, SIGEV_THREAD);
	assert_int_equal(t[0].notify_tid, 11525);
	assert_int_equal(t[0].clockid, CLOCK_MONOTONIC);
	assert_int_equal(t[1].notify, SIGEV_SIGNAL);
	assert_int_equal(t[1].clockid, -6);
	assert_int_equal(t[1].sigval, 0x1234);
	assert_int_equal(t[2].id, 2);
	assert_int_equal(t[2].notify, SIGEV_THREAD_ID);
	assert_int_equal(t[2].notify_tid, 11526);
	assert_int_equal(t[2].sigval, 0x7ffd0000abcdull);
	assert_int_equal(t[2].clockid, CLOCK_BOOTTIME);
	assert_int_equal(t[3].notify, SIGEV_NONE);
	assert_int_equal(t[3].signo, SIGUSR1);
	free(t);

	assert_int_equal(proc_parse_timers_buf("", &t, &n), 0);
	assert_int_equal(n, 0);
	free(t);
}

static void test_timers_garbage(void **state)
{
	static const char *const bad[] = {
		"ID: 1\n",					    /* incomplete */
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\n",	    /* no ClockID */
		"signal: 14/0\nnotify: signal/pid.1\nClockID: 1\n", /* no ID */
		"ID: x\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14\nnotify: signal/pid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14/zz\nnotify: signal/pid.1\nClockID: 1\n",
		"ID: 1\nsignal: 99/0\nnotify: signal/pid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: bogus/pid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/xid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: none/tid.1\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.x\nClockID: 1\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: one\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 1", /* cut short */
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 1\nID: 2\nsignal: 14/0\n", /* 2nd cut */
		"garbage\n",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct proc_timer *t = NULL;
		size_t n = 0;

		if (proc_parse_timers_buf(bad[i], &t, &n) != -EINVAL)
			fail_msg("timers garbage %zu parsed", i);
	}
}

static void test_timers_live(void **state)
{
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	struct proc_timer *t;
	timer_t t1, t2, t3;
	size_t n;
	bool seen[3] = {};

	ev.sigev_value.sival_ptr = (void *)0x1234;
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &ev, &t1), 0);
	ev.sigev_notify = SIGEV_NONE;
	assert_int_equal(timer_create(CLOCK_REALTIME, &ev, &t2), 0);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 1;
	ev._sigev_un._tid = gettid();
	assert_int_equal(timer_create(CLOCK_BOOTTIME, &ev, &t3), 0);

	assert_int_equal(proc_parse_timers(getpid(), &t, &n), 0);
	assert_int_equal(n, 3);
	/* Told apart by their clocks: glibc's timer_t is not always the kernel's timer id. */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i].sigval, 0x1234);
		assert_int_equal(t[i].notify_tid, getpid());
		assert_true(t[i].id >= 0);
		switch (t[i].clockid) {
		case CLOCK_MONOTONIC:
			assert_int_equal(t[i].notify, SIGEV_SIGNAL);
			assert_int_equal(t[i].signo, SIGUSR1);
			seen[0] = true;
			break;
		case CLOCK_REALTIME:
			assert_int_equal(t[i].notify, SIGEV_NONE);
			seen[1] = true;
			break;
		case CLOCK_BOOTTIME:
			assert_int_equal(t[i].notify, SIGEV_THREAD_ID);
			assert_int_equal(t[i].signo, SIGRTMIN + 1);
			seen[2] = true;
			break;
		default:
			fail_msg("unexpected clock %d", t[i].clockid);
		}
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	free(t);
	timer_delete(t1);
	timer_delete(t2);
	timer_delete(t3);
}

/* ---- auxv, tasks, children, fds ---- */

static void test_auxv_live(void **state)
{
	_cleanup_free_ uint64_t *a = NULL;
	size_t n;
	bool pagesz = false;

	assert_int_equal(proc_read_auxv(getpid(), &a, &n), 0);
	assert_true(n >= 2 && n % 2 == 0);
	assert_int_equal(a[n - 2], AT_NULL);
	for (size_t i = 0; i + 1 < n; i += 2)
		if (a[i] == AT_PAGESZ) {
			assert_int_equal(a[i + 1], getauxval(AT_PAGESZ));
			pagesz = true;
		}
	assert_true(pagesz);
}

static int thread_pipe[2];

static void *thread_fn(void *arg)
{
	char c;

	(void)read(thread_pipe[0], &c, 1);
	return NULL;
}

static void test_tasks_live(void **state)
{
	_cleanup_free_ pid_t *tids = NULL;
	pthread_t th;
	size_t n;

	assert_int_equal(pipe2(thread_pipe, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&th, NULL, thread_fn, NULL), 0);
	assert_int_equal(proc_list_tasks(getpid(), &tids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tids[0], getpid());
	assert_true(tids[1] != getpid() && tids[1] > 0);
	assert_int_equal(write(thread_pipe[1], "x", 1), 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(thread_pipe[0]);
	close(thread_pipe[1]);
}

static void test_tasks_gone(void **state)
{
	pid_t *v = NULL;
	size_t n;
	int status;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(proc_list_tasks(child, &v, &n), -ESRCH);
	assert_int_equal(proc_list_fds(child, &v, &n), -ESRCH);
	assert_int_equal(proc_list_children(child, child, &v, &n), -ESRCH);
	assert_int_equal(proc_parse_status(child, &(struct proc_status){}), -ESRCH);
}

static void test_children_live(void **state)
{
	_cleanup_free_ pid_t *kids = NULL;
	int p[2], status;
	bool found = false;
	size_t n;
	pid_t child;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;

		close(p[1]);
		_exit(read(p[0], &c, 1) < 0);
	}
	close(p[0]);
	assert_int_equal(proc_list_children(getpid(), gettid(), &kids, &n), 0);
	for (size_t i = 0; i < n; i++)
		found |= kids[i] == child;
	assert_true(found);
	close(p[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
}

static void test_pid_list(void **state)
{
	pid_t *v;
	size_t n;

	assert_int_equal(proc_parse_pid_list("12 34 5678 ", &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 12);
	assert_int_equal(v[2], 5678);
	free(v);
	assert_int_equal(proc_parse_pid_list("", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(proc_parse_pid_list("1 x 2", &v, &n), -EINVAL);
	assert_int_equal(proc_parse_pid_list("1 0 2", &v, &n), -EINVAL);
	assert_int_equal(proc_parse_pid_list("-1", &v, &n), -EINVAL);
	assert_int_equal(proc_parse_pid_list("2147483648", &v, &n), -EINVAL);
	assert_int_equal(proc_parse_pid_list("+5", &v, &n), -EINVAL);
}

static void test_fds_live(void **state)
{
	_cleanup_free_ int *fds = NULL;
	_cleanup_close_ int fd = fcntl(0, F_DUPFD_CLOEXEC, 100);
	bool found = false;
	size_t n;

	assert_true(fd >= 100);
	assert_int_equal(proc_list_fds(getpid(), &fds, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(fds[i] > fds[i - 1]);
		found |= fds[i] == fd;
	}
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smaps_fixture),	 cmocka_unit_test(test_smaps_empty),
		cmocka_unit_test(test_smaps_odd_paths),	 cmocka_unit_test(test_smaps_garbage),
		cmocka_unit_test(test_smaps_live),	 cmocka_unit_test(test_status_fixture),
		cmocka_unit_test(test_status_kthread),	 cmocka_unit_test(test_status_garbage),
		cmocka_unit_test(test_status_truncated), cmocka_unit_test(test_status_live),
		cmocka_unit_test(test_stat_fixture),	 cmocka_unit_test(test_stat_odd),
		cmocka_unit_test(test_stat_garbage),	 cmocka_unit_test(test_stat_live),
		cmocka_unit_test(test_limits_fixture),	 cmocka_unit_test(test_limits_garbage),
		cmocka_unit_test(test_limits_live),	 cmocka_unit_test(test_fdinfo_fixture),
		cmocka_unit_test(test_fdinfo_garbage),	 cmocka_unit_test(test_fdinfo_live),
		cmocka_unit_test(test_timers_fixture),	 cmocka_unit_test(test_timers_garbage),
		cmocka_unit_test(test_timers_live),	 cmocka_unit_test(test_auxv_live),
		cmocka_unit_test(test_tasks_live),	 cmocka_unit_test(test_tasks_gone),
		cmocka_unit_test(test_children_live),	 cmocka_unit_test(test_pid_list),
		cmocka_unit_test(test_fds_live),
	};

	/* CKPT_TEST_DEBUG=1 shows why each garbage input was refused. */
	if (getenv("CKPT_TEST_DEBUG"))
		ckpt_set_log_level(CKPT_LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
