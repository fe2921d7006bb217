"""Objects the engine cannot restore are refused at dump time, by name, before the tree is
touched: one test per kind. Each expects a non-zero exit, exactly one "Error:" line naming
the pid, the fd (for fds) and the kind of object, and a program that still runs and whose
object still works afterwards (it checks that itself on SIGTERM and prints PASS).

The programs are a small Python script (OBJECT_PROG) that holds one object, following the
protocol of tests/cr/crtest.h, and tests/cr/vfork_wait.c for a vfork() in progress.
Eventfd, timerfd, signalfd, epoll, inotify and FIFOs are restored (tests/cr/*.c); what is
refused of them is here too: an epoll instance watching a file no longer open at the fd
number it was added with, and a FIFO whose path is gone at restore time.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

import crlib
from test_bad_input import expect_dump_fails, expect_restore_fails

OBJECT_PROG = r'''
import ctypes, errno, fcntl, os, select, signal, socket, struct, sys

kind, workdir = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1})


def check(fd):
    if fd < 0:
        raise OSError(ctypes.get_errno(), "setting up " + kind)
    return fd


def lock_kind(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        return [l.split()[2] for l in f if l.startswith("lock:")]


keep = []
if kind == "epoll_closed":
    # the watched file was added through a dup that was then closed: it is no longer at
    # that fd number in the task
    ep = select.epoll()
    r, w = os.pipe()
    r2 = os.dup(r)
    ep.register(r2, select.EPOLLIN)
    os.close(r2)
    os.write(w, b"x")
    fd = ep.fileno()
    verify = lambda: [e[0] for e in ep.poll(0)] == [r2]
elif kind == "io_uring":
    params = ctypes.create_string_buffer(120)
    fd = check(libc.syscall(425, 4, params))  # io_uring_setup
    verify = lambda: os.readlink("/proc/self/fd/%d" % fd) == "anon_inode:[io_uring]"
elif kind == "pidfd":
    fd = os.pidfd_open(os.getpid())
    verify = lambda: select.select([fd], [], [], 0)[0] == []
elif kind == "userfaultfd":
    fd = check(libc.syscall(323, os.O_CLOEXEC))  # userfaultfd
    verify = lambda: os.readlink("/proc/self/fd/%d" % fd) == "anon_inode:[userfaultfd]"
elif kind in ("flock", "posix", "ofd"):
    f = open(os.path.join(workdir, "locked"), "w")
    keep.append(f)
    fd = f.fileno()
    if kind == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX)
    elif kind == "posix":
        fcntl.lockf(fd, fcntl.LOCK_EX)
    else:
        fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))  # F_OFD_SETLK
    want = {"flock": "FLOCK", "posix": "POSIX", "ofd": "OFDLCK"}[kind]
    verify = lambda: lock_kind(fd) == [want]
elif kind == "tcp":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    keep.append(s)
    fd = s.fileno()
    def verify():
        c = socket.create_connection(s.getsockname())
        a, _ = s.accept()
        c.sendall(b"ok")
        return a.recv(2) == b"ok"
elif kind in ("tcp_conn", "tcp_close_wait", "tcp_pending"):
    # an established connection, one whose peer closed (CLOSE_WAIT), a listener with a
    # connection not accepted yet (tests/test_tcp.py)
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen()
    c = socket.create_connection(l.getsockname())
    keep += [l, c]
    fd = l.fileno() if kind == "tcp_pending" else c.fileno()
    if kind != "tcp_pending":
        a, _ = l.accept()
        keep.remove(l)
        l.close()
        keep.append(a)
    if kind == "tcp_close_wait":
        a.close()
        select.select([c], [], [], 5)
    def verify():
        if kind == "tcp_close_wait":
            return c.recv(1) == b""
        if kind == "tcp_pending":
            return l.accept()[0] is not None
        c.sendall(b"ok")
        return a.recv(2) == b"ok"
elif kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    keep.append(s)
    fd = s.fileno()
    def verify():
        s.sendto(b"ok", s.getsockname())
        return s.recv(2) == b"ok"
elif kind == "netlink":
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    keep.append(s)
    fd = s.fileno()
    verify = lambda: s.fileno() == fd
elif kind == "unix_listen":
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(workdir, "sock"))
    s.listen()
    keep.append(s)
    fd = s.fileno()
    def verify():
        c = socket.socket(socket.AF_UNIX)
        c.connect(os.path.join(workdir, "sock"))
        return s.accept()[0] is not None
elif kind == "unix_rights_nested":
    # d is in flight at b, and d's own queue holds a file in flight: dumping d would need
    # its queue dumped in flight too
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    keep += [a, b, c, d]
    r, w = os.pipe()
    socket.send_fds(c, [b"y"], [r])
    socket.send_fds(a, [b"x"], [d.fileno()])
    fd = b.fileno()
    def verify():
        msg, fds, _, _ = socket.recv_fds(b, 1, 1)
        inner = socket.socket(fileno=fds[0])
        msg2, fds2, _, _ = socket.recv_fds(inner, 1, 1)
        return msg == b"x" and msg2 == b"y" and len(fds2) == 1
elif kind == "unix_rights_accepted":
    # an accepted socket in flight at a datagram socket bound to a name
    path = os.path.join(workdir, "dgram.sock")
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(path)
    l = socket.socket(socket.AF_UNIX)
    l.bind(os.path.join(workdir, "listen.sock"))
    l.listen()
    c = socket.socket(socket.AF_UNIX)
    c.connect(os.path.join(workdir, "listen.sock"))
    a = l.accept()[0]
    x = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    x.connect(path)
    socket.send_fds(x, [b"m"], [a.fileno()])
    x.close()
    keep += [d, l, c, a]
    fd = d.fileno()
    def verify():
        msg, fds, _, _ = socket.recv_fds(d, 1, 1)
        return msg == b"m" and len(fds) == 1
elif kind == "unix_passcred":
    a, b = socket.socketpair()
    keep += [a, b]
    b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    a.send(b"x")
    fd = b.fileno()
    verify = lambda: b.recv(1) == b"x"
elif kind == "unix_relative_moved":
    # bound from the work dir, then the task moved: nothing tells where rel.sock is
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("rel.sock")
    os.chdir("/")
    keep.append(s)
    fd = s.fileno()
    def verify():
        s.sendto(b"ok", os.path.join(workdir, "rel.sock"))
        return s.recv(2) == b"ok"
else:
    raise SystemExit("unknown kind " + kind)

os.write(1, b"FD %d\nREADY\n" % fd)
signal.sigwait({signal.SIGTERM})
ok = verify()
os.write(1, b"PASS\n" if ok else b"FAIL: the object changed\n")
sys.exit(0 if ok else 1)
'''


def start_object(cr, kind):
    """Run OBJECT_PROG for kind; returns (Running, the fd it holds)."""
    script = cr.tmp / "object_prog.py"
    script.write_text(OBJECT_PROG)
    workdir = cr.tmp / ("work-" + kind)
    workdir.mkdir(parents=True, exist_ok=True)
    out = cr.tmp / ("%s.out" % kind)
    with open(out, "wb") as fh:
        p = cr.tracker.popen([sys.executable, str(script), kind, str(workdir)],
                             stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                             cwd=workdir, start_new_session=True)
    run = crlib.Running(cr, kind, p, out, workdir)
    ready = lambda: "READY" in run.output().splitlines() or p.poll() is not None
    assert crlib.wait_until(ready, crlib.TIMEOUT), "%s printed no READY\n%s" % (kind, run.output())
    assert p.poll() is None, "%s exited %s before READY:\n%s" % (kind, p.returncode, run.output())
    run.refresh_pids()
    fd = int(re.search(r"^FD (\d+)$", run.output(), re.M).group(1))
    return run, fd


# kind, what the error must say after "pid N: fd F: "
OBJECTS = [
    ("epoll_closed", re.compile(r"epoll instance watches a file added as fd \d+, which the task no "
                                r"longer has open at that number \(closed after a dup\?\): not supported")),
    ("io_uring", "io_uring instance: not supported"),
    ("pidfd", "pidfd: not supported"),
    ("userfaultfd", "userfaultfd: not supported"),
    ("flock", "holds a flock lock: dump with --file-locks"),
    ("posix", "holds a POSIX lock: dump with --file-locks"),
    ("ofd", "holds an OFD lock: dump with --file-locks"),
    ("tcp", re.compile(r"TCP socket listening on 127\.0\.0\.1:\d+: dump with --tcp-established")),
    ("udp", re.compile(r"UDP socket bound to 127\.0\.0\.1:\d+: not supported")),
    ("netlink", "netlink socket (protocol 0): not supported"),
    # unix sockets bound to a path or listening are dumped (tests/cr/unix_bound.c)
    # files in flight and relative paths are dumped (tests/cr/unix_rights.c, unix_relative.c)
    ("unix_rights_nested", "queued at its unix socket, in flight: a unix socket whose own queue "
                           "holds file descriptors (socket:["),
    ("unix_rights_accepted", "an accepted unix socket in flight at a datagram socket bound to a "
                             "name: not supported"),
    ("unix_passcred", "queued messages with credentials (SO_PASSCRED, SCM_CREDENTIALS): not "
                      "supported"),
    ("unix_relative_moved", "unix socket bound to the relative path 'rel.sock', which is not its "
                            "socket file from the cwd of any task of the tree (moved since bind, "
                            "or unlinked): not supported"),
]


@pytest.mark.parametrize("kind,what", OBJECTS, ids=[o[0] for o in OBJECTS])
def test_fd_refused(cr, kind, what):
    run, fd = start_object(cr, kind)
    img = cr.path("img")
    prefix = "pid %d: fd %d: " % (run.pid, fd)
    err = expect_dump_fails(cr, run, img, prefix, what).error_lines()[0]
    assert prefix in err, err
    # Nothing of a checkpoint was left behind.
    assert not list(pathlib.Path(img).glob("*.img")), sorted(os.listdir(img))


def test_vfork_refused(cr):
    run = cr.start("vfork_wait")
    kids = crlib.children(run.pid)
    assert len(kids) == 1, kids
    expect_dump_fails(cr, run, cr.path("img"),
                      "pid %d: vfork() in progress: its child %d" % (run.pid, kids[0]),
                      "not supported")


def test_fifo_gone_at_restore(cr):
    """A FIFO removed between dump and restore: refused while the images are checked, which
    leaves them as they were; once it is made again, the same images restore."""
    run = cr.start("fifo", ("{workdir}",))
    img = cr.path("img")
    cr.dump(run, img)
    cr.check_gone(run)
    fifo = run.workdir / "fifo_both"
    fifo.unlink()
    expect_restore_fails(cr, img, "pid %d: fd " % run.pid, "FIFO '%s' is gone" % fifo, "mkfifo")
    os.mkfifo(fifo, 0o600)
    cr.restore_and_verify(run, img, count=len(run.pids))
