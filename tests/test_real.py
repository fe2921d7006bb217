"""Real programs checkpointed midway, restored, and let finish: their whole output must equal
that of a run that was never interrupted. Each runs as root and as an unprivileged user."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import crlib

HERE = pathlib.Path(__file__).resolve().parent / "real"
TIMEOUT = 60
JOBS = {
    "bash-pipeline": ["/bin/bash", str(HERE / "pipeline.sh")],
    "python3": ["/usr/bin/python3", str(HERE / "compute.py")],
    "python3-mp-pool": ["/usr/bin/python3", str(HERE / "mp_pool.py")],
    "gzip": ["/bin/bash", str(HERE / "gzip.sh")],
    "make-j2": ["/bin/bash", str(HERE / "make.sh")],
    "openmp-4-threads": ["/bin/bash", str(HERE / "openmp.sh")],
    "sqlite3": ["/bin/bash", str(HERE / "sqlite.sh"), "delete"],
    "sqlite3-wal": ["/bin/bash", str(HERE / "sqlite.sh"), "wal"],
    "mpich-2-ranks": ["/bin/bash", str(HERE / "mpich.sh")],
    "mpich-2-ranks-tcp": ["/bin/bash", str(HERE / "mpich.sh"), "tcp"],
}
# Options given to both the dump and the restore of a job: sqlite3 holds POSIX locks on its
# database (and, in WAL mode, on byte ranges of the mapped -shm index) mid-transaction; Hydra
# and UCX listen on TCP ports, and with UCX_TLS=tcp the ranks are connected over TCP.
CKPT_OPTS = {
    "sqlite3": ["--file-locks"],
    "sqlite3-wal": ["--file-locks"],
    "mpich-2-ranks": ["--tcp-established"],
    "mpich-2-ranks-tcp": ["--tcp-established"],
}
USERS = {"root": [], "uid1000": ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"]}


def run_job(argv, workdir, out):
    with open(out, "wb") as fh:
        return subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def prepare(tmp, name, uid):
    # pytest's own tmp root is private to root: an unprivileged job gets a directory it can
    # reach by any path (a program may re-open itself through /proc/self/exe, for one).
    d = pathlib.Path(tempfile.mkdtemp(prefix="ckpt-real-%s-" % name, dir="/tmp")) if uid else tmp / name
    if uid:
        os.chmod(d, 0o755)
        os.chown(d, 1000, 1000)
    else:
        d.mkdir()
    return d


def report(job, user, dump_log, restore_log):
    """The engine's own figures, printed for `pytest -s tests/test_real.py`: the dump's time,
    frozen time and size, and the time until the restored tree runs."""
    dm = re.search(r"Dumped (\d+) task.*written in ([\d.]+) s \(frozen ([\d.]+) s\)", dump_log)
    size = re.search(r"pages, (.*?) written", dump_log)
    rm = re.search(r"restored (\d+) task\(s\) in ([\d.]+) s", restore_log)
    if dm and rm:
        print("\nreal %s as %s: %s tasks, dump %s s (frozen %s s, %s), restore %s s" % (
            job, user, dm.group(1), dm.group(2), dm.group(3), size.group(1) if size else "?",
            rm.group(2)))


@pytest.mark.parametrize("user", USERS, ids=list(USERS))
@pytest.mark.parametrize("job", JOBS, ids=list(JOBS))
def test_real_program(ckpt_bin, tmp_path, job, user):
    if user != "root" and job == "make-j2" and not shutil.which("cc"):
        pytest.skip("no C compiler")
    if job.startswith("mpich") and not (shutil.which("mpicc") and shutil.which("mpirun")):
        pytest.skip("no MPICH (mpicc, mpirun)")
    argv = USERS[user] + JOBS[job]
    uid = 1000 if user != "root" else 0
    ref_dir = prepare(tmp_path, "ref", uid)
    ref = run_job(argv, ref_dir, ref_dir / "out")
    assert ref.wait(timeout=TIMEOUT) == 0, (ref_dir / "out").read_text()
    expected = (ref_dir / "out").read_bytes()

    work = prepare(tmp_path, "cr", uid)
    p = run_job(argv, work, work / "out")
    tracker = crlib.Tracker()
    try:
        time.sleep(1.0)
        assert p.poll() is None, "%s ended before the checkpoint" % job
        pids = crlib.tree_pids(p.pid)
        for pid in pids:
            tracker.add(pid)
        img = tmp_path / "img"
        opts = CKPT_OPTS.get(job, [])
        d = subprocess.run([ckpt_bin, "-v2", "dump", "-t", str(p.pid), "-D", str(img)] + opts,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
        assert d.returncode == 0, d.stderr
        if "--tcp-established" in opts:
            assert (img / "inetsk.img").exists(), "%s: no TCP socket dumped: not caught midway" % job
        p.wait(timeout=TIMEOUT)
        r = subprocess.run([ckpt_bin, "-v2", "restore", "-D", str(img)] + opts, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT, start_new_session=True)
        report(job, user, d.stdout + d.stderr, r.stdout + r.stderr)
        got = (work / "out").read_bytes()
        assert r.returncode == 0, "restore exit %d\n%s\n--- output ---\n%s" % (
            r.returncode, r.stderr, got.decode(errors="replace"))
        assert got == expected, "output differs\n--- checkpointed ---\n%s\n--- reference ---\n%s" % (
            got.decode(errors="replace"), expected.decode(errors="replace"))
    finally:
        tracker.kill_all()
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        if uid:
            shutil.rmtree(ref_dir, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
