/* SPDX-License-Identifier: MIT */
/*
 * Credentials of a process that was started as root and dropped them: supplementary groups
 * {1001, 1002}, real/effective/saved gid 1000, real/effective/saved uid 1000. Dropping uid 0
 * clears the capability sets, and the dumpable flag follows fs.suid_dumpable. After SIGTERM
 * getresuid, getresgid, getgroups, the fs ids, capget, the bounding set, the securebits and
 * the dumpable flag must be what they were before READY.
 *
 * Must be started as root.
 */
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "crtest.h"

#define UID 1000
#define GID 1000

struct creds {
	uid_t ruid, euid, suid, fsuid;
	gid_t rgid, egid, sgid, fsgid;
	int ngroups;
	gid_t groups[16];
	struct __user_cap_data_struct cap[2];
	unsigned long long bounding; /* bit n set: capability n is in the bounding set */
	int securebits, dumpable;
};

static struct creds before;

static void read_creds(struct creds *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	int i;

	memset(c, 0, sizeof(*c));
	getresuid(&c->ruid, &c->euid, &c->suid);
	getresgid(&c->rgid, &c->egid, &c->sgid);
	/* setfsuid returns the previous value; -1 is an invalid id, so nothing changes. */
	c->fsuid = (uid_t)setfsuid((uid_t)-1);
	c->fsgid = (gid_t)setfsgid((gid_t)-1);
	c->ngroups = getgroups(16, c->groups);
	if (syscall(SYS_capget, &hdr, c->cap) < 0)
		c->cap[0].effective = 0xdeadbeef;
	for (i = 0; i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			c->bounding |= 1ull << i;
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	c->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

static void setup(void)
{
	const gid_t groups[2] = {1001, 1002};

	if (getuid() != 0)
		cr_fail("setup: must be started as root");
	if (setgroups(2, groups) < 0)
		cr_die("setgroups");
	if (setresgid(GID, GID, GID) < 0)
		cr_die("setresgid");
	if (setresuid(UID, UID, UID) < 0)
		cr_die("setresuid");
	read_creds(&before);
	if (before.ruid != UID || before.euid != UID || before.suid != UID || before.fsuid != UID ||
	    before.rgid != GID || before.egid != GID || before.sgid != GID || before.fsgid != GID ||
	    before.ngroups != 2 || before.groups[0] != 1001 || before.groups[1] != 1002)
		cr_fail("setup: credentials not as set");
	if (before.cap[0].effective || before.cap[0].permitted || before.cap[1].effective ||
	    before.cap[1].permitted)
		cr_fail("setup: capabilities left after dropping root");
}

static void verify(void)
{
	struct creds now;
	int i;

	read_creds(&now);
	if (now.ruid != before.ruid || now.euid != before.euid || now.suid != before.suid)
		cr_fail("uids %d/%d/%d, want %d/%d/%d", now.ruid, now.euid, now.suid, before.ruid,
			before.euid, before.suid);
	if (now.rgid != before.rgid || now.egid != before.egid || now.sgid != before.sgid)
		cr_fail("gids %d/%d/%d, want %d/%d/%d", now.rgid, now.egid, now.sgid, before.rgid,
			before.egid, before.sgid);
	if (now.fsuid != before.fsuid || now.fsgid != before.fsgid)
		cr_fail("fsuid/fsgid %d/%d, want %d/%d", now.fsuid, now.fsgid, before.fsuid, before.fsgid);
	if (now.ngroups != before.ngroups)
		cr_fail("%d supplementary groups, want %d", now.ngroups, before.ngroups);
	for (i = 0; i < now.ngroups; i++)
		if (now.groups[i] != before.groups[i])
			cr_fail("supplementary group %d is %d, want %d", i, now.groups[i], before.groups[i]);
	for (i = 0; i < 2; i++)
		if (now.cap[i].effective != before.cap[i].effective ||
		    now.cap[i].permitted != before.cap[i].permitted ||
		    now.cap[i].inheritable != before.cap[i].inheritable)
			cr_fail("capability word %d: eff %#x prm %#x inh %#x, want %#x %#x %#x", i,
				now.cap[i].effective, now.cap[i].permitted, now.cap[i].inheritable,
				before.cap[i].effective, before.cap[i].permitted, before.cap[i].inheritable);
	if (now.bounding != before.bounding)
		cr_fail("bounding set %#llx, want %#llx", now.bounding, before.bounding);
	if (now.securebits != before.securebits)
		cr_fail("securebits %#x, want %#x", now.securebits, before.securebits);
	if (now.dumpable != before.dumpable)
		cr_fail("dumpable %d, want %d", now.dumpable, before.dumpable);
}

int main(void)
{
	cr_run(setup, verify);
}
