"""The test Slurm cluster of tests/slurm/cluster: jobs run on n1 and n2, a `low` job is
preempted by a `high` one and requeued, and `cluster down` leaves nothing running.

The module brings the cluster up once (after a `down`, so that it starts clean) and takes it
down at teardown. Skipped only when the Slurm or munge binaries are not installed
(scripts/install-deps.sh installs them) or when not run as root.
"""
import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLUSTER = HERE / "slurm" / "cluster"
BUILD = Path(os.environ.get("CKPT_BUILD", HERE.parent / "build"))
DIR = Path(os.environ.get("CKPT_SLURM_DIR", "/run/ckpt-slurm"))
NODES = ("n1", "n2")
GRACE = 5
BINARIES = ("munged", "slurmctld", "slurmd", "slurmstepd", "sbatch", "scontrol", "squeue",
            "scancel", "sinfo")
# what `down` must leave gone: the pid files `up` wrote, and the process names they hold
PIDFILES = {"munged": DIR / "run" / "munge" / "munged.pid",
            "slurmctld": DIR / "run" / "slurmctld.pid",
            "slurmd-n1": DIR / "run" / "slurmd-n1.pid",
            "slurmd-n2": DIR / "run" / "slurmd-n2.pid"}
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def _which(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def _alive(pid):
    """The process exists and is not a zombie (PID 1 may reap orphans late)."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _comm(pid):
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return None


def _run_cluster(verb, env, timeout=120):
    r = subprocess.run([str(CLUSTER), verb], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    print(r.stdout, end="")
    return r


def _cgroup_pids():
    """PIDs in our nodes' freezer cgroups: slurmstepds and job tasks. A step's cgroup may go
    while it is walked (os.walk, unlike Path.rglob, skips a directory that vanished)."""
    pids = set()
    for node in NODES:
        for top, _, files in os.walk("/sys/fs/cgroup/freezer/slurm_%s" % node):
            if "cgroup.procs" not in files:
                continue
            try:
                pids.update(int(x) for x in Path(top, "cgroup.procs").read_text().split())
            except OSError:
                pass
    return pids


class Cluster:
    def __init__(self, env, workdir):
        self.env = env
        self.workdir = workdir
        self.daemons = {}   # pid file name -> (pid, comm) at up
        self.seen = {}      # pid -> comm of slurmstepds and job tasks seen in the cgroups

    def run(self, *argv, check=True):
        r = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr))
        return r.stdout

    def sbatch(self, *args):
        out = self.run("sbatch", "--parsable", "-D", str(self.workdir), *args)
        return int(out.strip().split(";")[0])

    def job(self, jobid):
        """`scontrol show job` as a dict (one line per job with -o)."""
        out = self.run("scontrol", "-o", "show", "job", str(jobid))
        return dict(m.groups() for m in re.finditer(r"(\w+)=(\S*)", out))

    def note_pids(self):
        for pid in _cgroup_pids():
            if pid not in self.seen and _alive(pid):
                self.seen[pid] = _comm(pid)

    def wait(self, jobid, pred, what, timeout):
        t0 = time.monotonic()
        while True:
            self.note_pids()
            j = self.job(jobid)
            if pred(j):
                return j
            if time.monotonic() - t0 > timeout:
                raise AssertionError("job %d: not %s after %d s: %s" % (jobid, what, timeout, j))
            time.sleep(0.25)


@contextlib.contextmanager
def ckpt_cluster(workdir, log_lines=40, **env):
    """The cluster with spank_ckpt.so and one ckptd per node (CKPT_SLURM_CKPT=1), brought up
    clean with the given CKPT_* variables: yields a Cluster whose jobs run in workdir. At the
    end, the tail of each ckptd's log (for `pytest -s` and failures) and `down`. Skips the
    test when Slurm or munge is not installed, or when not root."""
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        pytest.skip("Slurm/munge not installed (%s): scripts/install-deps.sh" % " ".join(missing))
    if os.geteuid() != 0:
        pytest.skip("the Slurm test cluster runs as root")
    for f in ("ckptd", "spank_ckpt.so", "ckpt"):
        assert (BUILD / f).exists(), "build %s first (make)" % f
    env = dict(os.environ, CKPT_SLURM_DIR=str(DIR), CKPT_SLURM_CKPT="1", CKPT_BUILD=str(BUILD), **env)
    _run_cluster("down", env)
    try:
        r = _run_cluster("up", env)
        assert r.returncode == 0, "cluster up failed:\n" + r.stdout
        env["SLURM_CONF"] = re.search(r"SLURM_CONF=(\S+)", (DIR / "env").read_text()).group(1)
        yield Cluster(env, workdir)
    finally:
        for n in NODES:
            log = DIR / "log" / ("ckptd-%s.log" % n)
            if log.exists():
                print("---- %s (tail)\n%s" % (log, "\n".join(log.read_text().splitlines()[-log_lines:])))
        _run_cluster("down", env)


class OutputWatch:
    """Notes, from a thread, each time a job's output gains a line of progress (a line that
    matches `progress`) past the most it held: the job's downtime as its user sees it is the
    longest pause between two such moments (the test jobs write every 0.5 s or so). Lines
    Slurm adds (the requeue's "CANCELLED" line, which the restore takes away again) are not
    progress; lines done again after a restore from an older checkpoint count as downtime."""

    def __init__(self, path, progress=r"^(count|step) \d+", every=0.05):
        self.path, self.every = path, every
        self.progress = re.compile(progress, re.M)
        self.times, self.lines = [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                lines = len(self.progress.findall(self.path.read_text(errors="replace")))
            except OSError:
                continue
            if lines > self.lines:
                self.lines = lines
                self.times.append(time.monotonic())

    def stop(self):
        """The longest pause: (last growth before it, first growth after it), monotonic."""
        self._stop.set()
        self._thread.join()
        return max(zip(self.times, self.times[1:]), key=lambda p: p[1] - p[0], default=(0.0, 0.0))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = [b for b in BINARIES if _which(b) is None]
    if missing:
        pytest.skip("Slurm/munge not installed (%s): scripts/install-deps.sh" % " ".join(missing))
    if os.geteuid() != 0:
        pytest.skip("the Slurm test cluster runs as root")
    env = dict(os.environ, CKPT_SLURM_DIR=str(DIR), CKPT_SLURM_GRACE=str(GRACE))
    _run_cluster("down", env)
    r = _run_cluster("up", env)
    assert r.returncode == 0, "cluster up failed:\n" + r.stdout
    envfile = (DIR / "env").read_text()
    m = re.search(r"SLURM_CONF=(\S+)", envfile)
    assert m, envfile
    env["SLURM_CONF"] = m.group(1)
    c = Cluster(env, tmp_path_factory.mktemp("slurm"))
    for name, f in PIDFILES.items():
        pid = int(f.read_text().split()[0])
        assert _alive(pid), "%s (%d from %s) is not running" % (name, pid, f)
        c.daemons[name] = (pid, _comm(pid))
    try:
        yield c
    finally:
        _run_cluster("down", env)


def test_up_twice_changes_nothing(cluster):
    r = _run_cluster("up", cluster.env)
    assert r.returncode == 0, r.stdout
    for name, f in PIDFILES.items():
        assert int(f.read_text().split()[0]) == cluster.daemons[name][0], name
    out = cluster.run("sinfo", "-h", "-N", "-p", "low", "-o", "%N %T")
    assert sorted(out.split()) == sorted(["n1", "idle", "n2", "idle"]), out


@pytest.mark.parametrize("node", NODES)
def test_job_runs_on_node(cluster, node):
    out = cluster.workdir / ("hello-%s.out" % node)
    jobid = cluster.sbatch("-w", node, "-o", str(out), "--wrap", "echo hello; hostname")
    j = cluster.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "finished", 30)
    assert j["JobState"] == "COMPLETED", j
    assert j["NodeList"] == node and j["BatchHost"] == node, j
    text = out.read_text()
    assert text.splitlines() == ["hello", os.uname().nodename], text


LOW_JOB = """#!/bin/bash
echo "start restart=${SLURM_RESTART_COUNT:-0} node=$SLURMD_NODENAME"
trap 'echo "got SIGTERM $(date +%s.%N)"' TERM
while :; do sleep 0.2; done
"""


def test_low_job_preempted_and_requeued(cluster):
    script = cluster.workdir / "low.sh"
    script.write_text(LOW_JOB)
    out = cluster.workdir / "low.out"
    low = cluster.sbatch("-p", "low", "-w", "n1", "--open-mode=append", "-o", str(out),
                         str(script))
    cluster.wait(low, lambda j: j["JobState"] == "RUNNING", "running", 30)
    t0 = time.monotonic()
    high = cluster.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o",
                          str(cluster.workdir / "high.out"), "--wrap", "echo high; sleep 2")
    # chosen for preemption: PreemptTime is set, the job runs on during GraceTime
    j = cluster.wait(low, lambda j: j.get("PreemptTime", "None") != "None"
                     or j["Restarts"] != "0", "chosen for preemption", 15)
    t_chosen = time.monotonic() - t0
    preempt_time = j.get("PreemptTime")
    # GraceTime ends at slurmctld's periodic check (up to ~30 s late): SIGTERM, KillWait,
    # requeue. The job keeps its ID, Restarts goes to 1, and it waits (BeginTime) for
    # cred_expire + 1 s and for n1, which the high job holds.
    j = cluster.wait(low, lambda j: j["Restarts"] == "1" and j["JobState"] in
                     ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"),
                     "requeued", GRACE + 45)
    t_requeued = time.monotonic() - t0
    h = cluster.wait(high, lambda j: j["JobState"] in ("RUNNING", "COMPLETED"),
                     "running on n1", 15)
    t_high = time.monotonic() - t0
    assert h["NodeList"] == "n1", h
    text = out.read_text()
    print("preemption: chosen after %.1f s (PreemptTime=%s), low requeued after %.1f s, high "
          "running after %.1f s (GraceTime=%d); low job state %s reason %s\n%s"
          % (t_chosen, preempt_time, t_requeued, t_high, GRACE, j["JobState"], j["Reason"],
             text))
    assert "start restart=0 node=n1" in text, text
    assert "DUE TO PREEMPTION" in text, text
    assert t_requeued >= GRACE - 1, "requeued before GraceTime ended"
    cluster.note_pids()
    cluster.run("scancel", str(low), str(high), check=False)


def test_down_leaves_nothing_running(cluster):
    # a job running at `down` too: its slurmstepd and tasks must go as well
    jobid = cluster.sbatch("-w", "n2", "-o", "/dev/null", "--wrap", "sleep 300")
    cluster.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
    for _ in range(20):
        cluster.note_pids()
        if any(c == "slurmstepd" for c in cluster.seen.values()):
            break
        time.sleep(0.1)
    assert "slurmstepd" in cluster.seen.values(), cluster.seen
    r = _run_cluster("down", cluster.env)
    assert r.returncode == 0, r.stdout
    left = ["%s %d" % (name, pid) for name, (pid, comm) in cluster.daemons.items()
            if _alive(pid) and _comm(pid) == comm]
    left += ["%s %d" % (comm, pid) for pid, comm in cluster.seen.items()
             if _alive(pid) and _comm(pid) == comm]
    assert not left, "still running after cluster down: %s" % ", ".join(left)
    cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob("*/slurm_n[12]")]
    assert not cgroups, "cgroups left: %s" % cgroups
    r = _run_cluster("down", cluster.env)
    assert r.returncode == 0, "a second down failed:\n" + r.stdout
