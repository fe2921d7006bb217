"""End to end with a real Slurm, continued: periodic checkpoints and a hard kill (scenario 3 of
the Slurm issue), and users kept apart, with an image edited to claim uid 0 refused at
restore (scenario 6).

Its own cluster: GraceTime 10 s, ckptd without jitter (so that --checkpoint=1 means every
minute), two users created when missing.
"""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from test_slurm_cluster import DIR, FINAL_STATES, BUILD, OutputWatch, ckpt_cluster
from crlib import wait_until
from test_slurm_ckpt import COUNTER, node_state, count_lines, report

USERS = ("ckpta", "ckptb")
SOCK = {n: DIR / "run" / ("ckptd-%s.sock" % n) for n in ("n1", "n2")}
MUNGE_SOCK = DIR / "run" / "munge" / "munge.socket.2"  # the cluster's munged


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/bash", "-U", name],
                       check=True)
        return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def cl():
    work = Path(tempfile.mkdtemp(prefix="ckpt-slurm-more-"))
    os.chmod(work, 0o777)
    try:
        with ckpt_cluster(work, log_lines=30, CKPT_SLURM_GRACE="10",
                          CKPT_CKPTD_ARGS="--jitter_s 0 --sweep_interval_s 5 --walltime_lead_s 30 "
                          "--tcp_listen 127.0.0.1:0 "
                          "--munge_socket %s" % MUNGE_SOCK,
                          CKPT_SPANK_ARGS="on_restore_failure=hold") as c:
            yield c
    finally:
        subprocess.run(["rm", "-rf", str(work)])


@pytest.fixture(autouse=True)
def no_leftover_jobs(cl):
    """Each test starts on an empty cluster, whatever the one before left running."""
    yield
    ids = cl.run("squeue", "-h", "-o", "%i", check=False).split()
    if ids:
        cl.run("scancel", *ids, check=False)
    t0 = time.monotonic()
    while cl.run("squeue", "-h", "-o", "%i", check=False).split() and time.monotonic() - t0 < 30:
        time.sleep(0.5)


def as_user(c, user, *argv, check=False):
    pre = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run(pre + list(argv), env=c.env, capture_output=True, text=True, timeout=120,
                          check=check)


def ckpt(c, user, node, *args):
    return as_user(c, user, str(BUILD / "ckpt"), "--service", str(SOCK[node]), "--munge-socket",
                   str(MUNGE_SOCK), *args)


def submit(c, name, user=None, count=200, extra=()):
    """A counting job that starts on n1 (n2 drained meanwhile)."""
    d = c.workdir / name
    d.mkdir()
    if user:
        pw = pwd.getpwnam(user)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    script = d / "job.sh"
    script.write_text(COUNTER.replace("-lt 40", "-lt %d" % count))
    os.chmod(script, 0o755)
    out = d / "job.out"
    node_state(c, "n2", "drain", "keep_free")
    try:
        r = as_user(c, user, "sbatch", "--parsable", "-D", str(d), "-p", "low", "-o", str(out),
                    *extra, str(script))
        assert r.returncode == 0, r.stderr
        jobid = int(r.stdout.strip().split(";")[0])
        j = c.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
        assert j["NodeList"] == "n1", j
    finally:
        node_state(c, "n2", "resume")
    wait_registered(jobid, "n1")
    return jobid, out, d


def wait_registered(jobid, node, timeout=30):
    """slurmctld says RUNNING before the job's shim has registered it with the node's ckptd."""
    log = DIR / "log" / ("ckptd-%s.log" % node)
    pat = re.compile(r"slurm job %d: registered" % jobid)
    t0 = time.monotonic()
    while not pat.search(log.read_text() if log.exists() else ""):
        assert time.monotonic() - t0 < timeout, "job %d not registered with ckptd %s" % (jobid, node)
        time.sleep(0.2)


def show_job(c, jobid):
    return c.run("scontrol", "-o", "show", "job", str(jobid))


def starts(d, jobid):
    """How many times the job's script ran from its top in d (a restored job does not)."""
    f = d / ("starts-%d.txt" % jobid)
    return f.read_text().count("started") if f.exists() else 0


def committed(jobid):
    d = DIR / "images" / str(jobid)
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def diagnose(jobid, text, expected):
    """What a wrong output needs to be understood: where it first differs, and what the
    ckptds and slurmctld logged about the job."""
    got, want = text.splitlines(), expected.splitlines()
    k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    parts = ["output: %d lines, expected %d; first difference at line %d:" % (len(got), len(want), k),
             "\n".join("%4d %s" % (i, got[i]) for i in range(max(0, k - 3), min(len(got), k + 5)))]
    pat = re.compile(r"slurm job %d\b|job-register|job-end|JobId=%d\b" % (jobid, jobid))
    for name in ("ckptd-n1.log", "ckptd-n2.log", "slurmctld.log"):
        f = DIR / "log" / name
        lines = [l for l in (f.read_text(errors="replace") if f.exists() else "").splitlines()
                 if pat.search(l)]
        parts.append("---- %s (%d lines about the job)\n%s" % (name, len(lines), "\n".join(lines[-60:])))
    return "\n".join(parts)


# Seen in 2 of 5 CI runs of an earlier version, not since (5 runs here, one with the CPUs
# kept busy): the output showed its last ~30 lines twice. If it comes back, diagnose() says
# where and what the daemons did.
def test_periodic_checkpoint_then_hard_kill_resumes_from_it(cl):
    c = cl
    jobid, out, d = submit(c, "periodic", count=200, extra=("--checkpoint=1",))
    t0 = time.monotonic()
    while not committed(jobid):
        assert time.monotonic() - t0 < 100, "no periodic checkpoint after 100 s"
        time.sleep(0.5)
    t_ckpt = time.monotonic() - t0
    n_at_ckpt = count_lines(out)
    while count_lines(out) < n_at_ckpt + 6:  # lines the checkpoint does not hold
        time.sleep(0.2)
    watch = OutputWatch(out)
    t_kill = time.monotonic()
    c.run("scancel", "--full", "--signal=KILL", str(jobid))
    killed = c.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "killed", 30)["JobState"]
    lines_before = count_lines(out)
    t1 = time.monotonic()
    c.run("scontrol", "requeue", str(jobid))
    j = c.wait(jobid, lambda j: j["JobState"] == "RUNNING" and j["Restarts"] != "0",
               "running again", 90)
    t_running = time.monotonic() - t1
    j = c.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "finished", 150)
    text = out.read_text()
    print("periodic: first checkpoint %.1f s after start; %d lines at the kill, %d in the "
          "checkpoint; the kill (job %s) came %.1f s before the requeue" % (
              t_ckpt, lines_before, n_at_ckpt, killed, t1 - t_kill))
    # the downtime counts the lines done again after the restore, until the output grows
    report("periodic, hard kill; requeue", t1, t_running, watch, node=j["NodeList"])
    expected = "".join("count %d\n" % i for i in range(200)) + "done\n"
    assert j["JobState"] == "COMPLETED", (j, diagnose(jobid, text, expected))
    assert text == expected, diagnose(jobid, text, expected)
    assert starts(d, jobid) == 1


def test_users_apart_and_forged_image_refused(cl):
    c = cl
    for u in USERS:
        ensure_user(u)
    jobid, out, d = submit(c, "usera", user="ckpta", count=300, extra=("--checkpoint",))
    # the owner may checkpoint his job; root may too
    r = ckpt(c, "ckpta", "n1", "job", "checkpoint", str(jobid))
    assert r.returncode == 0 and "checkpoint 1 committed" in r.stdout, r.stderr
    r = ckpt(c, None, "n1", "job", "checkpoint", str(jobid))
    assert r.returncode == 0 and "checkpoint 2 committed" in r.stdout, r.stderr
    # another user sees none of it and may touch nothing
    r = ckpt(c, "ckptb", "n1", "job", "list")
    assert r.returncode == 0 and not re.search(r"^%d " % jobid, r.stdout, re.M), r.stdout
    r = ckpt(c, "ckptb", "n1", "job", "checkpoint", str(jobid))
    assert r.returncode != 0 and "is not yours" in r.stderr, r.stderr
    r = ckpt(c, "ckptb", "n1", "job", "forget", str(jobid))
    assert r.returncode != 0 and "not yours" in r.stderr, r.stderr
    r = ckpt(c, "ckptb", "n1", "restore", "-d", "-D", str(DIR / "images" / str(jobid) / "2"))
    assert r.returncode != 0, r.stdout
    r = ckpt(c, "ckpta", "n2", "job", "list", str(jobid))
    assert r.returncode == 0 and re.search(r"^%d +2 +ckpta" % jobid, r.stdout, re.M), r.stdout
    assert committed(jobid) == [1, 2]
    # an image edited to claim uid 0: the restore refuses it, the job fails with the reason
    root_pid = 2
    tool = BUILD / "tests" / "tools" / "img_setcreds"
    subprocess.run([str(tool), str(DIR / "images" / str(jobid) / "2"), str(root_pid), "0", "0"],
                   check=True)
    c.run("scontrol", "requeue", str(jobid))
    # on_restore_failure=hold: the restore is refused, ckptd requeues the job held with the
    # reason as its AdminComment, the checkpoints are kept
    c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "PENDING" and
           "held" in j["Reason"].lower() and "AdminComment=ckpt:" in show_job(c, jobid),
           "held after the refused restore", 90)
    text = out.read_text()
    assert "its uids 0/0/0/0 are not the job owner's" in text, text
    assert "checkpoint is kept and the job is requeued held" in text, text
    comment = re.search(r"AdminComment=(.*?) \w+=", show_job(c, jobid)).group(1)
    assert "not restored on n" in comment and "its uids 0/0/0/0 are not the job owner's" in comment \
        and "the job is held" in comment, comment
    assert committed(jobid) == [1, 2]
    time.sleep(3)  # held: Slurm does not start it again
    assert c.job(jobid)["JobState"] == "PENDING", c.job(jobid)
    c.run("scancel", str(jobid), check=False)


def test_first_run_never_restores_an_earlier_jobs_checkpoint(cl):
    """Slurm reuses job IDs once its state is reset (or past MaxJobId): a checkpoint an
    earlier job left under an ID is never restored into the new job that gets it. The node's
    ckptd learns from slurmctld that the job starts for the first time and removes it."""
    c = cl
    # an earlier job leaves a checkpoint: checkpointed and requeued, then cancelled while
    # pending (no shim runs again to end it)
    old, _, _ = submit(c, "earlier", count=300, extra=("--checkpoint",))
    r = ckpt(c, None, "n1", "job", "checkpoint", "--requeue", str(old))
    assert r.returncode == 0 and "checkpoint 1 committed" in r.stdout, r.stdout + r.stderr
    c.wait(old, lambda j: j["JobState"] == "PENDING", "requeued", 30)
    c.run("scontrol", "hold", str(old))
    assert committed(old) == [1]
    # the next job gets the earlier one's checkpoint under its own ID, as if Slurm had
    # counted job IDs from the start again
    d = c.workdir / "reused"
    d.mkdir()
    script = d / "job.sh"
    script.write_text(COUNTER.replace("-lt 40", "-lt 20"))
    out = d / "job.out"
    node_state(c, "n2", "drain", "keep_free")
    try:
        new = c.sbatch("-H", "-p", "low", "-D", str(d), "-o", str(out), "--checkpoint", str(script))
        images = DIR / "images"
        os.rename(images / str(old), images / str(new))
        meta = images / str(new) / "1" / "ckpt.meta"
        meta.write_text(meta.read_text().replace("job_id=%d\n" % old, "job_id=%d\n" % new))
        assert committed(new) == [1]
        c.run("scancel", str(old))
        c.run("scontrol", "release", str(new))
        j = c.wait(new, lambda j: j["JobState"] in FINAL_STATES, "finished", 60)
    finally:
        node_state(c, "n2", "resume")
    text = out.read_text()
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == "".join("count %d\n" % i for i in range(20)) + "done\n", text
    assert starts(d, new) == 1
    assert not committed(new)
    assert "slurm job %d: 1 checkpoint(s) of an earlier job with this ID removed before run 0" \
        % new in (DIR / "log" / "ckptd-n1.log").read_text()


def test_job_near_its_time_limit_goes_on_past_it(cl):
    """A job whose work takes longer than its time limit (-t 1: a minute, 50 s of work plus
    a 30 s lead here): ckptd checkpoints and requeues it walltime_lead_s before the limit;
    the new run gets a new limit and finishes the work from the checkpoint."""
    c = cl
    jobid, out, d = submit(c, "walltime", count=100, extra=("--checkpoint", "-t", "1"))
    t0 = time.monotonic()
    j = c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "RUNNING",
               "running again", 90)
    t_again = time.monotonic() - t0
    lines_at_ckpt = count_lines(out)
    j = c.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "finished", 90)
    text = out.read_text()
    print("walltime: checkpointed and requeued before its 60 s limit, running again %.1f s "
          "after its start, on %s, with %d of 100 lines done" % (t_again, j["NodeList"],
                                                               lines_at_ckpt))
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == "".join("count %d\n" % i for i in range(100)) + "done\n", text
    assert starts(d, jobid) == 1
    assert "slurm job %d: walltime: checkpoint and requeue" % jobid in \
        (DIR / "log" / "ckptd-n1.log").read_text()


def copy_ckpt(src, dst, kept=None):
    """Job src's checkpoints under job ID dst, its metadata saying so."""
    images = DIR / "images"
    shutil.copytree(images / str(src), images / str(dst), symlinks=True)
    for meta in (images / str(dst)).glob("*/ckpt.meta"):
        text = meta.read_text().replace("job_id=%d\n" % src, "job_id=%d\n" % dst)
        if kept is not None:
            text = re.sub(r"^kept=\d+$", "kept=%d" % kept, text, flags=re.M)
        meta.write_text(text)


def test_sweep_removes_only_what_slurm_forgot(cl):
    """ckptd's sweep (every 5 s here): the checkpoints of a job slurmctld no longer knows
    (it forgets a job MinJobAge after its end) are removed; those of a job it knows, ended or
    not, stay (an admin may requeue it), and so do those kept with `job checkpoint --cancel`."""
    c = cl
    a, _, _ = submit(c, "sweep-kept", count=300, extra=("--checkpoint",))
    r = ckpt(c, None, "n1", "job", "checkpoint", "--cancel", str(a))
    assert r.returncode == 0 and "checkpoint 1 committed" in r.stdout, r.stdout + r.stderr
    assert "kept=1\n" in (DIR / "images" / str(a) / "1" / "ckpt.meta").read_text()
    b, _, _ = submit(c, "sweep-killed", count=300, extra=("--checkpoint",))
    r = ckpt(c, None, "n1", "job", "checkpoint", str(b))
    assert r.returncode == 0 and "checkpoint 1 committed" in r.stdout, r.stdout + r.stderr
    c.run("scancel", str(b))
    for j in (a, b):
        c.wait(j, lambda j: j["JobState"] == "CANCELLED", "cancelled", 30)
    # the same checkpoints under IDs slurmctld never had, as after it forgot the jobs
    gone, kept = 4000001, 4000002
    copy_ckpt(b, gone)
    copy_ckpt(a, kept)
    assert wait_until(lambda: not committed(gone), 30), "not swept: %s" % committed(gone)
    time.sleep(6)  # a sweep more on each node
    assert committed(kept) == [1] and committed(a) == [1] and committed(b) == [1]
    assert "slurm job %d: slurmctld no longer knows it: its checkpoints removed" % gone in \
        (DIR / "log" / "ckptd-n1.log").read_text() + (DIR / "log" / "ckptd-n2.log").read_text()
    for j in (a, b, kept):
        r = ckpt(c, None, "n1", "job", "forget", str(j))
        assert r.returncode == 0, r.stderr
        assert not committed(j)


SRUN_JOB = """#!/bin/bash
echo "started" >> starts-$SLURM_JOB_ID.txt
srun --overlap sleep 300 &
i=0
while [ $i -lt 400 ]; do echo "count $i"; i=$((i + 1)); sleep 0.5; done
"""


def test_checkpoint_asked_on_another_node(cl):
    """`ckpt job checkpoint` on n2 for a job on n1: n2's ckptd names n1's (Slurm says where
    the job runs, the shared layout where n1's ckptd listens), and ckpt asks it over TCP with
    a munge credential of its own user, whom n1's ckptd judges."""
    c = cl
    for u in USERS:
        ensure_user(u)
    jobid, out, d = submit(c, "remote", user="ckpta", count=300, extra=("--checkpoint",))
    assert (DIR / "images" / ".nodes" / "n1").read_text().startswith("tcp://127.0.0.1:")
    r = ckpt(c, "ckpta", "n2", "-v2", "job", "checkpoint", str(jobid))
    assert r.returncode == 0 and "checkpoint 1 committed" in r.stdout, r.stdout + r.stderr
    assert "runs on n1: ask its ckptd at tcp://127.0.0.1:" in r.stderr, r.stderr
    r = ckpt(c, "ckptb", "n2", "job", "checkpoint", str(jobid))
    assert r.returncode == 1 and "is not yours" in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "refused job-checkpoint for uid %d" % pwd.getpwnam("ckptb").pw_uid in \
        (DIR / "log" / "ckptd-n1.log").read_text()
    r = ckpt(c, None, "n2", "job", "checkpoint", str(jobid))
    assert r.returncode == 0 and "checkpoint 2 committed" in r.stdout, r.stdout + r.stderr
    assert committed(jobid) == [1, 2]
    c.run("scancel", str(jobid), check=False)


def status_field(pid, name):
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no %s in /proc/%d/status" % (name, pid))


def assert_binding_of_new_allocation(jobid, node):
    """The restored tree runs with the CPUs and cgroups of the step Slurm started here: those
    of its shim (the registering process), not of the allocation it was checkpointed in."""
    log = DIR / "log" / ("ckptd-%s.log" % node)
    pat = re.compile(r"job-register request from uid 0 \(pid (\d+)\)\n.*slurm job %d: registered "
                     r"\(uid \d+, pid (\d+),.*restored" % jobid)
    assert wait_until(lambda: pat.search(log.read_text()), 30), log.read_text()
    shim, root = (int(x) for x in pat.search(log.read_text()).groups())
    assert status_field(root, "Cpus_allowed_list") == status_field(shim, "Cpus_allowed_list")
    cg = lambda pid: sorted(l for l in pathlib.Path("/proc/%d/cgroup" % pid).read_text().splitlines()
                            if "cpuset" in l or "freezer" in l)
    assert cg(root) == cg(shim) and any("job_%d" % jobid in l for l in cg(root)), (cg(root), cg(shim))


def test_maintenance_reservation_ahead_moves_the_job(cl):
    """A MAINT reservation on n1 starting within maint_lead_s (600 s by default): ckptd
    checkpoints the job and requeues it; Slurm starts it on n2, where it goes on."""
    c = cl
    jobid, out, d = submit(c, "maint", count=120, extra=("--checkpoint",))
    while count_lines(out) < 6:
        time.sleep(0.2)
    watch = OutputWatch(out)
    t0 = time.monotonic()
    c.run("scontrol", "create", "reservation", "reservationname=ckpt_maint", "starttime=now+300",
          "duration=10", "nodes=n1", "flags=maint,ignore_jobs", "users=root")
    try:
        j = c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "RUNNING",
                   "running again", 90)
        t_running = time.monotonic() - t0
        assert j["NodeList"] == "n2", j
        assert_binding_of_new_allocation(jobid, "n2")
        j = c.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "finished", 150)
    finally:
        c.run("scontrol", "delete", "reservationname=ckpt_maint", check=False)
    text = out.read_text()
    report("maintenance reservation", t0, t_running, watch)
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == "".join("count %d\n" % i for i in range(120)) + "done\n", text
    assert starts(d, jobid) == 1
    assert re.search(r"slurm job %d: .*maint" % jobid, (DIR / "log" / "ckptd-n1.log").read_text())


def test_job_with_srun_steps_told_and_preempted_as_usual(cl):
    c = cl
    d = c.workdir / "srun"
    d.mkdir()
    script = d / "job.sh"
    script.write_text(SRUN_JOB)
    out = d / "job.out"
    node_state(c, "n2", "drain", "keep_free")
    try:
        jobid = c.sbatch("-p", "low", "-D", str(d), "-o", str(out), "--open-mode=append",
                         "--checkpoint", str(script))
        c.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
    finally:
        node_state(c, "n2", "resume")
    t0 = time.monotonic()
    # slurmctld says RUNNING before slurmstepd has created the output file
    while count_lines(out) < 4:
        assert time.monotonic() - t0 < 30, out.read_text() if out.exists() else "no " + str(out)
        time.sleep(0.2)
    high = c.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 20")
    c.wait(jobid, lambda j: j["Restarts"] != "0", "requeued by Slurm", 90)
    c.run("scancel", str(jobid), str(high), check=False)
    text = (c.workdir / "srun" / "job.out").read_text()
    assert not committed(jobid)
    log = (DIR / "log" / "ckptd-n1.log").read_text()
    assert "srun steps are running: not checkpointed (preempt)" in log, log
    assert "ckpt: job %d runs srun steps: it cannot be checkpointed yet (preempt)" % jobid in text, text
