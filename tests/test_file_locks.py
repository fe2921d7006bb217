"""File locks (--file-locks) beyond what test_cr.py's file_locks case covers in every mode:
without the flag a dump is refused naming it and the tree runs on; images with locks are
refused at restore without the flag, and while someone else holds the locks; a file also
locked by a process outside the tree is refused at dump time."""
import fcntl
import os
import pathlib
import re

import crlib
from test_bad_input import expect_dump_fails, expect_restore_fails


def test_dump_without_flag_refused(cr):
    run = cr.start("file_locks", ("{workdir}",))
    img = cr.path("img")
    expect_dump_fails(cr, run, img, re.compile(r"pid \d+: fd \d+: holds an? (flock|POSIX|OFD) lock: "
                                               r"dump with --file-locks"))
    assert not list(pathlib.Path(img).glob("*.img"))


def test_restore_needs_flag_and_free_files(cr):
    run = cr.start("file_locks", ("{workdir}",))
    img = cr.path("img")
    cr.dump(run, img, "-R", "--file-locks")
    # The original still holds every lock: the restore would conflict.
    expect_restore_fails(cr, img, "is flock()ed by another process", opts=("--file-locks",))
    at_dump = crlib.Snapshot([run.out, run.workdir])
    cr.terminate_and_verdict(run)
    at_dump.rewind()
    expect_restore_fails(cr, img, re.compile(r"holds an? \S+ lock on '\S+': restore with --file-locks"))
    cr.restore_and_verify(run, img, "--file-locks", count=2)


def test_outside_holder_refused(cr):
    run = cr.start("file_locks", ("{workdir}",))
    # A lock of ours on a range of posix.dat the tree leaves free.
    with open(run.workdir / "posix.dat", "rb") as f:
        fcntl.lockf(f, fcntl.LOCK_SH, 100, 500)
        expect_dump_fails(cr, run, cr.path("img"),
                          "is also locked outside the tree (a READ POSIX lock of pid %d)" % os.getpid(),
                          opts=("--file-locks",))
