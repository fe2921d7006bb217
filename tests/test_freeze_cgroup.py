"""dump --freeze-cgroup: the tree's cgroup is frozen while it is seized, then thawed."""
import os
import pathlib

import pytest

FREEZER = pathlib.Path("/sys/fs/cgroup/freezer")


@pytest.fixture
def cgroup():
    if not (FREEZER / "freezer.state").exists() and not FREEZER.is_dir():
        pytest.skip("no cgroup v1 freezer mounted")
    path = FREEZER / ("ckpt-test-%d" % os.getpid())
    path.mkdir()
    try:
        yield path
    finally:
        (path / "freezer.state").write_text("THAWED")
        for pid in (path / "cgroup.procs").read_text().split():
            (FREEZER / "cgroup.procs").write_text(pid)  # back to the root, then the test kills it
        path.rmdir()


def test_dump_frozen_cgroup(cr, cgroup):
    run = cr.start("tree")
    for pid in run.pids:
        (cgroup / "cgroup.procs").write_text(str(pid))
    img = cr.path("img")
    cr.dump(run, img, "--freeze-cgroup", cgroup, "-R")
    assert (cgroup / "freezer.state").read_text().strip() == "THAWED"
    cr.check_running(run)
    cr.kill_tree(run)
    cr.restore_and_verify(run, img, count=len(run.pids))


def test_freeze_cgroup_missing(cr):
    run = cr.start("threads")
    r = cr.run_ckpt("dump", "-t", run.pid, "-D", cr.path("img"), "--freeze-cgroup",
                    "/sys/fs/cgroup/freezer/no-such-cgroup")
    assert r.returncode != 0 and len(r.error_lines()) == 1, r.describe()
    assert "no-such-cgroup" in r.stderr
    cr.terminate_and_verdict(run)
