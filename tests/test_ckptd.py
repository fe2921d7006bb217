"""ckptd: the daemon started by the test (foreground, as root, on a temporary socket).

Requests go through build/ckptd-client (one request, one answer printed as `key: value`
lines) or, for malformed packets, straight through a SOCK_SEQPACKET socket. Every process a
test starts is held by a pidfd (crlib.Tracker) and only those are signalled.
"""
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import crlib

USER = 1000  # an unprivileged uid that exists on the test machine (and CI)
TIMEOUT = 60


def bin_path(name):
    return crlib.build_dir() / name


@pytest.fixture(scope="session")
def ckptd_bins():
    if os.geteuid() != 0:
        pytest.skip("ckptd tests run as root")
    for name in ("ckptd", "ckptd-client", "ckpt", "examples/counter"):
        if not os.access(bin_path(name), os.X_OK):
            pytest.skip("%s is not built (make)" % bin_path(name))


def parse(out):
    """`key: value` lines into a dict; repeated `job:` and `feature:` lines into lists."""
    d = {"job": [], "feature": []}
    for line in out.splitlines():
        key, _, value = line.partition(": ")
        if key in ("job", "feature"):
            d[key].append(value)
        else:
            d[key] = value
    return d


class Daemon:
    def __init__(self, workdir, tracker, extra=(), conf=None):
        self.dir = workdir
        self.tracker = tracker
        # Users must reach the socket: not under pytest's tmp_path, which is root's (0700).
        self.sockdir = tempfile.mkdtemp(prefix="ckptd-sock-")
        os.chmod(self.sockdir, 0o755)
        self.sock = os.path.join(self.sockdir, "ckptd.sock")
        self.log = workdir / "ckptd.log"
        self.conf = workdir / "ckptd.conf"
        self.conf.write_text(conf if conf is not None else "# test configuration\nworkers = 2\n")
        argv = [str(bin_path("ckptd")), "-f", "-c", str(self.conf), "--socket", self.sock] + list(extra)
        with open(self.log, "wb") as log:
            self.popen = tracker.popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       close_fds=True)
        assert crlib.wait_until(self.answers, 10), "ckptd did not start:\n" + self.log_text()

    def log_text(self):
        return crlib.read_text(self.log)

    def answers(self):
        if self.popen.poll() is not None:
            raise AssertionError("ckptd exited with %s:\n%s" % (self.popen.returncode, self.log_text()))
        return os.path.exists(self.sock) and self.call("version", check=False)[0] == 0

    def call(self, *args, user=None, check=True, timeout=TIMEOUT):
        """Run ckptd-client; (exit status, parsed answer, raw output)."""
        kw = {}
        if user is not None:
            kw = dict(user=user, group=user, extra_groups=[])
        p = subprocess.run([str(bin_path("ckptd-client")), "-S", self.sock] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, close_fds=True, **kw)
        if check:
            assert p.returncode in (0, 1), "ckptd-client %s: %s\n%s" % (args, p.stdout, self.log_text())
        return p.returncode, parse(p.stdout), p.stdout

    def alive(self):
        rc, d, out = self.call("version", check=False)
        assert rc == 0 and d.get("version"), "ckptd does not answer: %s\n%s" % (out, self.log_text())
        return True

    def stop(self):
        if self.popen.poll() is None:
            self.tracker.signal(self.popen.pid, signal.SIGTERM)
        try:
            return self.popen.wait(timeout=TIMEOUT)
        finally:
            shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture
def tracker():
    t = crlib.Tracker()
    try:
        yield t
    finally:
        t.kill_all()


@pytest.fixture
def daemon(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker)
    yield d
    assert d.stop() == 0, d.log_text()


@pytest.fixture
def userdir():
    """A directory uid USER owns and can reach (pytest's tmp_path is root's, mode 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="ckptd-user-"))
    os.chmod(d, 0o755)
    os.chown(d, USER, USER)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ckptd keeps a reduced capability set (ckptd/caps.c), and a restored task cannot get
# capabilities its restorer lacks: root's test programs run with none, as a job would.
NO_CAPS = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


def start_counter(tracker, out, user=None):
    """build/examples/counter in its own session, stdin /dev/null, stdout to out, no stray fd."""
    kw = {}
    argv = [str(bin_path("examples/counter"))]
    if user is not None:
        kw = dict(user=user, group=user, extra_groups=[])
    else:
        argv = NO_CAPS + argv
    with open(out, "wb") as f:
        if user is not None:
            os.fchown(f.fileno(), user, user)
        p = tracker.popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                          stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, **kw)
    assert crlib.wait_until(lambda: "count 1 " in crlib.read_text(out), 10), crlib.read_text(out)
    return p


def last_count(out):
    lines = [l for l in crlib.read_text(out).splitlines() if l.startswith("count ")]
    return int(lines[-1].split()[1]) if lines else 0


def start_big(tracker, mib=256):
    """A process with mib MiB of written memory: its dump takes a while."""
    code = ("import sys, time\nb = bytearray(%d << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
            "print('ready', flush=True)\ntime.sleep(3600)\n" % mib)
    p = tracker.popen(["/usr/bin/python3", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    assert p.stdout.readline().strip() == b"ready"
    return p


def wait_state(daemon, state, timeout=30):
    def seen():
        return any("state=%s" % state in j for j in daemon.call("status")[1]["job"])
    return crlib.wait_until(seen, timeout, step=0.005)


# ---- round trips ----

def test_version_check_status(daemon):
    rc, d, out = daemon.call("version")
    assert rc == 0 and d["error"] == "0" and d["version"] and d["protocol"] == "1", out
    rc, d, out = daemon.call("check")
    assert d["type"] == "check" and d["feature"], out
    assert any(f.startswith("ptrace-seize present=1") for f in d["feature"]), out
    rc, d, out = daemon.call("status")
    assert rc == 0 and d["workers"] == "2" and d["running"] == "0", out
    rc, d, out = daemon.call("list")
    assert rc == 0 and d["type"] == "list", out
    rc, d, out = daemon.call("pre-dump")
    assert rc == 1 and d["error"] == str(95), out  # EOPNOTSUPP


def test_dump_and_restore(daemon, tracker, tmp_path):
    out = tmp_path / "counter.out"
    p = start_counter(tracker, out)
    time.sleep(1.2)
    imgdir = tmp_path / "img"
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(imgdir))
    assert rc == 0, text + daemon.log_text()
    assert int(d["pages"]) > 0 and int(d["frozen_ns"]) > 0 and int(d["bytes"]) > 0, text
    assert int(d["duration_ns"]) >= int(d["frozen_ns"]) and d["nr_tasks"] == "1", text
    p.wait(timeout=10)  # a dump without -R ends the tree
    stopped_at = last_count(out)
    assert (imgdir / "inventory.img").exists()

    rc, d, text = daemon.call("restore", "-D", str(imgdir))
    assert rc == 0, text + daemon.log_text()
    pid = int(d["pid"])
    tracker.add(pid)
    assert crlib.wait_until(lambda: last_count(out) >= stopped_at + 2, 10), crlib.read_text(out)
    counts = [int(l.split()[1]) for l in crlib.read_text(out).splitlines() if l.startswith("count ")]
    assert counts == list(range(1, len(counts) + 1)), counts  # carried on where it stopped
    rc, d, text = daemon.call("status")
    assert d["done"] == "2" and d["failed"] == "0", text


def test_dump_leave_running(daemon, tracker, tmp_path):
    p = start_counter(tracker, tmp_path / "c.out")
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(tmp_path / "img"), "-R")
    assert rc == 0, text
    n = last_count(tmp_path / "c.out")
    assert crlib.wait_until(lambda: last_count(tmp_path / "c.out") > n, 5)
    assert p.poll() is None


def test_dump_errors(daemon, tmp_path):
    rc, d, text = daemon.call("dump", "-t", "999999999", "-D", str(tmp_path / "x"))
    assert rc == 1 and d["error"] != "0", text
    rc, d, text = daemon.call("dump", "-t", "1", "-D", "relative/dir")
    assert rc == 1 and d["error"] == "22", text
    rc, d, text = daemon.call("dump", "-t", "1", "-D", "/tmp/../etc/x")
    assert rc == 1 and d["error"] == "22" and ".." in d["message"], text
    rc, d, text = daemon.call("restore", "-D", str(tmp_path / "none"))
    assert rc == 1 and d["error"] != "0", text
    rc, d, text = daemon.call("cancel", "12345")
    assert rc == 1 and d["error"] == "2", text  # ENOENT
    # The refused paths were answered once and never queued; the connection serves on.
    rc, d, text = daemon.call("status")
    assert not [j for j in d["job"] if "relative" in j or "/etc/x" in j], text
    daemon.alive()


# ---- concurrency ----

def test_second_dump_busy_and_cancel(ckptd_bins, tmp_path, tracker):
    daemon = Daemon(tmp_path, tracker, conf="workers = 1\n")
    big = start_big(tracker)
    small = start_counter(tracker, tmp_path / "c.out")
    first = subprocess.Popen([str(bin_path("ckptd-client")), "-S", daemon.sock, "dump", "-t", str(big.pid),
                              "-D", str(tmp_path / "big"), "-R"], stdout=subprocess.PIPE, text=True,
                             close_fds=True)
    assert wait_state(daemon, "running"), daemon.log_text()
    # The same tree again: EBUSY at once.
    rc, d, text = daemon.call("dump", "-t", str(big.pid), "-D", str(tmp_path / "big2"), "-R")
    assert rc == 1 and d["error"] == "16", text
    # Another tree waits for the only worker; cancelled, its client hears ECANCELED.
    queued = subprocess.Popen([str(bin_path("ckptd-client")), "-S", daemon.sock, "dump", "-t",
                               str(small.pid), "-D", str(tmp_path / "small"), "-R"], stdout=subprocess.PIPE,
                              text=True, close_fds=True)
    assert wait_state(daemon, "queued"), daemon.log_text()
    jobs = [j for j in daemon.call("status")[1]["job"] if "state=queued" in j]
    job_id = jobs[0].split()[0].split("=")[1]
    rc, d, text = daemon.call("cancel", job_id)
    assert rc == 0, text
    out, _ = queued.communicate(timeout=TIMEOUT)
    assert parse(out)["error"] == "125", out  # ECANCELED
    out, _ = first.communicate(timeout=TIMEOUT)
    assert parse(out)["error"] == "0", out + daemon.log_text()
    assert big.poll() is None and small.poll() is None
    assert daemon.stop() == 0


def test_client_disconnects_mid_request(daemon, tracker, tmp_path):
    p = start_counter(tracker, tmp_path / "c.out")
    hexreq = subprocess.run([str(bin_path("ckptd-client")), "--hex", "dump", "-t", str(p.pid), "-D",
                             str(tmp_path / "img"), "-R"], stdout=subprocess.PIPE, text=True,
                            check=True).stdout.strip()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(daemon.sock)
    s.send(bytes.fromhex(hexreq))
    s.close()
    assert crlib.wait_until(lambda: any("state=done" in j for j in daemon.call("status")[1]["job"]), 20), \
        daemon.log_text()
    daemon.alive()
    assert p.poll() is None


def test_200_clients_at_once(daemon):
    req = bytes.fromhex(subprocess.run([str(bin_path("ckptd-client")), "--hex", "version"],
                                       stdout=subprocess.PIPE, text=True, check=True).stdout.strip())
    socks = []
    try:
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(30)
            s.connect(daemon.sock)
            socks.append(s)
        for s in socks:
            s.send(req)
        answers = [s.recv(65536) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert all(a for a in answers) and len(set(answers)) == 1
    daemon.alive()


def test_1000_clients_at_once(daemon):
    """1000 connections open together (more fds than a default soft limit): every one is
    answered, and the daemon still answers afterwards."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    req = client_hex("status")
    socks = []
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(60)
            s.connect(daemon.sock)
            socks.append(s)
        t0 = time.monotonic()
        for s in socks:
            s.send(req)
        answers = [s.recv(1 << 17) for s in socks]
        elapsed = time.monotonic() - t0
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(answers) == 1000 and all(answers), [len(a) for a in answers if not a][:5]
    print("1000 status requests on 1000 open connections answered in %.2f s" % elapsed)
    daemon.alive()


def test_200_client_processes(daemon):
    results = []

    def one():
        results.append(daemon.call("status", check=False)[0])

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert results.count(0) == 200, results
    daemon.alive()


# ---- bad input ----

def raw_exchange(sock_path, payload, sndbuf=None):
    """Send one packet; the answer's bytes, or b'' when the daemon closed the connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        if sndbuf:
            s.setsockopt(socket.SOL_SOCKET, 32, sndbuf)  # SO_SNDBUFFORCE (we are root)
        s.settimeout(10)
        s.connect(sock_path)
        s.send(payload)
        try:
            return s.recv(1 << 20)
        except ConnectionResetError:
            return b""
    finally:
        s.close()


def client_hex(*args):
    return bytes.fromhex(subprocess.run([str(bin_path("ckptd-client")), "--hex"] + list(args),
                                        stdout=subprocess.PIPE, text=True, check=True).stdout.strip())


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "length_past_end", "unknown_type",
                                  "dotdot", "huge_string", "no_submessage", "negative_pid"])
def test_bad_packets(daemon, kind):
    rnd = random.Random(kind)
    dump = client_hex("dump", "-t", "1", "-D", "/tmp/ckptd-test-never")
    sndbuf = None
    if kind == "empty":
        payload = b""
    elif kind == "random":
        payload = bytes(rnd.getrandbits(8) for _ in range(512))
    elif kind == "truncated":
        payload = dump[:-5]
    elif kind == "length_past_end":
        payload = b"\x08\x03\x22\x7fabc"  # type = dump; field 4 says 127 bytes, 3 follow
    elif kind == "unknown_type":
        payload = client_hex("type", "99")
    elif kind == "dotdot":
        payload = client_hex("dump", "-t", "1", "-D", "/tmp/../../etc/ckpt")
    elif kind == "huge_string":
        payload = client_hex("dump", "-t", "1", "-D", "/" + "a" * 100) .replace(b"a" * 100, b"a" * 100)
        big = b"/" + b"a" * (1 << 20)
        # type = dump, field 4 { pid = 1, images_dir = 1 MiB }
        inner = b"\x08\x01\x12" + varint(len(big)) + big
        payload = b"\x08\x03\x22" + varint(len(inner)) + inner
        sndbuf = 4 << 20
    elif kind == "no_submessage":
        payload = client_hex("type", "3")
    elif kind == "negative_pid":
        payload = client_hex("dump", "-t", "-5", "-D", "/tmp/x")
    for _ in range(3):
        answer = raw_exchange(daemon.sock, payload, sndbuf)
        if answer:
            text = answer.decode("latin-1")
            assert kind not in ("dotdot", "unknown_type", "huge_string") or answer, text
    daemon.alive()
    assert daemon.popen.poll() is None


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def test_random_fuzz_keeps_daemon_alive(daemon):
    """A few hundred mutated requests: the daemon answers each or closes, and lives."""
    rnd = random.Random(1234)
    seeds = [client_hex("version"), client_hex("status"), client_hex("cancel", "7"),
             client_hex("dump", "-t", "1", "-D", "/tmp/ckptd-fuzz-never"),
             client_hex("restore", "-D", "/tmp/ckptd-fuzz-never")]
    for i in range(300):
        b = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randint(0, 2)
            if op == 0 and b:
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            elif op == 1 and b:
                del b[rnd.randrange(len(b)):]
            else:
                b.insert(rnd.randint(0, len(b)), rnd.getrandbits(8))
        raw_exchange(daemon.sock, bytes(b))
    daemon.alive()


# ---- authorization ----

def test_user_may_not_dump_root_process(daemon, tracker, tmp_path, userdir):
    p = start_counter(tracker, tmp_path / "c.out")
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(userdir / "img"), user=USER)
    assert rc == 1 and d["error"] == "1", text  # EPERM
    assert "uid 0" in d["message"], text
    assert "refused dump for uid %d" % USER in daemon.log_text()
    assert p.poll() is None and not (userdir / "img").exists()


def test_user_may_not_dump_tree_with_root_child(daemon, tracker, userdir):
    # The parent forks a child, then drops to USER: the tree is USER's but for a root child.
    code = ("import os, time\nr, w = os.pipe()\npid = os.fork()\n"
            "if pid == 0:\n    time.sleep(3600)\n"
            "os.setresgid(%d, %d, %d)\nos.setgroups([])\nos.setresuid(%d, %d, %d)\n"
            "print(pid, flush=True)\ntime.sleep(3600)\n" % ((USER,) * 6))
    p = tracker.popen(["/usr/bin/python3", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    child = int(p.stdout.readline())
    tracker.add(child)
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(userdir / "img"), user=USER)
    assert rc == 1 and d["error"] == "1", text
    assert "pid %d" % child in d["message"], text
    assert p.poll() is None


def test_user_may_not_restore_root_images(daemon, tracker, tmp_path, userdir):
    p = start_counter(tracker, tmp_path / "c.out")
    imgdir = userdir / "root-img"
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(imgdir), "-R")
    assert rc == 0, text
    rc, d, text = daemon.call("restore", "-D", str(imgdir), user=USER)
    assert rc == 1 and d["error"] == "1", text
    assert "uid 0" in d["message"], text


def test_user_dumps_and_restores_own_process(daemon, tracker, userdir):
    out = userdir / "c.out"
    p = start_counter(tracker, out, user=USER)
    imgdir = userdir / "img"
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(imgdir), user=USER)
    assert rc == 0, text + daemon.log_text()
    p.wait(timeout=10)
    st = os.stat(imgdir)
    assert st.st_uid == 0 and (st.st_mode & 0o777) == 0o700  # handed to the service account
    stopped_at = last_count(out)
    rc, d, text = daemon.call("restore", "-D", str(imgdir), user=USER)
    assert rc == 0, text + daemon.log_text()
    pid = int(d["pid"])
    tracker.add(pid)
    assert crlib.wait_until(lambda: last_count(out) > stopped_at, 10), crlib.read_text(out)
    status = open("/proc/%d/status" % pid).read()
    assert "Uid:\t%d\t%d\t%d\t%d" % ((USER,) * 4) in status


def test_user_may_not_restore_images_he_can_edit(daemon, tracker, userdir):
    p = start_counter(tracker, userdir / "c.out", user=USER)
    imgdir = userdir / "img"
    rc, d, text = daemon.call("dump", "-t", str(p.pid), "-D", str(imgdir), "-R", user=USER)
    assert rc == 0, text
    copy = userdir / "copy"
    shutil.copytree(imgdir, copy)
    for f in [copy] + list(copy.iterdir()):
        os.chown(f, USER, USER)
    rc, d, text = daemon.call("restore", "-D", str(copy), user=USER)
    assert rc == 1 and d["error"] == "1" and "written by ckptd" in d["message"], text


def test_user_status_shows_own_jobs_only(daemon, tracker, tmp_path):
    p = start_counter(tracker, tmp_path / "c.out")
    assert daemon.call("dump", "-t", str(p.pid), "-D", str(tmp_path / "img"), "-R")[0] == 0
    assert daemon.call("status")[1]["job"]
    rc, d, text = daemon.call("status", user=USER)
    assert rc == 0 and d["job"] == [] and d["done"] == "1", text


# ---- configuration, signals, privileges ----

def test_config_errors(ckptd_bins, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\n\nworkers = 2\nno_such_key = 1\n")
    p = subprocess.run([str(bin_path("ckptd")), "-f", "-c", str(conf), "--socket", str(tmp_path / "s")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert p.returncode != 0 and "bad.conf:4: unknown key 'no_such_key'" in p.stdout, p.stdout
    conf.write_text("workers = many\n")
    p = subprocess.run([str(bin_path("ckptd")), "-f", "-c", str(conf), "--socket", str(tmp_path / "s")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert p.returncode != 0 and "bad.conf:1:" in p.stdout, p.stdout
    p = subprocess.run([str(bin_path("ckptd")), "-f", "-c", str(tmp_path / "missing.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert p.returncode != 0 and "missing.conf" in p.stdout, p.stdout
    p = subprocess.run([str(bin_path("ckptd")), "--workers", "0", "-f", "-c", "/dev/null"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    assert p.returncode != 0 and "--workers" in p.stdout, p.stdout
    p = subprocess.run([str(bin_path("ckptd")), "--help"], stdout=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and "--service_user" in p.stdout and "--socket" in p.stdout


def test_command_line_overrides_file(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker, extra=["--workers", "3"], conf="workers = 1\n")
    assert d.call("status")[1]["workers"] == "3"
    assert d.stop() == 0


def test_sighup_reloads(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker, conf="workers = 1\n")
    assert d.call("status")[1]["workers"] == "1"
    d.conf.write_text("workers = 3\nservice_user = nobody\n")
    tracker.signal(d.popen.pid, signal.SIGHUP)
    assert crlib.wait_until(lambda: d.call("status")[1]["workers"] == "3", 10), d.log_text()
    # A broken file keeps the configuration running.
    d.conf.write_text("workers = 2\nbogus\n")
    tracker.signal(d.popen.pid, signal.SIGHUP)
    assert crlib.wait_until(lambda: "keeping the current one" in d.log_text(), 10), d.log_text()
    assert d.call("status")[1]["workers"] == "3"
    # The service account acts as root would: it sees root's jobs.
    assert d.stop() == 0


def test_service_user_may_act_on_anything(ckptd_bins, tmp_path, tracker, userdir):
    d = Daemon(tmp_path, tracker, conf="service_user = #%d\n" % USER if False else
               "service_user = %s\n" % __import__("pwd").getpwuid(USER).pw_name)
    p = start_counter(tracker, tmp_path / "c.out")
    rc, ans, text = d.call("dump", "-t", str(p.pid), "-D", str(userdir / "img"), "-R", user=USER)
    assert rc == 0, text + d.log_text()
    assert d.stop() == 0


def test_sigterm_finishes_running_dump(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker, conf="workers = 1\n")
    big = start_big(tracker)
    client = subprocess.Popen([str(bin_path("ckptd-client")), "-S", d.sock, "dump", "-t", str(big.pid), "-D",
                               str(tmp_path / "big"), "-R"], stdout=subprocess.PIPE, text=True, close_fds=True)
    assert wait_state(d, "running"), d.log_text()
    tracker.signal(d.popen.pid, signal.SIGTERM)
    out, _ = client.communicate(timeout=TIMEOUT)
    assert parse(out)["error"] == "0", out + d.log_text()
    assert d.popen.wait(timeout=TIMEOUT) == 0
    assert not os.path.exists(d.sock)
    assert big.poll() is None
    assert (tmp_path / "big" / "inventory.img").exists()


def test_capabilities_dropped(daemon):
    status = open("/proc/%d/status" % daemon.popen.pid).read()
    eff = int([l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1], 16)
    prm = int([l for l in status.splitlines() if l.startswith("CapPrm:")][0].split()[1], 16)
    assert eff == prm
    for cap in (12, 16, 17, 22, 25):  # NET_ADMIN, SYS_MODULE, SYS_RAWIO, SYS_BOOT, SYS_TIME
        assert not eff & (1 << cap), hex(eff)
    assert eff & (1 << 19)  # SYS_PTRACE kept
    daemon.alive()


def test_socket_mode(daemon):
    assert (os.stat(daemon.sock).st_mode & 0o777) == 0o666


# ---- the ckpt command through the daemon (ckpt --service) ----

def ckpt_service(daemon, *args, user=None, cwd=None, sock=None):
    """build/ckpt --service SOCK ARGS; (exit status, stdout, stderr)."""
    kw = {}
    if user is not None:
        kw = dict(user=user, group=user, extra_groups=[])
    p = subprocess.run([str(bin_path("ckpt")), "--service", sock or daemon.sock] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT,
                       close_fds=True, cwd=cwd, **kw)
    return p.returncode, p.stdout, p.stderr


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


def test_ckpt_service_dump_restore_status(daemon, tracker, tmp_path):
    out = tmp_path / "counter.out"
    p = start_counter(tracker, out)
    time.sleep(1.2)
    # A relative -D is the caller's: the client makes it absolute.
    rc, so, se = ckpt_service(daemon, "-v2", "dump", "-t", str(p.pid), "-D", "img", cwd=tmp_path)
    assert rc == 0 and "Dumped 1 task(s)" in se, se + daemon.log_text()
    p.wait(timeout=10)
    stopped_at = last_count(out)
    assert (tmp_path / "img" / "inventory.img").exists()
    assert not (tmp_path / "img" / "dump.log").exists()  # the daemon logs, not the client

    pidfile = tmp_path / "restored.pid"
    rc, so, se = ckpt_service(daemon, "restore", "-d", "-D", str(tmp_path / "img"), "--pidfile",
                              str(pidfile), "-v2")
    assert rc == 0, se + daemon.log_text()
    pid = int(se.split("runs as pid ")[1].split()[0])
    tracker.add(pid)
    assert int(pidfile.read_text()) == pid
    assert crlib.wait_until(lambda: last_count(out) >= stopped_at + 2, 10), crlib.read_text(out)

    rc, so, se = ckpt_service(daemon, "status")
    assert rc == 0 and se == "", se
    assert "jobs: 0 running, 0 queued, 2 done, 0 failed, 0 cancelled" in so, so
    jobs = [l.split() for l in so.splitlines()[3:]]
    assert [j[1:3] for j in jobs] == [["restore", "done"], ["dump", "done"]], so
    assert jobs[0][4] == str(pid) and jobs[1][4] == str(p.pid), so
    rc, so, se = ckpt_service(daemon, "check")
    assert rc == 0 and "Looks good." in so and "ptrace-seize" in so, so + se


def test_ckpt_service_errors(daemon, tracker, tmp_path, userdir):
    rc, so, se = ckpt_service(daemon, "dump", "-t", "999999999", "-D", str(tmp_path / "x"))
    assert rc == 1 and "no such process" in one_error_line(se), se
    rc, so, se = ckpt_service(daemon, "dump", "-t", "1", "-D", "/tmp/../etc/x")
    assert rc == 1 and ".." in one_error_line(se), se
    rc, so, se = ckpt_service(daemon, "restore", "-d", "-D", str(tmp_path / "none"))
    assert rc == 1 and one_error_line(se).startswith("Error: restore failed: "), se
    rc, so, se = ckpt_service(daemon, "cancel", "12345")
    assert rc == 1 and one_error_line(se) == "Error: cancel failed: no job 12345", se
    rc, so, se = ckpt_service(daemon, "status", sock=str(tmp_path / "no.sock"))
    assert rc == 1 and "cannot reach ckptd" in one_error_line(se), se
    # Refusals of the daemon: a user may not dump root's process.
    p = start_counter(tracker, tmp_path / "c.out")
    rc, so, se = ckpt_service(daemon, "dump", "-t", str(p.pid), "-D", str(userdir / "img"), user=USER)
    assert rc == 1 and "uid 0" in one_error_line(se), se
    # What a restore through the daemon cannot do is a usage error, before anything is sent.
    rc, so, se = ckpt_service(daemon, "restore", "-D", str(tmp_path / "none"))
    assert rc == 2 and "-d" in se, se
    # Refused before they were queued (the '..' path, the user's dump): no job for those.
    rc, so, se = ckpt_service(daemon, "status")
    assert rc == 0 and "0 done, 2 failed" in so and len(so.splitlines()) == 5, so
    assert p.poll() is None
    daemon.alive()


def test_ckpt_service_user_round_trip(daemon, tracker, userdir):
    out = userdir / "c.out"
    p = start_counter(tracker, out, user=USER)
    rc, so, se = ckpt_service(daemon, "dump", "-t", str(p.pid), "-D", "img", user=USER, cwd=userdir)
    assert rc == 0 and se == "", se + daemon.log_text()
    p.wait(timeout=10)
    stopped_at = last_count(out)
    rc, so, se = ckpt_service(daemon, "-v2", "restore", "-d", "-D", "img", user=USER, cwd=userdir)
    assert rc == 0, se + daemon.log_text()
    tracker.add(int(se.split("runs as pid ")[1].split()[0]))
    assert crlib.wait_until(lambda: last_count(out) > stopped_at, 10), crlib.read_text(out)
    rc, so, se = ckpt_service(daemon, "status", user=USER)
    assert rc == 0 and len(so.splitlines()) == 5, so  # his two jobs


# ---- the tree is let go when ckptd dies, or when its dump is cancelled ----

def start_mem_random(tracker, tmp_path, mib):
    """tests/cr/mem_random MIB in its own session (crtest.h protocol); (Popen, output path)."""
    prog = crlib.prog_path("mem_random")
    if not os.access(prog, os.X_OK):
        pytest.skip("%s is not built (make cr-progs)" % prog)
    out = tmp_path / "mem_random.out"
    with open(out, "wb") as f:
        p = tracker.popen(NO_CAPS + [str(prog), str(mib)], stdin=subprocess.DEVNULL, stdout=f,
                          stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    assert crlib.wait_until(lambda: "READY" in crlib.read_text(out), 30), crlib.read_text(out)
    return p, out


def tracer_of(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return None


def released_and_running(pid):
    """No tracer, and no thread stopped ('t' traced, 'T' stopped)."""
    states = crlib.task_states(pid)
    return tracer_of(pid) == 0 and states and not set(states.values()) & {"t", "T"}


def writing_pages(imgdir):
    """The dump is in its long part: a pages image is being written."""
    try:
        return any(f.name.startswith("pages-") and f.stat().st_size > (1 << 20) for f in imgdir.iterdir())
    except FileNotFoundError:
        return False


def passes_sigterm_check(tracker, p, out):
    tracker.signal(p.pid, signal.SIGTERM)
    assert p.wait(timeout=TIMEOUT) == 0, crlib.read_text(out)
    assert "PASS" in crlib.read_text(out), crlib.read_text(out)


def test_ckptd_killed_mid_dump_leaves_tree_running(ckptd_bins, tmp_path, tracker):
    """SIGKILL ckptd while it dumps 512 MiB: the job's process (own session) finishes the dump
    with -R and lets the tree go; the tree runs on and its memory is intact."""
    d = Daemon(tmp_path, tracker, conf="workers = 1\n")
    p, out = start_mem_random(tracker, tmp_path, 512)
    imgdir = tmp_path / "img"
    client = subprocess.Popen([str(bin_path("ckpt")), "--service", d.sock, "dump", "-t", str(p.pid), "-D",
                               str(imgdir), "-R"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              close_fds=True)
    assert crlib.wait_until(lambda: writing_pages(imgdir), 30, step=0.005), d.log_text()
    assert tracer_of(p.pid) != 0  # caught in the middle
    tracker.signal(d.popen.pid, signal.SIGKILL)
    assert d.popen.wait(timeout=TIMEOUT) == -signal.SIGKILL
    _, err = client.communicate(timeout=TIMEOUT)
    assert client.returncode == 1 and "closed the connection" in one_error_line(err), err
    # The orphaned job's process completes the checkpoint, then detaches.
    assert crlib.wait_until(lambda: (imgdir / "inventory.img").exists() and released_and_running(p.pid),
                            TIMEOUT), crlib.task_states(p.pid)
    assert p.poll() is None
    passes_sigterm_check(tracker, p, out)
    d.stop()


def test_cancel_running_dump_leaves_tree_running(ckptd_bins, tmp_path, tracker):
    """A running dump (without -R: it would kill the tree) cancelled halfway: its client hears
    ECANCELED, the tree runs on intact, the partial images are gone."""
    d = Daemon(tmp_path, tracker, conf="workers = 1\n")
    p, out = start_mem_random(tracker, tmp_path, 512)
    imgdir = tmp_path / "img"
    client = subprocess.Popen([str(bin_path("ckpt")), "--service", d.sock, "dump", "-t", str(p.pid), "-D",
                               str(imgdir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              close_fds=True)
    assert crlib.wait_until(lambda: writing_pages(imgdir), 30, step=0.005), d.log_text()
    job_id = [j for j in d.call("status")[1]["job"] if "state=running" in j][0].split()[0].split("=")[1]
    rc, so, se = ckpt_service(d, "cancel", job_id)
    assert rc == 0 and se == "", se
    _, err = client.communicate(timeout=TIMEOUT)
    assert client.returncode == 1 and "dump cancelled; the tree runs on untouched" in one_error_line(err), err
    assert crlib.wait_until(lambda: released_and_running(p.pid), 10), crlib.task_states(p.pid)
    assert not [f for f in imgdir.iterdir() if f.name.endswith(".img")], list(imgdir.iterdir())
    rc, so, se = ckpt_service(d, "status")
    assert "0 failed, 1 cancelled" in so and "cancelled" in so.splitlines()[3], so
    # Cancelled already: a second cancel says so; the daemon serves on.
    rc, so, se = ckpt_service(d, "cancel", job_id)
    assert rc == 1 and "already finished" in one_error_line(se), se
    passes_sigterm_check(tracker, p, out)
    assert d.stop() == 0


# ---- contrib/ and man/: the shipped configuration, unit and man page ----

def config_keys():
    """The keys as `ckptd --help` lists them (`  --key   help`)."""
    out = subprocess.run([str(bin_path("ckptd")), "--help"], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    tail = out.split("are the same):", 1)[1].split("\nSignals", 1)[0]
    return [l.split()[0][2:] for l in tail.splitlines() if l.strip().startswith("--")]


def test_contrib_conf_lists_every_key(ckptd_bins, tmp_path, tracker):
    text = (crlib.ROOT / "contrib" / "ckptd.conf").read_text()
    keys = config_keys()
    assert len(keys) >= 9, keys
    man = (crlib.ROOT / "man" / "ckptd.8").read_text()
    for k in keys:
        assert "\n#%s = " % k in text or "\n#%s =\n" % k in text, k
        assert ".BI %s " % k in man, k
    # As shipped (all commented out): the defaults. Every setting uncommented: still valid.
    d = Daemon(tmp_path, tracker, conf=text)
    assert d.call("status")[1]["workers"] == "4"
    assert d.stop() == 0
    on = "".join(l[1:] + "\n" if any(l.startswith("#%s " % k) for k in keys) else l + "\n"
                 for l in text.splitlines())
    d = Daemon(tmp_path, tracker, conf=on.replace("#workers", "workers"))
    assert d.call("status")[1]["workers"] == "4"
    assert d.stop() == 0


def test_service_unit_command_line(ckptd_bins, tmp_path, tracker):
    """contrib/ckptd.service as systemd would run it: ExecStart (with our binary, a test
    configuration and socket), ExecReload's SIGHUP, then KillSignal."""
    unit = (crlib.ROOT / "contrib" / "ckptd.service").read_text()
    conf = dict(l.split("=", 1) for l in unit.splitlines() if "=" in l and not l.startswith("#"))
    argv = conf["ExecStart"].split()
    assert argv[0] == "/usr/local/sbin/ckptd" and conf["Type"] == "simple" and "-f" in argv
    assert conf["KillMode"] == "process" and conf["KillSignal"] == "SIGTERM"
    assert conf["ExecReload"] == "/bin/kill -HUP $MAINPID"
    cfg = tmp_path / "ckptd.conf"
    cfg.write_text("workers = 1\n")
    argv = [str(bin_path("ckptd"))] + [str(cfg) if a == "/etc/ckpt/ckptd.conf" else a for a in argv[1:]]
    sockdir = tempfile.mkdtemp(prefix="ckptd-unit-")
    sock = os.path.join(sockdir, "s.sock")
    try:
        log = open(tmp_path / "unit.log", "wb")
        p = tracker.popen(argv + ["--socket", sock], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                          close_fds=True)
        ok = lambda: os.path.exists(sock) and ckpt_service(None, "status", sock=sock)[0] == 0
        assert crlib.wait_until(ok, 10), crlib.read_text(tmp_path / "unit.log")
        cfg.write_text("workers = 2\n")
        tracker.signal(p.pid, signal.SIGHUP)  # ExecReload
        assert crlib.wait_until(lambda: "2 worker(s)" in ckpt_service(None, "status", sock=sock)[1], 10)
        tracker.signal(p.pid, signal.SIGTERM)  # KillSignal
        assert p.wait(timeout=TIMEOUT) == 0 and not os.path.exists(sock)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


def test_install_ckptd(ckptd_bins, tmp_path):
    dest = tmp_path / "root"
    p = subprocess.run(["make", "-s", "-C", str(crlib.ROOT), "install-ckptd", "DESTDIR=%s" % dest,
                        "PREFIX=/usr"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout
    assert os.access(dest / "usr/sbin/ckptd", os.X_OK)
    assert (dest / "usr/share/man/man8/ckptd.8").exists()
    assert (dest / "etc/ckpt/ckptd.conf").read_text() == (crlib.ROOT / "contrib/ckptd.conf").read_text()
    assert "ExecStart=/usr/sbin/ckptd -f -c /etc/ckpt/ckptd.conf\n" in \
        (dest / "usr/lib/systemd/system/ckptd.service").read_text()
