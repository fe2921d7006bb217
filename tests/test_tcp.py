"""--tcp-established: TCP connections with a peer outside the tree, and what is refused.
The tests/cr programs tcp_pair and tcp_listen (tests/test_cr.py) cover connections held at
both ends inside the tree and listeners.

A peer outside the tree: this test holds the other end of the job's connection on
127.0.0.1. The dump kills the job with its socket in repair mode, whose close sends nothing:
the peer sees neither end of stream nor reset, and after the restore the exchange goes on,
the bytes queued unread at the job's end at the dump included. The peer must not send while
the job is down: the kernel would answer for the missing socket with a reset."""
import json
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

import crlib
from test_bad_input import expect_dump_fails, expect_restore_fails
from test_ext_unix_sk import start_python
from test_refusals import start_object

TCP = ("--tcp-established",)

JOB = r'''
import os, signal, socket, sys
port = int(sys.argv[2]) if len(sys.argv) > 2 else int(open(os.path.join(sys.argv[1], "port")).read())
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"job-hello")
os.write(1, b"READY\n")
signal.sigwait({signal.SIGTERM})
s.settimeout(10)
def recv_exact(n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            break
        b += d
    return b
# queued unread at the dump
got = recv_exact(len(b"queued-before-dump"))
s.sendall(b"job-again")
more = recv_exact(len(b"peer-again"))
ok = got == b"queued-before-dump" and more == b"peer-again"
os.write(1, b"PASS\n" if ok else b"FAIL: got %r then %r\n" % (got, more))
sys.exit(0 if ok else 1)
'''


def recv_exact(sk, n, timeout=10):
    sk.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        d = sk.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def serve_again(peer):
    """The peer's side of the exchange after the restore, in a thread: (thread, result)."""
    result = {}

    def serve():
        try:
            result["again"] = recv_exact(peer, 9)
            peer.sendall(b"peer-again")
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=serve)
    t.start()
    return t, result


def start_job(cr, port):
    (cr.tmp / "port").write_text(str(port))
    return start_python(cr, "job", JOB, cr.tmp / "job.out")


def job_connected(cr):
    """The job, connected to a peer of ours that has read its hello: (job, peer socket)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    job = start_job(cr, lst.getsockname()[1])
    peer, _ = lst.accept()
    lst.close()
    assert recv_exact(peer, 9) == b"job-hello"
    return job, peer


def test_tcp_peer_outside(cr):
    job, peer = job_connected(cr)
    peer.sendall(b"queued-before-dump")
    time.sleep(0.2)  # in the job's receive queue, unread
    img = cr.tmp / "img"
    cr.dump(job, img, *TCP)
    cr.check_gone(job)
    # the job's socket closed in repair mode: nothing reached us, no end of stream, no reset
    readable, _, _ = select.select([peer], [], [], 1.0)
    assert not readable, "the peer saw something when the job was killed: %r" % (
        peer.recv(64, socket.MSG_DONTWAIT),)
    t, result = serve_again(peer)
    try:
        cr.restore_and_verify(job, img, *TCP, count=1)
    finally:
        t.join(20)
    assert result.get("again") == b"job-again", result
    # the connection ends as a normal one: the job exited, we read the end of stream
    assert recv_exact(peer, 1) == b""
    peer.close()


def test_tcp_peer_outside_leave_running(cr):
    """dump -R: the job's socket leaves repair mode without a packet, SO_REUSEADDR and all,
    and the exchange goes on with the original job."""
    job, peer = job_connected(cr)
    peer.sendall(b"queued-before-dump")
    time.sleep(0.2)
    cr.dump(job, cr.tmp / "img", "-R", *TCP)
    cr.check_running(job)
    readable, _, _ = select.select([peer], [], [], 0.5)
    assert not readable, "the peer saw something at the dump: %r" % (peer.recv(64, socket.MSG_DONTWAIT),)
    t, result = serve_again(peer)
    try:
        cr.terminate_and_verdict(job, "the job after dump -R")
    finally:
        t.join(20)
    assert result.get("again") == b"job-again", result
    peer.close()


def test_tcp_refused_without_flag(cr):
    run, fd = start_object(cr, "tcp_conn")
    expect_dump_fails(cr, run, cr.path("img"), "pid %d: fd %d: " % (run.pid, fd),
                      re.compile(r"TCP socket 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+: "
                                 r"dump with --tcp-established"))


def test_tcp_close_wait_refused(cr):
    run, fd = start_object(cr, "tcp_close_wait")
    expect_dump_fails(cr, run, cr.path("img"), "pid %d: fd %d: " % (run.pid, fd),
                      "in state CLOSE_WAIT: not supported", opts=TCP)


def test_tcp_pending_refused(cr):
    run, fd = start_object(cr, "tcp_pending")
    expect_dump_fails(cr, run, cr.path("img"), "pid %d: fd %d: " % (run.pid, fd),
                      "has 1 connection(s) not accepted yet: not supported", opts=TCP)


def local_ports(cr, img):
    r = cr.run_ckpt("show", "-D", img)
    assert r.returncode == 0, r.describe()
    for f in json.loads(r.stdout)["images"]:
        if f["file"] == "inetsk.img":
            return sorted({rec["src_port"] for rec in f["records"]})
    raise AssertionError("no inetsk.img in %s" % img)


def test_tcp_port_taken_at_restore(cr):
    """A local port of the images held by someone else: refused while the images are checked,
    which leaves them as they were; once it is free again, the same images restore."""
    run = cr.start("tcp_pair")
    img = cr.tmp / "img"
    cr.dump(run, img, *TCP)
    cr.check_gone(run)
    expect_restore_fails(cr, img, "the images hold TCP sockets: restore with --tcp-established")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", local_ports(cr, img)[0]))
    blocker.listen(1)
    expect_restore_fails(cr, img, "TCP socket", "is in use by another socket: cannot bind it again",
                         opts=TCP)
    blocker.close()
    cr.restore_and_verify(run, img, *TCP, count=2)


NETNS_JOB = r'''
import os, signal, socket, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
os.write(1, b"FD %d\nREADY\n" % s.fileno())
signal.sigwait({signal.SIGTERM})
os.write(1, b"PASS\n")
'''


def test_tcp_other_netns_refused(cr):
    """A TCP socket of a network namespace of the tree's own: the restore would make it in
    its own namespace, so the dump refuses it."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare")
    script = cr.tmp / "netns_job.py"
    script.write_text(NETNS_JOB)
    out = cr.tmp / "netns.out"
    with open(out, "wb") as fh:
        p = cr.tracker.popen(["unshare", "-n", sys.executable, str(script)], stdin=subprocess.DEVNULL,
                             stdout=fh, stderr=subprocess.STDOUT, cwd=cr.tmp, start_new_session=True)
    run = crlib.Running(cr, "netns", p, out, cr.tmp)
    assert crlib.wait_until(lambda: "READY" in run.output() or p.poll() is not None, crlib.TIMEOUT)
    assert p.poll() is None, run.output()
    run.refresh_pids()
    fd = int(re.search(r"^FD (\d+)$", run.output(), re.M).group(1))
    expect_dump_fails(cr, run, cr.path("img"), "pid %d: fd %d: " % (run.pid, fd),
                      "TCP socket of another network namespace than ckpt's: not supported", opts=TCP)


GONE_JOB = r'''
import os, signal, socket, sys
port = int(open(os.path.join(sys.argv[1], "port")).read())
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"job-hello")
os.write(1, b"READY\n")
signal.sigwait({signal.SIGTERM})
s.settimeout(10)
try:
    s.sendall(b"job-again")
    d = s.recv(16)
    what = b"end of stream" if not d else b"data %r" % d
except (ConnectionResetError, BrokenPipeError) as e:
    what = b"reset (%s)" % type(e).__name__.encode()
os.write(1, b"connection: " + what + b"\n")
os.write(1, b"PASS\n" if what.startswith(b"reset") else b"FAIL: the connection was not reset\n")
'''


def test_tcp_peer_gone_at_restore(cr):
    """The peer outside the tree closed its end while the job was down: the restore goes
    through (the connection's state is the job's own), and the job's next use of the socket
    fails with a reset, as after a network failure, instead of hanging."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    (cr.tmp / "port").write_text(str(lst.getsockname()[1]))
    job = start_python(cr, "gone", GONE_JOB, cr.tmp / "gone.out")
    peer, _ = lst.accept()
    lst.close()
    assert recv_exact(peer, 9) == b"job-hello"
    img = cr.tmp / "img"
    cr.dump(job, img, *TCP)
    cr.check_gone(job)
    peer.close()  # gone: its FIN finds no socket and is answered with a reset
    time.sleep(0.2)
    cr.restore_and_verify(job, img, *TCP, count=1)
    assert "connection: reset" in crlib.read_text(cr.tmp / "gone.out"), crlib.read_text(cr.tmp / "gone.out")
