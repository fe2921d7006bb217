"""End to end with a real Slurm (scenario 7 of the Slurm issue): the checkpoints' filesystem
fills up during the dump of a preempted job. The job keeps running, is preempted as Slurm
would without ckpt (requeued, restarted from the top), and nothing half-written is ever
committed or restored.

Its own cluster, whose images root is a 256 KiB tmpfs this module mounts.
"""
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from test_slurm_cluster import DIR, ckpt_cluster
from test_slurm_ckpt import node_state, count_lines, starts, COUNTER

SMALL = Path("/run/ckpt-enospc")


@pytest.fixture(scope="module")
def small_cluster():
    SMALL.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ckpt-enospc-"))
    os.chmod(work, 0o755)
    mounted = False
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0711", "ckpt-enospc",
                        str(SMALL)], check=True)
        mounted = True
        with ckpt_cluster(work, log_lines=20, CKPT_SLURM_GRACE="10",
                          CKPT_SLURM_IMAGES=str(SMALL)) as c:
            yield c
    finally:
        if mounted:
            subprocess.run(["umount", str(SMALL)])
        subprocess.run(["rm", "-rf", str(work)])


def test_full_disk_during_dump_job_preempted_as_usual(small_cluster):
    c = small_cluster
    script = c.workdir / "job.sh"
    script.write_text(COUNTER.replace("-lt 40", "-lt 400"))
    out = c.workdir / "job.out"
    node_state(c, "n2", "drain", "keep_free")
    try:
        jobid = c.sbatch("-p", "low", "-o", str(out), "--checkpoint", str(script))
        c.wait(jobid, lambda j: j["JobState"] == "RUNNING", "running", 30)
    finally:
        node_state(c, "n2", "resume")
    while count_lines(out) < 4:
        time.sleep(0.2)
    high = c.sbatch("-p", "high", "-w", "n1", "--exclusive", "-o", "/dev/null", "--wrap",
                    "sleep 20")
    log = DIR / "log" / "ckptd-n1.log"
    t0 = time.monotonic()
    while "nothing committed, the job runs on" not in log.read_text():
        assert time.monotonic() - t0 < 30, log.read_text()
        time.sleep(0.2)
    # it runs on through GraceTime
    n = count_lines(out)
    time.sleep(2)
    assert count_lines(out) > n, "the job stopped after the failed dump"
    c.wait(jobid, lambda j: j["Restarts"] != "0" and j["JobState"] == "RUNNING",
           "requeued by Slurm and running again", 120)
    # the second run writes its own first lines (the file Slurm truncated still showed the
    # first run's until then)
    t0 = time.monotonic()
    while starts(c, jobid) < 2 or count_lines(out) < 3:
        assert time.monotonic() - t0 < 30, "not restarted from the top:\n" + out.read_text()
        time.sleep(0.2)
    c.run("scancel", str(jobid), str(high), check=False)
    assert starts(c, jobid) == 2, "restarted from the top, as without ckpt"
    jobdir = SMALL / str(jobid)
    left = sorted(p.name for p in jobdir.iterdir()) if jobdir.exists() else []
    assert not [n for n in left if n.isdigit() or n == "latest" or n.startswith(".tmp")], left
