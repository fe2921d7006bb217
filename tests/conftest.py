"""Fixtures of the checkpoint/restore tests (test_cr.py, test_bad_input.py).

`cr` gives a test a crlib.Session: a temporary directory, wrappers around build/ckpt, and a
Tracker of every process the test started; at teardown those processes, and only those, are
killed (through pidfds), any mount the test registered is unmounted, and the image
directories of a test that passed are removed (a failed test keeps them for inspection).
"""
import os
import shutil
import subprocess

import pytest

import crlib


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "ckpt_rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def ckpt_bin():
    if os.geteuid() != 0:
        pytest.skip("checkpoint/restore tests run as root")
    path = crlib.ckpt_path()
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not built (make)" % path)
    return path


@pytest.fixture
def cr(request, ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    session = crlib.Session(tmp_path, tracker)
    try:
        yield session
    finally:
        tracker.kill_all()
        for m in reversed(session.mounts):
            subprocess.run(["umount", "-l", str(m)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        rep = getattr(request.node, "ckpt_rep_call", None)
        if rep is not None and rep.passed:
            for d in tmp_path.glob("img*"):
                shutil.rmtree(d, ignore_errors=True)
