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
    for name in ("ckptd", "ckptd-client", "examples/counter"):
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
