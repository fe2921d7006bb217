"""Helpers for the checkpoint/restore tests (test_cr.py, test_bad_input.py).

The programs in tests/cr/ follow one protocol (tests/cr/crtest.h): started in their own
session with stdout and stderr on one file, they print READY once their state is set up,
print nothing more until SIGTERM, then print PASS or "FAIL: reason" and exit 0 or 1.

Every process a test starts, or learns about because a restore created it, is held by a
pidfd in a Tracker; teardown signals those pidfds and nothing else, so a reused pid is
never hit.
"""
import dataclasses
import hashlib
import os
import pathlib
import re
import select
import shutil
import signal
import subprocess
import time

TIMEOUT = 60  # seconds: any one ckpt command, READY, a pidfile, a verdict

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build_dir():
    return pathlib.Path(os.environ.get("CKPT_BUILD") or ROOT / "build")


def ckpt_path():
    return build_dir() / "ckpt"


def prog_path(name):
    return build_dir() / "tests" / "cr" / name


def cpu_flags():
    """The flags of the first CPU in /proc/cpuinfo."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def tail(text, lines=40):
    parts = text.rstrip("\n").split("\n")
    if len(parts) > lines:
        parts = ["[... %d lines cut ...]" % (len(parts) - lines)] + parts[-lines:]
    return "\n".join(parts)


def read_text(path):
    try:
        return pathlib.Path(path).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return "<%s: missing>" % path


# ---------------------------------------------------------------------------------------
# Processes


def proc_state(pid):
    """The state letter of /proc/PID/stat, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data.rsplit(")", 1)[1].split()[0]


def task_states(pid):
    """{tid: state letter} of every thread of pid (empty when it is gone)."""
    states = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return states
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return states


def children(pid):
    """Direct children of pid, from /proc/PID/task/*/children (needs CONFIG_PROC_CHILDREN)."""
    kids = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return kids


def tree_pids(root):
    """root and all its descendants, parents before children."""
    order, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in order:
            continue
        order.append(pid)
        todo += children(pid)
    return order


class Tracker:
    """Processes a test is responsible for, each held by a pidfd taken when it was known."""

    def __init__(self):
        self.held = []  # (pid, pidfd)
        self.popens = []

    def add(self, pid):
        """Hold pid by a pidfd; returns the pidfd, or None when pid is already gone."""
        for p, fd in self.held:
            if p == pid and not pidfd_exited(fd):
                return fd
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None
        self.held.append((pid, fd))
        return fd

    def add_tree(self, root):
        pids = tree_pids(root)
        for pid in pids:
            self.add(pid)
        return pids

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.popens.append(p)
        self.add(p.pid)
        return p

    def fd_of(self, pid):
        for p, fd in reversed(self.held):
            if p == pid:
                return fd
        return None

    def signal(self, pid, sig):
        """Send sig to pid through the pidfd taken when it was added."""
        fd = self.fd_of(pid)
        assert fd is not None, "pid %d is not one this test started" % pid
        signal.pidfd_send_signal(fd, sig)

    def kill_all(self):
        for pid, fd in self.held:
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except (ProcessLookupError, OSError):
                pass
        for p in self.popens:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for pid, fd in self.held:
            os.close(fd)
        self.held = []
        self.popens = []


def pidfd_exited(fd, timeout=0.0):
    """True once the process of pidfd has exited (a zombie counts as exited)."""
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(int(timeout * 1000)))


def wait_until(cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


# ---------------------------------------------------------------------------------------
# Files that a restore checks: the program's output file, its work directory


@dataclasses.dataclass
class FileSnap:
    data: bytes
    atime_ns: int
    mtime_ns: int


class Snapshot:
    """Contents and times of some files, put back in place (same inode) by rewind().

    A dumped program's open files are external resources whose size (and perhaps mtime)
    the restore checks; after a restore that went on to write to them, rewind() makes them
    what they were at dump time, so that the same images can be restored again.
    """

    def __init__(self, paths):
        self.files = {}
        for path in paths:
            path = pathlib.Path(path)
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for f in files:
                st = f.stat()
                self.files[f] = FileSnap(f.read_bytes(), st.st_atime_ns, st.st_mtime_ns)

    def rewind(self):
        for f, snap in self.files.items():
            with open(f, "r+b") as fh:
                fh.write(snap.data)
                fh.truncate(len(snap.data))
            os.utime(f, ns=(snap.atime_ns, snap.mtime_ns))


def dir_hashes(path):
    """{relative name: sha256} of every file under path."""
    path = pathlib.Path(path)
    return {str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(path.rglob("*")) if f.is_file()}


# ---------------------------------------------------------------------------------------
# The per-test session


class CkptResult:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def error_lines(self):
        return [l for l in self.stderr.splitlines() if l.startswith("Error:")]

    def describe(self):
        return "$ %s\nexit %s\n--- stderr ---\n%s\n--- stdout ---\n%s" % (
            " ".join(map(str, self.argv)), self.returncode, tail(self.stderr), tail(self.stdout))


class Running:
    """A started test program: its Popen, its output file, the pids of its tree."""

    def __init__(self, session, name, popen, out, workdir):
        self.session, self.name, self.popen = session, name, popen
        self.out, self.workdir = out, workdir
        self.pids = [popen.pid]
        self.zombies = set()  # pids of the tree that had ended (not reaped) at READY

    @property
    def pid(self):
        return self.popen.pid

    def output(self):
        return read_text(self.out)

    def refresh_pids(self):
        """Collect the tree again (call it while the tree runs) and hold every pid."""
        self.pids = self.session.tracker.add_tree(self.pid)
        self.zombies = {pid for pid in self.pids if proc_state(pid) == "Z"}
        return self.pids


class Session:
    """What one test uses: a temporary directory, a Tracker, and ckpt wrappers."""

    def __init__(self, tmp_path, tracker):
        self.tmp = pathlib.Path(tmp_path)
        self.tracker = tracker
        self.ckpt = str(ckpt_path())
        self.counter = 0
        self.mounts = []  # unmounted by the fixture at teardown

    def path(self, prefix):
        self.counter += 1
        return self.tmp / ("%s-%d" % (prefix, self.counter))

    # -- programs ------------------------------------------------------------------

    def start(self, binary, args=(), workdir=None, out=None):
        """Start a tests/cr program and wait for READY; returns a Running."""
        exe = prog_path(binary)
        assert exe.exists(), "%s is not built (make cr-progs)" % exe
        workdir = pathlib.Path(workdir or self.tmp / "work")
        workdir.mkdir(parents=True, exist_ok=True)
        out = pathlib.Path(out or self.tmp / ("%s.out" % binary))
        args = [str(a).replace("{workdir}", str(workdir)) for a in args]
        with open(out, "wb") as fh:
            p = self.tracker.popen([str(exe)] + args, stdin=subprocess.DEVNULL, stdout=fh,
                                   stderr=subprocess.STDOUT, cwd=workdir,
                                   start_new_session=True)
        run = Running(self, binary, p, out, workdir)

        def ready():
            return "READY" in read_text(out).splitlines() or p.poll() is not None

        if not wait_until(ready, TIMEOUT):
            raise AssertionError("%s printed no READY in %d s\n%s" % (binary, TIMEOUT,
                                                                      run.output()))
        assert p.poll() is None, "%s exited %s before READY:\n%s" % (binary, p.returncode,
                                                                      run.output())
        run.refresh_pids()
        return run

    def terminate_and_verdict(self, run, what="the program"):
        """SIGTERM a running (not restored) program and check it still passes."""
        self.tracker.signal(run.pid, signal.SIGTERM)
        try:
            rc = run.popen.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not end %d s after SIGTERM\n%s" % (
                what, TIMEOUT, run.output()))
        line = verdict(run.out)
        assert rc == 0 and line == "PASS", "%s: exit %s, verdict %r\n--- output ---\n%s" % (
            what, rc, line, tail(run.output()))

    # -- ckpt ----------------------------------------------------------------------

    def run_ckpt(self, *args, timeout=TIMEOUT):
        argv = [self.ckpt] + [str(a) for a in args]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout,
                               start_new_session=True)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("timed out after %d s: %s\n--- stderr ---\n%s" % (
                timeout, " ".join(argv), tail((e.stderr or b"").decode("utf-8", "replace"))))
        return CkptResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                          p.stderr.decode("utf-8", "replace"))

    def dump(self, run, imgdir, *opts):
        r = self.run_ckpt("dump", "-t", run.pid, "-D", imgdir, *opts)
        assert r.returncode == 0, "dump of %s failed\n%s\n%s\n--- program output ---\n%s" % (
            run.name, r.describe(), image_log(imgdir, "dump"), tail(run.output()))
        return r

    def check_gone(self, run, timeout=10):
        """After a dump without -R/-s: every process of the tree has ended."""
        try:
            run.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s (pid %d) still runs after the dump" % (run.name, run.pid))
        for pid in run.pids:
            fd = self.tracker.fd_of(pid)
            assert fd is None or pidfd_exited(fd, timeout), \
                "pid %d of %s still runs after the dump (state %s)" % (
                    pid, run.name, proc_state(pid))

    def check_running(self, run, stopped=False):
        """Every thread of every process of the tree is alive, and stopped or not."""
        for pid in run.pids:
            if pid in run.zombies:
                assert proc_state(pid) == "Z", "zombie %d of %s is in state %s" % (
                    pid, run.name, proc_state(pid))
                continue
            fd = self.tracker.fd_of(pid)
            assert fd is not None and not pidfd_exited(fd), \
                "pid %d of %s has ended after the dump" % (pid, run.name)
            states = task_states(pid)
            assert states, "pid %d of %s has no threads" % (pid, run.name)
            for tid, st in states.items():
                if stopped:
                    assert st == "T", "%s: task %d/%d is in state %s, want T (stopped)" % (
                        run.name, pid, tid, st)
                else:
                    assert st in ("R", "S", "D"), "%s: task %d/%d is in state %s after the dump" % (
                        run.name, pid, tid, st)

    def kill_tree(self, run):
        for pid in run.pids:
            if self.tracker.fd_of(pid) is None:
                continue
            try:
                self.tracker.signal(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run.popen.wait(timeout=TIMEOUT)
        for pid in run.pids:
            fd = self.tracker.fd_of(pid)
            assert fd is None or pidfd_exited(fd, 10), "pid %d survived SIGKILL" % pid

    def restore_start(self, imgdir, *opts):
        """Start `ckpt restore` in the background; returns (Popen, pidfile, stderr file)."""
        n = self.path("restore")
        pidfile, errf = n.with_suffix(".pid"), n.with_suffix(".err")
        with open(errf, "wb") as eh:
            p = self.tracker.popen([self.ckpt, "restore", "-D", str(imgdir), "--pidfile",
                                    str(pidfile)] + [str(o) for o in opts],
                                   stdin=subprocess.DEVNULL, stdout=eh, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        return p, pidfile, errf

    def wait_pidfile(self, popen, pidfile, errf, imgdir, out):
        """The pid written to pidfile once the tree runs (held by the tracker)."""
        pid = []

        def ready():
            value = read_pidfile(pidfile)
            if value:
                time.sleep(0.05)  # the same number twice: the write was complete
                if read_pidfile(pidfile) == value:
                    pid.append(value)
                    return True
            return popen.poll() is not None

        ok = wait_until(ready, TIMEOUT)
        if not pid:
            raise AssertionError(
                "restore wrote no pidfile %s (%s)\n--- restore output (exit %s) ---\n%s\n%s\n"
                "--- program output ---\n%s" % (
                    pidfile, "timed out" if not ok else "it ended", popen.poll(),
                    tail(read_text(errf)), image_log(imgdir, "restore"), tail(read_text(out))))
        self.tracker.add_tree(pid[0])
        return pid[0]

    def restore_and_verify(self, run, imgdir, *opts, count=None):
        """Restore imgdir (not detached), SIGTERM the restored root, expect exit 0 and PASS."""
        p, pidfile, errf = self.restore_start(imgdir, *opts)
        pid = self.wait_pidfile(p, pidfile, errf, imgdir, run.out)

        def diag():
            return "--- restore output ---\n%s\n%s\n--- program output ---\n%s" % (
                tail(read_text(errf)), image_log(imgdir, "restore"), tail(run.output()))

        if count is not None:
            got = []

            def full():
                got[:] = tree_pids(pid)
                return len(got) >= count

            assert wait_until(full, 5), "restored tree of %s has %d processes %s, want %d\n%s" % (
                run.name, len(got), got, count, diag())
            self.tracker.add_tree(pid)
        try:
            self.tracker.signal(pid, signal.SIGTERM)
        except ProcessLookupError:
            raise AssertionError("restored root %d of %s ended before SIGTERM\n%s" % (
                pid, run.name, diag()))
        try:
            rc = p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("restore of %s did not end %d s after SIGTERM\n%s" % (
                run.name, TIMEOUT, diag()))
        line = verdict(run.out)
        assert rc == 0 and line == "PASS", "restored %s: restore exit %s, verdict %r\n%s" % (
            run.name, rc, line, diag())
        return pid

    def restore_detached_and_verify(self, run, imgdir, *opts):
        """restore -d: returns once the tree runs; SIGTERM the root, wait for its end, PASS."""
        pidfile = self.path("restore").with_suffix(".pid")
        r = self.run_ckpt("restore", "-d", "-D", imgdir, "--pidfile", pidfile, *opts)
        pid = read_pidfile(pidfile)
        if pid:
            self.tracker.add_tree(pid)
        assert r.returncode == 0 and pid, "restore -d of %s failed\n%s\n%s" % (
            run.name, r.describe(), image_log(imgdir, "restore"))
        fd = self.tracker.fd_of(pid)
        assert fd is not None and not pidfd_exited(fd), \
            "restore -d returned but the root %d of %s is gone\n%s" % (pid, run.name,
                                                                       tail(run.output()))
        self.tracker.signal(pid, signal.SIGTERM)
        assert pidfd_exited(fd, TIMEOUT), "restored %s did not end %d s after SIGTERM\n%s" % (
            run.name, TIMEOUT, tail(run.output()))
        line = verdict(run.out)
        assert line == "PASS", "restored (detached) %s: verdict %r\n--- output ---\n%s" % (
            run.name, line, tail(run.output()))


def read_pidfile(path):
    """The pid in path, or 0 when it is missing or not (yet) a number."""
    try:
        text = pathlib.Path(path).read_text()
    except FileNotFoundError:
        return 0
    return int(text) if re.fullmatch(r"\s*[0-9]+\s*", text) else 0


def verdict(out):
    """The last non-empty line of a program's output file."""
    lines = [l.strip() for l in read_text(out).splitlines() if l.strip()]
    return lines[-1] if lines else ""


def image_log(imgdir, verb):
    """The tail of dump.log/restore.log in the image directory, if the engine wrote one."""
    log = pathlib.Path(imgdir) / ("%s.log" % verb)
    if not log.exists():
        return ""
    return "--- %s ---\n%s" % (log, tail(read_text(log), 60))


def copy_images(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return pathlib.Path(dst)
