"""ckptd under load: 1000 clients connect to its SOCK_SEQPACKET socket at the same moment, each
sends a status or a version request; every one is answered or cleanly refused (the connection
closed), none hangs, and the daemon answers a normal request afterwards.

The daemon is started with a low soft RLIMIT_NOFILE (256), so that it serves 1000 clients only
if it raises its own limit; the test raises its own soft limit to the hard one for its sockets.
"""
import contextlib
import os
import resource
import socket
import threading
import time

import pytest

from test_ckptd import Daemon, ckptd_bins, client_hex, tracker  # noqa: F401 (fixtures)

CLIENTS = 1000
DEADLINE = 120  # seconds for all of them together: more is a hang
TYPES = {"version": 1, "status": 5}


@contextlib.contextmanager
def nofile(soft):
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, old[1]), old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def varints(buf, n):
    """The first n (field number, value) pairs of a message whose first fields are varints."""
    out, i = [], 0
    while len(out) < n and i < len(buf):
        vals = []
        for _ in range(2):
            v = shift = 0
            while True:
                b = buf[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            vals.append(v)
        tag, value = vals
        assert tag & 7 == 0, "field %d is not a varint" % (tag >> 3)
        out.append((tag >> 3, value))
    return out


REFUSED = (ConnectionResetError, BrokenPipeError, ConnectionRefusedError, BlockingIOError)


def one_client(path, req, kind, barriers, results, i, deadline):
    """Connect when every thread is ready, send once every one is connected, close once every
    one is done; record 'answer', 'refused' (connection refused or closed by the daemon) or
    what went wrong."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        barriers[0].wait(timeout=deadline)
        try:
            s.connect(path)
        except REFUSED:
            results[i] = "refused"
        barriers[1].wait(timeout=deadline)  # all connections open together
        if results[i]:
            return
        s.settimeout(deadline)
        s.send(req)
        answer = s.recv(1 << 17)
        if not answer:
            results[i] = "refused"
        elif varints(answer, 2) == [(1, TYPES[kind]), (2, 0)]:
            results[i] = "answer"
        else:
            results[i] = "bad answer %r" % answer[:32]
    except REFUSED:
        results[i] = "refused"
    except Exception as e:  # a timeout is a hang
        results[i] = "%s: %s" % (type(e).__name__, e)
    finally:
        with contextlib.suppress(threading.BrokenBarrierError):
            barriers[2].wait(timeout=deadline)  # every connection held until all are done
        s.close()


def storm(daemon, clients=CLIENTS, deadline=DEADLINE):
    """clients clients at once; {outcome: count} and the time it took."""
    reqs = {kind: client_hex(kind) for kind in TYPES}
    results = [None] * clients
    barriers = [threading.Barrier(clients) for _ in range(3)]
    threading.stack_size(256 << 10)
    threads = []
    for i in range(clients):
        kind = "status" if i % 2 else "version"
        threads.append(threading.Thread(target=one_client, daemon=True,
                                        args=(daemon.sock, reqs[kind], kind, barriers, results, i,
                                              deadline)))
    t0 = time.monotonic()
    with nofile(resource.getrlimit(resource.RLIMIT_NOFILE)[1]):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.1, t0 + deadline - time.monotonic()))
    elapsed = time.monotonic() - t0
    hung = sum(t.is_alive() for t in threads)
    assert not hung, "%d clients still waiting after %d s:\n%s" % (hung, deadline, daemon.log_text()[-3000:])
    counts = {}
    for r in results:
        counts[r] = counts.get(r, 0) + 1
    return counts, elapsed


def daemon_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        line = next(l for l in f if l.startswith("Max open files"))
    return [int(x) for x in line.split()[3:5]]


@pytest.fixture
def low_limit_daemon(ckptd_bins, tmp_path, tracker):  # noqa: F811
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < CLIENTS + 64:
        pytest.skip("the hard RLIMIT_NOFILE (%d) is below %d" % (hard, CLIENTS + 64))

    def start(conf="workers = 2\n"):
        with nofile(256):  # inherited by the daemon
            d = Daemon(tmp_path, tracker, conf=conf)
        started.append(d)
        return d

    started = []
    yield start
    for d in started:
        assert d.stop() == 0, d.log_text()


def test_1000_clients_at_once(low_limit_daemon):
    daemon = low_limit_daemon()
    soft, hard = daemon_limit(daemon.popen.pid)
    assert soft == hard, "ckptd kept a soft RLIMIT_NOFILE of %d (hard %d)" % (soft, hard)
    counts, elapsed = storm(daemon)
    print("%d clients at once: %s in %.2f s" % (CLIENTS, counts, elapsed))
    # max_clients is 1024 by default: nobody is refused.
    assert counts == {"answer": CLIENTS}, counts
    daemon.alive()
    assert daemon.popen.poll() is None


def test_clients_beyond_max_clients_are_refused_cleanly(low_limit_daemon):
    daemon = low_limit_daemon("workers = 2\nmax_clients = 50\n")
    counts, elapsed = storm(daemon)
    print("%d clients at once, max_clients = 50: %s in %.2f s" % (CLIENTS, counts, elapsed))
    assert set(counts) <= {"answer", "refused"}, counts
    # The first 50 are served; the others, closed at once, see the end of their connection.
    assert counts.get("answer", 0) >= 50 and counts.get("refused", 0) >= 1, counts
    daemon.alive()
    assert daemon.popen.poll() is None


def test_out_of_fds_refuses_cleanly(low_limit_daemon):
    """A daemon out of file descriptors (EMFILE on accept) refuses the clients it cannot take,
    instead of waking up for them again and again, and serves again once they are gone."""
    daemon = low_limit_daemon()
    resource.prlimit(daemon.popen.pid, resource.RLIMIT_NOFILE, (128, 128))
    log_before = len(daemon.log_text())
    counts, elapsed = storm(daemon, clients=300, deadline=30)
    print("300 clients at once, ckptd limited to 128 fds: %s in %.2f s" % (counts, elapsed))
    assert set(counts) <= {"answer", "refused"} and counts.get("refused", 0) >= 1, counts
    assert counts.get("answer", 0) >= 50, counts
    # One line per refused client at most: no loop around a failing accept().
    log = daemon.log_text()[log_before:]
    assert log.count("\n") <= 300 + 20, log[-2000:]
    daemon.alive()
    assert daemon.popen.poll() is None
