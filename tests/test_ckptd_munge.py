"""ckptd across nodes: the TCP listener and its munge credentials (issue 3).

The test run starts its own munged (own key, socket, pid, log and seed files in a temporary
directory; never the system's /run/munge one, which Slurm uses) and ckptd listening on
loopback (--tcp-listen 127.0.0.1:0: the port is read from its log). Valid requests go through
build/ckptd-client -S tcp://...; forged, expired, replayed and wrong-uid ones are built here:
the packed request from `ckptd-client --hex`, its credential from munge(1) --socket, the
envelope (proto/rpc.proto's rpc_envelope) and the frame (4-byte big-endian length) by hand.
After every refusal the daemon must still answer, on both sockets.
"""
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import crlib
from test_ckptd import USER, TIMEOUT, Daemon, bin_path, last_count, parse, start_counter
from test_ckptd import ckptd_bins, tracker  # noqa: F401 (fixtures)

EPERM, EACCES, EBADMSG, EMSGSIZE, EHOSTDOWN, EKEYEXPIRED, EKEYREJECTED = 1, 13, 74, 90, 112, 127, 129
MAX_FRAME = 3 * 64 * 1024  # tcp-wire.h: CKPTD_MAX_FRAME
AS_USER = dict(user=USER, group=USER, extra_groups=[])


# ---- munged, started and stopped by the test run ----

class Munged:
    def __init__(self, tracker):
        self.tracker = tracker
        # uid USER must reach the socket: not under pytest's tmp_path (root's, 0700).
        self.dir = tempfile.mkdtemp(prefix="ckptd-munge-")
        os.chmod(self.dir, 0o755)
        p = lambda name: os.path.join(self.dir, name)
        self.key, self.sock, self.pid_file, self.log, self.seed = (
            p("munge.key"), p("munge.socket"), p("munged.pid"), p("munged.log"), p("munged.seed"))
        subprocess.run(["dd", "if=/dev/urandom", "of=" + self.key, "bs=1024", "count=1", "status=none"],
                       check=True, close_fds=True)
        os.chmod(self.key, 0o400)
        argv = ["munged", "--foreground", "--socket", self.sock, "--key-file", self.key,
                "--pid-file", self.pid_file, "--log-file", self.log, "--seed-file", self.seed]
        with open(p("munged.out"), "wb") as out:
            self.popen = tracker.popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                       close_fds=True)
        assert crlib.wait_until(self.answers, 10), "munged did not start:\n" + self.log_text()

    def log_text(self):
        return crlib.read_text(self.log) + crlib.read_text(os.path.join(self.dir, "munged.out"))

    def answers(self):
        if self.popen.poll() is not None:
            raise AssertionError("munged exited with %s:\n%s" % (self.popen.returncode, self.log_text()))
        return os.path.exists(self.sock) and subprocess.run(
            ["munge", "--socket", self.sock, "--no-input"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True).returncode == 0

    def stop(self):
        """By its pid (held by a pidfd), never by name: the cluster's munged runs too."""
        if self.popen.poll() is None:
            self.tracker.signal(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=TIMEOUT)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def munged(ckptd_bins):
    if not shutil.which("munged") or not shutil.which("munge"):
        pytest.skip("munge is not installed")
    t = crlib.Tracker()
    m = Munged(t)
    try:
        yield m
    finally:
        try:
            m.stop()
        finally:
            t.kill_all()


class TcpDaemon(Daemon):
    """ckptd with its TCP listener on loopback, checked by the test's munged."""

    def __init__(self, workdir, tracker, munge_sock, extra=()):
        super().__init__(workdir, tracker, extra=["--tcp-listen", "127.0.0.1:0", "--munge-socket",
                                                  munge_sock] + list(extra))
        self.munge_sock = munge_sock
        pat = re.compile(r"listening for other nodes on 127\.0\.0\.1:(\d+)")
        assert crlib.wait_until(lambda: pat.search(self.log_text()), 10), self.log_text()
        self.port = int(pat.search(self.log_text()).group(1))
        self.addr = "tcp://127.0.0.1:%d" % self.port

    def tcp(self, *args, user=None, check=True, munge_sock=None):
        """ckptd-client over TCP; (exit status, parsed answer, raw output)."""
        p = subprocess.run([str(bin_path("ckptd-client")), "-S", self.addr, "-M",
                            munge_sock or self.munge_sock] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                           close_fds=True, **(AS_USER if user is not None else {}))
        if check:
            assert p.returncode in (0, 1), "ckptd-client %s: %s\n%s" % (args, p.stdout, self.log_text())
        return p.returncode, parse(p.stdout), p.stdout

    def connect(self):
        return Conn(self.port)

    def alive_both(self):
        """Still serving: the unix socket, and TCP with a valid credential."""
        assert self.alive()
        rc, d, out = self.tcp("version", check=False)
        assert rc == 0 and d.get("version"), "no answer over TCP: %s\n%s" % (out, self.log_text())
        return True


@pytest.fixture
def tcpd(munged, tmp_path, tracker):
    d = TcpDaemon(tmp_path, tracker, munged.sock, extra=["--tcp-timeout-ms", "3000"])
    yield d
    assert d.stop() == 0, d.log_text()


# ---- frames, envelopes and answers built by hand ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return n, i


def packed(*verb):
    """The packed rpc_request of a ckptd-client verb."""
    out = subprocess.run([str(bin_path("ckptd-client")), "--hex"] + list(verb), stdout=subprocess.PIPE,
                         text=True, check=True, close_fds=True).stdout
    return bytes.fromhex(out.strip())


def credential(munged_sock, payload, *opts, user=None):
    """munge(1) over payload, by root or (user) by uid USER."""
    p = subprocess.run(["munge", "--socket", munged_sock] + list(opts), input=payload,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT, close_fds=True,
                       **(AS_USER if user is not None else {}))
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def envelope(request, cred, uid=None):
    b = b"\x0a" + varint(len(request)) + request + b"\x12" + varint(len(cred)) + cred
    if uid is not None:
        b += b"\x18" + varint(uid)
    return b


def frame(b):
    return struct.pack(">I", len(b)) + b


def decode_response(b):
    """The top-level fields of an rpc_response: type, error, message."""
    fields, i = {}, 0
    while i < len(b):
        key, i = read_varint(b, i)
        if key & 7 == 0:
            v, i = read_varint(b, i)
        elif key & 7 == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise AssertionError("unexpected wire type in %r" % b)
        fields[key >> 3] = v
    return {"type": fields.get(1), "error": fields.get(2, 0), "message": fields.get(3, b"").decode(),
            "fields": fields}


class Conn:
    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(TIMEOUT)
        self.s.connect(("127.0.0.1", port))

    def close(self):
        self.s.close()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def answer(self):
        (n,) = struct.unpack(">I", self.recv_exact(4))
        assert 0 < n <= 128 << 10, n
        return decode_response(self.recv_exact(n))

    def call(self, env):
        self.s.sendall(frame(env))
        return self.answer()

    def closed_by_peer(self, timeout=TIMEOUT):
        """The daemon closed the connection (after any answer still unread)."""
        self.s.settimeout(timeout)
        try:
            while self.s.recv(4096):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def call_env(daemon, env):
    c = daemon.connect()
    try:
        return c.call(env)
    finally:
        c.close()


def assert_refused(ans, err, *words):
    assert ans["error"] == err, ans
    for w in words:
        assert w.lower() in ans["message"].lower(), (w, ans)


def listening_ports(pid):
    """TCP ports pid listens on, from /proc/net/tcp{,6} and its fds."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for name in ("tcp", "tcp6"):
        for line in crlib.read_text("/proc/%d/net/%s" % (pid, name)).splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # TCP_LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


# ---- off by default; configuration ----

def test_tcp_off_by_default(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker)
    try:
        assert listening_ports(d.popen.pid) == set()
        assert "other nodes" not in d.log_text()
    finally:
        assert d.stop() == 0


def test_tcp_listener_on_loopback(tcpd):
    assert listening_ports(tcpd.popen.pid) == {tcpd.port}


@pytest.mark.parametrize("opts,words", [
    (["--tcp-listen", "nonsense"], "tcp_listen 'nonsense' is not HOST:PORT"),
    (["--tcp-listen", "127.0.0.1:99999"], "is not HOST:PORT"),
    (["--tcp-listen", "192.0.2.1:7117"], "cannot listen on tcp_listen '192.0.2.1:7117'"),
    (["--tcp-listen", "127.0.0.1:0", "--munge-socket", "relative.sock"], "must be an absolute path"),
    (["--tcp-timeout-ms", "5"], "tcp_timeout_ms"),
])
def test_config_errors(ckptd_bins, tmp_path, opts, words):
    sockdir = tempfile.mkdtemp(prefix="ckptd-cfg-")
    try:
        p = subprocess.run([str(bin_path("ckptd")), "-f", "-c", "/dev/null", "--socket",
                            os.path.join(sockdir, "s.sock")] + opts, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT, close_fds=True)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    assert p.returncode != 0 and words in p.stdout, p.stdout


def test_port_in_use(munged, tcpd, tmp_path, tracker):
    sockdir = tempfile.mkdtemp(prefix="ckptd-cfg-")
    try:
        p = subprocess.run([str(bin_path("ckptd")), "-f", "-c", "/dev/null", "--socket",
                            os.path.join(sockdir, "s.sock"), "--tcp-listen", "127.0.0.1:%d" % tcpd.port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                           close_fds=True)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    assert p.returncode == 1 and "cannot listen" in p.stdout and "in use" in p.stdout, p.stdout
    assert tcpd.alive_both()


# ---- valid credentials ----

def test_valid_credential_root_and_user(tcpd):
    rc, d, out = tcpd.tcp("version")
    assert rc == 0 and d["protocol"] == "1", out
    rc, d, out = tcpd.tcp("status")
    assert rc == 0 and d["workers"] == "2", out
    rc, d, out = tcpd.tcp("status", user=USER)
    assert rc == 0 and d["type"] == "status", out
    # The uid is the credential's: uid USER may not dump root's process (pid 1).
    rc, d, out = tcpd.tcp("dump", "-t", "1", "-D", "/tmp/ckptd-munge-never", user=USER)
    assert rc == 1 and d["error"] == str(EPERM) and "you are uid %d" % USER in d["message"], out
    assert "refused dump for uid %d" % USER in tcpd.log_text()
    assert not os.path.exists("/tmp/ckptd-munge-never")
    assert tcpd.alive_both()


def test_root_dump_over_tcp(tcpd, tracker, tmp_path):
    """A queued job answers through a worker thread: the answer is a frame too."""
    out = tmp_path / "counter.out"
    p = start_counter(tracker, out)
    imgdir = tmp_path / "img"
    rc, d, text = tcpd.tcp("dump", "-t", str(p.pid), "-D", str(imgdir), "-R")
    assert rc == 0 and int(d["pages"]) > 0 and d["nr_tasks"] == "1", text + tcpd.log_text()
    assert (imgdir / "inventory.img").exists() and p.poll() is None
    rc, d, text = tcpd.tcp("status")
    assert any("type=dump state=done uid=0" in j for j in d["job"]), text


def test_public_api_over_tcp(tcpd, tracker, tmp_path):
    """libckpt's ckpt_dump()/ckpt_restore() with a "tcp://" service: the same calls, signed."""
    api = crlib.build_dir() / "tests" / "api" / "api_transport"
    if not os.access(api, os.X_OK):
        pytest.skip("%s is not built (make cr-progs)" % api)
    pre = [str(api), "--service", tcpd.addr, "--munge-socket", tcpd.munge_sock]
    run = lambda *a: subprocess.run(pre + list(a), capture_output=True, text=True, timeout=TIMEOUT,
                                    close_fds=True)
    out = tmp_path / "counter.out"
    p = start_counter(tracker, out)
    r = run("dump", str(p.pid), str(tmp_path / "img"))
    assert r.returncode == 0 and "tasks: 1" in r.stdout, r.stdout + r.stderr + tcpd.log_text()
    p.wait(timeout=10)
    stopped_at = last_count(out)
    r = run("restore", str(tmp_path / "img"))
    assert r.returncode == 0, r.stdout + r.stderr + tcpd.log_text()
    tracker.add(int(re.search(r"pid: (\d+)", r.stdout).group(1)))
    assert crlib.wait_until(lambda: last_count(out) >= stopped_at + 2, 10), crlib.read_text(out)
    r = run("version")
    assert r.returncode == 0 and "protocol: 1" in r.stdout, r.stdout + r.stderr
    # no munged at that socket: no credential, nothing sent
    bad = subprocess.run([str(api), "--service", tcpd.addr, "--munge-socket", "/nonexistent/sock",
                          "version"], capture_output=True, text=True, timeout=TIMEOUT, close_fds=True)
    assert bad.returncode == 1 and "error: " in bad.stdout, bad.stdout + bad.stderr


def test_ckpt_command_with_munge_socket(tcpd):
    """`ckpt --service tcp://... --munge-socket PATH`: the command signs with that munged."""
    ckpt = str(bin_path("ckpt"))
    p = subprocess.run([ckpt, "--service", tcpd.addr, "--munge-socket", tcpd.munge_sock, "status"],
                       capture_output=True, text=True, timeout=TIMEOUT, close_fds=True)
    assert p.returncode == 0 and "running" in p.stdout, p.stdout + p.stderr + tcpd.log_text()
    p = subprocess.run([ckpt, "status", "--service", tcpd.addr, "--munge-socket", "/nonexistent/s"],
                       capture_output=True, text=True, timeout=TIMEOUT, close_fds=True)
    assert p.returncode == 1 and p.stderr.startswith("Error: ") and len(p.stderr.splitlines()) == 1, \
        p.stdout + p.stderr


def test_several_requests_on_one_connection(tcpd):
    c = tcpd.connect()
    try:
        for verb in ("version", "status", "list", "version"):
            req = packed(verb)
            ans = c.call(envelope(req, credential(tcpd.munge_sock, req), uid=0))
            assert ans["error"] == 0, ans
    finally:
        c.close()


# ---- refused credentials ----

def test_forged_credential(munged, tcpd, tracker):
    req = packed("status")
    good = credential(tcpd.munge_sock, req)
    head, body = good[:6], bytearray(good[6:])  # "MUNGE:" then base64
    flipped = bytearray(body)
    i = len(flipped) // 2
    flipped[i] = ord("A") if flipped[i] != ord("A") else ord("B")
    other = Munged(tracker)  # another key: a credential from a munged of another cluster
    try:
        foreign = credential(other.sock, req)
    finally:
        other.stop()
    c = tcpd.connect()
    try:
        for cred in (head + bytes(flipped), foreign, good[:len(good) // 2], b"MUNGE:", b"not a credential"):
            ans = c.call(envelope(req, cred, uid=0))
            assert_refused(ans, EACCES, "munge credential refused")
        # The same connection goes on with a valid one.
        assert c.call(envelope(req, good, uid=0))["error"] == 0
    finally:
        c.close()
    assert "refused a status request from TCP client 127.0.0.1:" in tcpd.log_text()
    assert tcpd.alive_both()


def test_expired_credential(tcpd):
    req = packed("version")
    cred = credential(tcpd.munge_sock, req, "--ttl", "1")
    time.sleep(2.5)
    assert_refused(call_env(tcpd, envelope(req, cred, uid=0)), EKEYEXPIRED, "expired")
    assert tcpd.alive_both()


def test_replayed_credential(tcpd):
    req = packed("status")
    env = envelope(req, credential(tcpd.munge_sock, req), uid=0)
    a, b = tcpd.connect(), tcpd.connect()
    try:
        assert a.call(env)["error"] == 0
        assert_refused(b.call(env), EKEYREJECTED, "replayed")
        assert_refused(a.call(env), EKEYREJECTED, "replayed")
    finally:
        a.close()
        b.close()
    assert "Replayed credential" in tcpd.log_text()
    assert tcpd.alive_both()


def test_credential_restricted_to_another_uid_or_gid(tcpd):
    req = packed("version")
    for opts in (["--restrict-uid", str(USER)], ["--restrict-gid", str(USER)]):
        ans = call_env(tcpd, envelope(req, credential(tcpd.munge_sock, req, *opts), uid=0))
        assert_refused(ans, EACCES, "unauthorized")
    assert tcpd.alive_both()


def test_wrong_uid(tcpd, tracker, tmp_path):
    # A credential of uid USER in an envelope that claims root.
    req = packed("status")
    ans = call_env(tcpd, envelope(req, credential(tcpd.munge_sock, req, user=USER), uid=0))
    assert_refused(ans, EACCES, "claims uid 0", "says uid %d" % USER)
    # uid USER, honest, asking for root's things: the usual rules refuse it.
    p = start_counter(tracker, tmp_path / "counter.out")
    for claim in (USER, None):
        req = packed("dump", "-t", str(p.pid), "-D", "/tmp/ckptd-munge-never", "-R")
        ans = call_env(tcpd, envelope(req, credential(tcpd.munge_sock, req, user=USER), uid=claim))
        assert_refused(ans, EPERM, "you are uid %d" % USER)
    req = packed("dump", "-t", str(p.pid), "-D", "/tmp/ckptd-munge-never", "--freeze-cgroup", "/x")
    ans = call_env(tcpd, envelope(req, credential(tcpd.munge_sock, req, user=USER), uid=USER))
    assert_refused(ans, EPERM, "freeze_cgroup is for root")
    assert p.poll() is None and not os.path.exists("/tmp/ckptd-munge-never")
    assert tcpd.alive_both()


def test_payload_not_the_request(tcpd):
    signed, sent = packed("version"), packed("dump", "-t", "1", "-D", "/tmp/ckptd-munge-never")
    ans = call_env(tcpd, envelope(sent, credential(tcpd.munge_sock, signed), uid=0))
    assert_refused(ans, EACCES, "payload is not the request")
    # Nor a credential over nothing for a request.
    ans = call_env(tcpd, envelope(sent, credential(tcpd.munge_sock, b""), uid=0))
    assert_refused(ans, EACCES, "payload is not the request")
    assert not os.path.exists("/tmp/ckptd-munge-never")
    assert tcpd.alive_both()


def test_munged_down(munged, tmp_path, tracker):
    """Its munged gone, the daemon answers EHOSTDOWN over TCP and still serves its socket."""
    d = TcpDaemon(tmp_path, tracker, os.path.join(munged.dir, "no-such.socket"))
    try:
        req = packed("version")
        ans = call_env(d, envelope(req, credential(munged.sock, req), uid=0))
        assert_refused(ans, EHOSTDOWN, "does not answer")
        assert d.alive()
    finally:
        assert d.stop() == 0, d.log_text()


# ---- malformed streams ----

def garbage(n):
    return bytes(random.Random(n).getrandbits(8) for _ in range(n))


@pytest.mark.parametrize("kind", ["garbage", "no-credential", "empty-request", "zero-length", "huge-length",
                                  "over-max", "oversized-request"])
def test_bad_frames_answered_and_closed(tcpd, kind):
    req = packed("version")
    data, err = {
        "garbage": (frame(garbage(300)), EBADMSG),
        "no-credential": (frame(b"\x0a" + varint(len(req)) + req), EBADMSG),
        "empty-request": (frame(envelope(b"", credential(tcpd.munge_sock, b""))), EMSGSIZE),
        "zero-length": (struct.pack(">I", 0), EMSGSIZE),
        "huge-length": (struct.pack(">I", 0xFFFFFFFF), EMSGSIZE),
        "over-max": (struct.pack(">I", MAX_FRAME + 1), EMSGSIZE),
        "oversized-request": (frame(envelope(b"\x08\x01" + b"\x00" * (64 << 10), b"MUNGE:x")), EMSGSIZE),
    }[kind]
    c = tcpd.connect()
    try:
        c.s.sendall(data)
        assert c.answer()["error"] == err
        assert c.closed_by_peer()
    finally:
        c.close()
    assert tcpd.alive_both()


@pytest.mark.parametrize("cut", [2, 4, 50])
def test_client_leaves_mid_frame(tcpd, cut):
    req = packed("status")
    data = frame(envelope(req, credential(tcpd.munge_sock, req), uid=0))
    for linger in (False, True):
        c = tcpd.connect()
        if linger:  # a reset rather than a FIN
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.s.sendall(data[:cut])
        c.close()
    assert tcpd.alive_both()


def test_slow_client_timed_out_without_blocking_others(munged, tmp_path, tracker):
    d = TcpDaemon(tmp_path, tracker, munged.sock, extra=["--tcp-timeout-ms", "1000"])
    slow, idle = d.connect(), d.connect()
    try:
        req = packed("status")
        data = frame(envelope(req, credential(munged.sock, req), uid=0))
        slow.s.sendall(data[:10])
        # Meanwhile the others are served, on both sockets.
        t0 = time.monotonic()
        assert d.alive_both()
        assert slow.closed_by_peer(timeout=10) and idle.closed_by_peer(timeout=10)
        assert time.monotonic() - t0 < 8
        log = d.log_text()
        assert "a request cut short" in log and "idle" in log, log
        assert d.alive_both()
        # A client that sends its frame a byte at a time, within the timeout, is served.
        c = d.connect()
        req = packed("version")
        for b in frame(envelope(req, credential(munged.sock, req), uid=0)):
            c.s.send(bytes([b]))
        assert c.answer()["error"] == 0
        c.close()
    finally:
        slow.close()
        idle.close()
        assert d.stop() == 0, d.log_text()


def test_random_frames_keep_daemon_alive(tcpd):
    rnd = random.Random(3)
    for i in range(100):
        c = tcpd.connect()
        try:
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 200)))
            c.s.sendall(frame(body) if i % 2 else body)
        finally:
            c.close()
    assert tcpd.alive_both()


# ---- answers the client does not read at once ----

class Libmunge:
    """munge_encode(3) through ctypes: thousands of credentials, fast."""

    def __init__(self, sock):
        import ctypes
        self.ct = ctypes
        self.lib = ctypes.CDLL("libmunge.so.2")
        self.lib.munge_ctx_create.restype = ctypes.c_void_p
        self.lib.munge_ctx_destroy.argtypes = [ctypes.c_void_p]
        self.lib.munge_encode.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p,
                                          ctypes.c_char_p, ctypes.c_int]
        self.ctx = self.lib.munge_ctx_create()
        MUNGE_OPT_SOCKET = 8
        assert self.lib.munge_ctx_set(ctypes.c_void_p(self.ctx), MUNGE_OPT_SOCKET,
                                      ctypes.c_char_p(sock.encode())) == 0

    def encode(self, payload):
        cred = self.ct.c_char_p()
        assert self.lib.munge_encode(self.ct.byref(cred), self.ct.c_void_p(self.ctx), payload,
                                     len(payload)) == 0
        return cred.value  # libmunge's copy is leaked: a test process

    def close(self):
        self.lib.munge_ctx_destroy(self.ctx)


def pipelined(daemon, n, rcvbuf=4096):
    """A connection with a small receive buffer and n `check` requests sent in one go: their
    answers (n * 1.5 KiB) more than fill the daemon's send buffer (net.ipv4.tcp_wmem, 4 MiB)."""
    lm = Libmunge(daemon.munge_sock)
    req = packed("check")
    data = b"".join(frame(envelope(req, lm.encode(req), uid=0)) for _ in range(n))
    lm.close()
    c = Conn(daemon.port, rcvbuf)

    def send():
        try:
            c.s.sendall(data)
        except OSError:  # closed by the daemon (never read) or by the test
            pass
    threading.Thread(target=send, daemon=True).start()
    return c


def test_answers_read_late(tcpd):
    """The answers fill the socket: the rest waits for EPOLLOUT, the daemon serves others."""
    n = 4000
    c = pipelined(tcpd, n)
    try:
        time.sleep(1)
        assert tcpd.alive_both()
        for _ in range(n):
            ans = c.answer()
            assert ans["error"] == 0 and ans["type"] == 2, ans  # RPC_CHECK
    finally:
        c.close()
    assert tcpd.alive_both()


def test_answers_never_read(munged, tmp_path, tracker):
    d = TcpDaemon(tmp_path, tracker, munged.sock, extra=["--tcp-timeout-ms", "1000"])
    c = pipelined(d, 4000)
    try:
        assert crlib.wait_until(lambda: "an answer it does not read" in d.log_text(), 20), d.log_text()
        assert d.alive_both()
    finally:
        c.close()
        assert d.stop() == 0, d.log_text()
