"""Files saved with the image (dump --save-path) and regular files handed in at restore
(--inherit-fd fd[N]:file:PATH): what a Slurm job's output file and batch script need."""
import os
import signal
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import crlib

# A writer that appends one numbered line every 50 ms to its stdout (a regular file), and
# keeps a second file open for reading (the "script"), whose offset it reports.
WRITER = r"""
import os, sys, time
script = open(sys.argv[1], "rb")
script.read(7)
i = 0
while True:
    print("line %d script-at %d" % (i, script.tell()), flush=True)
    i += 1
    time.sleep(0.05)
"""


def start_writer(tmp_path, tracker, user=None):
    prog = tmp_path / "writer.py"
    prog.write_text(WRITER)
    script = tmp_path / "script.txt"
    script.write_text("abcdefghijklmnop\n")
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if user is not None:
        for f in (tmp_path, prog, script, out):
            os.chown(f, user, user)
    pre = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] if user else []
    p = subprocess.Popen(pre + ["/usr/bin/python3", str(prog), str(script)], stdin=subprocess.DEVNULL,
                         stdout=fd, stderr=subprocess.DEVNULL, start_new_session=True,
                         close_fds=True)
    os.close(fd)
    tracker.add(p.pid)
    while out.read_text().count("\n") < 5:
        time.sleep(0.05)
    return p, out, script


def lines(path):
    return path.read_text().splitlines()


def check_sequence(text_lines):
    nums = [int(l.split()[1]) for l in text_lines]
    assert nums == list(range(len(nums))), text_lines


def test_saved_output_file_put_back(ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    try:
        p, out, _ = start_writer(tmp_path, tracker)
        img = tmp_path / "img"
        d = subprocess.run([ckpt_bin, "dump", "-t", str(p.pid), "-D", str(img), "--save-path",
                            str(out)], capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr
        p.wait(timeout=30)
        at_dump = out.read_bytes()
        # What Slurm does when it starts the job again: the output file is truncated; and
        # also what a job killed after its last checkpoint leaves: more lines than saved.
        for damage in (b"", at_dump + b"line 99999 written after the checkpoint\n"):
            out.write_bytes(damage)
            pidfile = tmp_path / "pid"
            r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d", "--pidfile",
                                str(pidfile)], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            pid = crlib.read_pidfile(pidfile)
            tracker.add(pid)
            n = len(at_dump.splitlines())
            while out.read_text().count("\n") < n + 5:
                time.sleep(0.05)
            tracker.signal(pid, signal.SIGKILL)
            time.sleep(0.2)
            text = out.read_bytes()
            assert text.startswith(at_dump) and b"\0" not in text, text[:200]
            check_sequence(lines(out))
    finally:
        tracker.kill_all()


def test_inherit_regular_file_by_path(ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    try:
        p, out, script = start_writer(tmp_path, tracker)
        img = tmp_path / "img"
        d = subprocess.run([ckpt_bin, "dump", "-t", str(p.pid), "-D", str(img), "--save-path",
                            str(out)], capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr
        p.wait(timeout=30)
        # The script lives somewhere else on the node it comes back on.
        moved = tmp_path / "elsewhere.txt"
        script.rename(moved)
        r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode != 0 and str(script) in r.stderr, r.stderr
        fd = os.open(moved, os.O_RDONLY)
        pidfile = tmp_path / "pid"
        r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d", "--pidfile", str(pidfile),
                            "--inherit-fd", "fd[%d]:file:%s" % (fd, script)], pass_fds=(fd,),
                           capture_output=True, text=True, timeout=60)
        os.close(fd)
        assert r.returncode == 0, r.stderr
        pid = crlib.read_pidfile(pidfile)
        tracker.add(pid)
        assert os.readlink("/proc/%d/fd/3" % pid) == str(moved)
        n = out.read_text().count("\n")
        while out.read_text().count("\n") < n + 3:
            time.sleep(0.05)
        # the handed-in file was set to the offset the old one had
        assert lines(out)[-1].endswith("script-at 7"), lines(out)[-1]
        check_sequence(lines(out))
    finally:
        tracker.kill_all()


def test_saved_file_written_with_owner_rights(ckpt_bin, tmp_path):
    """A saved file is put back by its owner: an image whose file path was moved under a
    root-only directory cannot write there, and the restore fails without running the tree."""
    tracker = crlib.Tracker()
    top = Path(tempfile.mkdtemp(prefix="ckpt-saved-"))
    os.chmod(top, 0o755)
    work = top / "u"
    work.mkdir()
    try:
        p, out, _ = start_writer(work, tracker, user=1000)
        img = tmp_path / "img"
        d = subprocess.run([ckpt_bin, "dump", "-t", str(p.pid), "-D", str(img), "--save-path",
                            str(out)], capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr
        p.wait(timeout=30)
        out.write_bytes(b"")
        os.chown(work, 0, 0)
        os.chmod(work, 0o755)
        out.unlink()  # the user cannot create it again in a root-owned dir
        r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode != 0 and "could not be put back" in r.stderr, r.stderr
        assert not out.exists()
    finally:
        tracker.kill_all()
        shutil.rmtree(top, ignore_errors=True)
