"""End to end with a real Slurm: jobs submitted with `sbatch --checkpoint` are checkpointed by
their node's ckptd when they are preempted or their node is drained, requeued, and go on from
the checkpoint on the other node; their output reads as if they had never been interrupted.

The cluster (tests/slurm/cluster with CKPT_SLURM_CKPT=1: spank_ckpt.so loaded, one ckptd per
node) is brought up once for the module and taken down at the end.
"""
import os
import re
import time

import pytest

from test_slurm_cluster import DIR, FINAL_STATES, OutputWatch, ckpt_cluster

GRACE = 30
COUNT = 40

# A job that counts, one line each 0.5 s, with a child process (sleep) most of the time.
COUNTER = """#!/bin/bash
echo "started" >> starts-$SLURM_JOB_ID.txt
i=0
while [ $i -lt %d ]; do
	echo "count $i"
	i=$((i + 1))
	sleep 0.5
done
echo "done"
""" % COUNT
EXPECTED = "".join("count %d\n" % i for i in range(COUNT)) + "done\n"


@pytest.fixture(scope="module")
def ckcluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("slurmckpt")
    os.chmod(work, 0o755)
    with ckpt_cluster(work, CKPT_SLURM_GRACE=str(GRACE)) as c:
        yield c


def node_state(c, node, state, reason=None):
    extra = ("reason=" + reason,) if reason else ()
    c.run("scontrol", "update", "nodename=" + node, "state=" + state, *extra)


def submit_on_n1(c, name, *args, count=COUNT):
    """A low job that starts on n1 but may move to n2 later (no -w)."""
    script = c.workdir / (name + ".sh")
    script.write_text(COUNTER.replace("-lt %d" % COUNT, "-lt %d" % count))
    out = c.workdir / (name + ".out")
    node_state(c, "n2", "drain", "keep_free")
    try:
        jobid = c.sbatch("-p", "low", "-o", str(out), *args, str(script))
        j = c.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
        assert j["NodeList"] == "n1", j
    finally:
        node_state(c, "n2", "resume")
    return jobid, out


def report(what, t0, t_running, watch, node="n2"):
    """The scenario's figures, for `pytest -s`: trigger -> RUNNING again, and the job's
    downtime, the longest pause in its output (it writes every 0.5 s), with when it began
    and ended, from the trigger."""
    a, b = watch.stop()
    print("%s: trigger -> running again on %s in %.1f s; downtime (longest pause in the "
          "output) %.1f s, from %+.1f s to %+.1f s" % (what, node, t_running, b - a, a - t0,
                                                      b - t0))


def moves_to_n2(c, jobid, out, t0, timeout=90):
    """The job, requeued, runs again on n2 and finishes: (its record, its output, seconds
    from t0 to running again)."""
    j = c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "RUNNING",
               "running again", timeout)
    t_running = time.monotonic() - t0
    assert j["NodeList"] == "n2", j
    j, text = finish(c, jobid, out)
    return j, text, t_running


def count_lines(out):
    try:
        return len(re.findall(r"^count \d+$", out.read_text(), re.M))
    except OSError:
        return 0


def wait_counting(c, jobid, out, n, timeout=30):
    t0 = time.monotonic()
    while count_lines(out) < n:
        assert time.monotonic() - t0 < timeout, "job %d: fewer than %d lines:\n%s" % (
            jobid, n, out.read_text())
        time.sleep(0.2)


def finish(c, jobid, out, timeout=120):
    j = c.wait(jobid, lambda j: j["JobState"] in FINAL_STATES, "finished", timeout)
    return j, out.read_bytes().decode(errors="replace")


def starts(c, jobid):
    """How many times the job's script ran from its top (a restored job does not)."""
    f = c.workdir / ("starts-%d.txt" % jobid)
    return f.read_text().count("started") if f.exists() else 0


def test_preempted_job_resumes_on_other_node(ckcluster):
    c = ckcluster
    jobid, out = submit_on_n1(c, "preempt", "--checkpoint")
    wait_counting(c, jobid, out, 6)
    watch = OutputWatch(out)
    t0 = time.monotonic()
    high = c.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o", str(c.workdir / "high.out"),
                    "--wrap", "sleep 60")
    j, text, t_running = moves_to_n2(c, jobid, out, t0)
    report("preempt", t0, t_running, watch)
    c.run("scancel", str(high), check=False)
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == EXPECTED, text
    assert starts(c, jobid) == 1, "the job ran from its top again instead of being restored"


def test_drained_node_job_resumes_on_other_node(ckcluster):
    c = ckcluster
    jobid, out = submit_on_n1(c, "drain", "--checkpoint")
    wait_counting(c, jobid, out, 6)
    watch = OutputWatch(out)
    t0 = time.monotonic()
    node_state(c, "n1", "drain", "maint")
    try:
        j, text, t_running = moves_to_n2(c, jobid, out, t0)
    finally:
        node_state(c, "n1", "resume")
    report("drain", t0, t_running, watch)
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == EXPECTED, text
    assert starts(c, jobid) == 1, "the job ran from its top again instead of being restored"


def reboot_requests():
    f = DIR / "log" / "reboots"
    return f.read_text().count("\n") if f.exists() else 0


def node_idle(c, node, timeout=30):
    t0 = time.monotonic()
    while "IDLE" not in c.run("scontrol", "-o", "show", "node", node).split("State=")[1].split()[0]:
        assert time.monotonic() - t0 < timeout, c.run("scontrol", "show", "node", node)
        time.sleep(0.5)


def test_reboot_asap_job_resumes_on_other_node(ckcluster):
    """`scontrol reboot ASAP n1`: the job is checkpointed and requeued, Slurm reboots the
    emptied node (the test cluster's RebootProgram records it), the job goes on on n2."""
    c = ckcluster
    jobid, out = submit_on_n1(c, "reboot", "--checkpoint")
    wait_counting(c, jobid, out, 6)
    before = reboot_requests()
    watch = OutputWatch(out)
    t0 = time.monotonic()
    c.run("scontrol", "reboot", "ASAP", "nextstate=resume", "reason=kernel", "n1")
    try:
        j, text, t_running = moves_to_n2(c, jobid, out, t0, timeout=120)
        assert reboot_requests() == before + 1, "slurmd was not asked to reboot n1"
    finally:
        # the reboot that never comes: cancelled, or (once issued) the node resumed by hand
        c.run("scontrol", "cancel_reboot", "n1", check=False)
        c.run("scontrol", "update", "nodename=n1", "state=resume", check=False)
        node_idle(c, "n1")
    report("reboot ASAP", t0, t_running, watch)
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == EXPECTED, text
    assert starts(c, jobid) == 1, "the job ran from its top again instead of being restored"
    log = (DIR / "log" / "ckptd-n1.log").read_text()
    assert "slurm job %d: reboot: checkpoint and requeue" % jobid in log, log


def test_job_without_checkpoint_restarts_from_top(ckcluster):
    c = ckcluster
    # long enough to outlive GraceTime and slurmctld's 30 s check
    jobid, out = submit_on_n1(c, "plain", "--open-mode=append", count=400)
    wait_counting(c, jobid, out, 4)
    high = c.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o", str(c.workdir / "high2.out"),
                    "--wrap", "sleep 30")
    c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "RUNNING",
           "requeued and running again", GRACE + 120)
    t0 = time.monotonic()
    while out.read_text().count("count 0\n") < 2:
        assert time.monotonic() - t0 < 30, out.read_text()
        time.sleep(0.2)
    c.run("scancel", str(jobid), str(high), check=False)
    text = out.read_text()
    # started again from the top of its script, untouched by ckpt
    assert text.count("count 0\n") == 2 and "DUE TO PREEMPTION" in text, text
    assert starts(c, jobid) == 2
    assert not (DIR / "images" / str(jobid)).exists(), "a job without --checkpoint was checkpointed"


# Scenario 4: a bash loop with child processes, python3 computations, and a file the job
# holds open and appends to.
BUSY = """#!/bin/bash
echo "started" >> starts-$SLURM_JOB_ID.txt
exec 3>>data.txt
for i in $(seq 1 %d); do
	echo "step $i sum $(python3 -c "print(sum(range($i * 100000)))")"
	echo "appended $i" >&3
	sleep 0.4
done
echo "data lines: $(wc -l < data.txt)"
"""
BUSY_STEPS = 40


def test_busy_job_preempted_output_and_file_exact(ckcluster):
    c = ckcluster
    script = c.workdir / "busy.sh"
    script.write_text(BUSY % BUSY_STEPS)
    data = c.workdir / "data.txt"
    if data.exists():
        data.unlink()
    out = c.workdir / "busy.out"
    node_state(c, "n2", "drain", "keep_free")
    try:
        jobid = c.sbatch("-p", "low", "-o", str(out), "--checkpoint", str(script))
        c.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
    finally:
        node_state(c, "n2", "resume")
    t0 = time.monotonic()
    while out.read_text().count("\n") < 8 if out.exists() else True:
        assert time.monotonic() - t0 < 60, "busy job does not progress"
        time.sleep(0.2)
    watch = OutputWatch(out)
    t0 = time.monotonic()
    high = c.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o", "/dev/null", "--wrap",
                    "sleep 60")
    j, text, t_running = moves_to_n2(c, jobid, out, t0)
    report("busy", t0, t_running, watch)
    c.run("scancel", str(high), check=False)
    expected = "".join("step %d sum %d\n" % (i, sum(range(i * 100000)))
                       for i in range(1, BUSY_STEPS + 1)) + "data lines: %d\n" % BUSY_STEPS
    assert j["JobState"] == "COMPLETED", (j, text)
    assert text == expected, text
    assert starts(c, jobid) == 1, "the job ran from its top again instead of being restored"
    assert data.read_text() == "".join("appended %d\n" % i for i in range(1, BUSY_STEPS + 1))
