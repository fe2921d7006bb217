"""--inherit-fd: an fd that pointed outside the tree (here the job's stdout pipe) is handed a
new object at restore, and the job goes on writing into it."""
import json
import os
import signal
import subprocess
import time

import crlib


def test_inherit_fd_new_stdout(ckpt_bin, tmp_path):
    counter = crlib.build_dir() / "examples" / "counter"
    p = subprocess.Popen([str(counter)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL,
                         start_new_session=True)
    tracker = crlib.Tracker()
    tracker.add(p.pid)
    rd = wr = None
    try:
        first = p.stdout.readline().decode()
        assert first.startswith("count 1 "), first
        key = os.readlink("/proc/%d/fd/1" % p.pid)
        assert key.startswith("pipe:["), key
        img = tmp_path / "img"
        d = subprocess.run([ckpt_bin, "dump", "-t", str(p.pid), "-D", str(img)],
                           capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr
        p.wait(timeout=30)
        shown = json.loads(subprocess.run([ckpt_bin, "show", str(img)], capture_output=True,
                                          text=True, check=True).stdout)
        assert key in json.dumps(shown)

        # Without the fd the restore refuses, naming the key to hand in.
        r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode != 0 and "--inherit-fd fd[N]:%s" % key in r.stderr, r.stderr

        rd, wr = os.pipe()
        pidfile = tmp_path / "pid"
        r = subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d", "--pidfile", str(pidfile),
                            "--inherit-fd", "fd[%d]:%s" % (wr, key)],
                           pass_fds=(wr,), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        os.close(wr)
        wr = None
        pid = crlib.read_pidfile(pidfile)
        tracker.add(pid)
        with os.fdopen(rd, "rb") as f:
            rd = None
            line = f.readline().decode()
            tracker.signal(pid, signal.SIGKILL)
        # The restored counter carries on: the count after 1, not from 1 again.
        assert line.startswith("count ") and not line.startswith("count 1 "), line
    finally:
        tracker.kill_all()
        for fd in (rd, wr):
            if fd is not None:
                os.close(fd)
