"""--shell-job: a job started from an interactive shell (its session and terminal belong to
the shell) is dumped, then restored onto the restorer's own terminal, where it goes on."""
import os
import pty
import select
import signal
import subprocess
import time

import crlib


def read_until(fd, needle, timeout=10):
    buf = b""
    end = time.time() + timeout
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_shell_job(ckpt_bin, tmp_path):
    counter = crlib.build_dir() / "examples" / "counter"
    tracker = crlib.Tracker()
    # A "shell" on a terminal: session leader, with the job in its own process group.
    shell_pid, master = pty.fork()
    if shell_pid == 0:
        os.closerange(3, 65536)  # the job must hold nothing of pytest's
        os.execv("/bin/bash", ["bash", "--norc", "-i", "-c",
                               "%s & echo JOB=$!; wait" % counter])
    tracker.add(shell_pid)
    try:
        out = read_until(master, b"count 1 ")
        job = int(out.split(b"JOB=")[1].split()[0])
        tracker.add(job)
        img = tmp_path / "img"
        d = subprocess.run([ckpt_bin, "dump", "-t", str(job), "-D", str(img)],
                           capture_output=True, text=True, timeout=60)
        assert d.returncode != 0 and "--shell-job" in d.stderr, d.stderr
        d = subprocess.run([ckpt_bin, "dump", "-t", str(job), "-D", str(img), "--shell-job"],
                           capture_output=True, text=True, timeout=60)
        assert d.returncode == 0, d.stderr

        # Restore from a new "shell" on a new terminal.
        pidfile = tmp_path / "pid"
        rst_pid, master2 = pty.fork()
        if rst_pid == 0:
            os.closerange(3, 65536)
            os.execv(ckpt_bin, [ckpt_bin, "restore", "-D", str(img), "--shell-job",
                                "--pidfile", str(pidfile)])
        tracker.add(rst_pid)
        got = read_until(master2, b"count ", timeout=10)
        got += read_until(master2, b"\n", timeout=5)
        assert b"count " in got, got
        line = got[got.index(b"count "):].split(b"\n")[0]
        assert not line.startswith(b"count 1 "), got
        restored = crlib.read_pidfile(pidfile)
        tracker.add(restored)
        tracker.signal(restored, signal.SIGKILL)
        _, status = os.waitpid(rst_pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGKILL, status
    finally:
        tracker.kill_all()
