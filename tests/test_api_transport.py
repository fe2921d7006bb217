"""libckpt's one API over two transports: build/tests/api/api_transport, a program that sees
only include/ckpt.h and links build/libckpt.so, makes the same calls (ckpt_dump,
ckpt_restore, ckpt_check) in-process and through ckptd (--service: the options' service
field set), and the daemon-only ones (version, cancel). Over TCP with munge in
test_ckptd_munge.py."""
import os
import subprocess

import pytest

import crlib
from test_ckptd import (USER, ckptd_bins, daemon, last_count, start_counter, tracker,  # noqa: F401
                        userdir)

TIMEOUT = 60


def api_bin():
    return crlib.build_dir() / "tests" / "api" / "api_transport"


@pytest.fixture(scope="module", autouse=True)
def built():
    if not os.access(api_bin(), os.X_OK):
        pytest.skip("%s is not built (make cr-progs)" % api_bin())


def parse(out):
    d = {"feature": []}
    for line in out.splitlines():
        key, _, value = line.partition(": ")
        if key == "feature":
            d[key].append(value)
        else:
            d.setdefault(key, value)
    return d


def api(service, *args, user=None):
    """(exit status, parsed stdout, stderr: the library's messages)."""
    pre = ["--service", service] if service else []
    kw = dict(user=user, group=user, extra_groups=[]) if user is not None else {}
    p = subprocess.run([str(api_bin())] + pre + list(args), capture_output=True, text=True,
                       timeout=TIMEOUT, close_fds=True, **kw)
    return p.returncode, parse(p.stdout), p.stderr


@pytest.mark.parametrize("transport", ["local", "ckptd"])
def test_dump_and_restore_same_calls(transport, daemon, tracker, tmp_path):
    service = daemon.sock if transport == "ckptd" else None
    out = tmp_path / "counter.out"
    p = start_counter(tracker, out)
    img = tmp_path / "img"
    rc, d, err = api(service, "dump", str(p.pid), str(img))
    assert rc == 0, err + daemon.log_text()
    assert d["tasks"] == "1" and int(d["pages"]) > 0 and int(d["bytes"]) > 0, d
    assert 0 < int(d["frozen_ns"]) <= int(d["total_ns"]), d
    p.wait(timeout=10)  # without leave-running the dump ends the tree
    stopped_at = last_count(out)
    assert (img / "inventory.img").exists()

    rc, d, err = api(service, "restore", str(img))
    assert rc == 0, err + daemon.log_text()
    tracker.add(int(d["pid"]))
    assert crlib.wait_until(lambda: last_count(out) >= stopped_at + 2, 10), crlib.read_text(out)
    counts = [int(l.split()[1]) for l in crlib.read_text(out).splitlines() if l.startswith("count ")]
    assert counts == list(range(1, len(counts) + 1)), counts
    jobs = daemon.call("status")[1]
    assert jobs["done"] == ("2" if service else "0"), jobs  # only the ckptd run went through it


def test_check_same_features(daemon):
    rc_l, local, err_l = api(None, "check")
    rc_s, remote, err_s = api(daemon.sock, "check")
    assert rc_l == rc_s == 0, err_l + err_s
    # the same table; what may differ is an optional feature the daemon's reduced capability
    # set lacks (tcp-repair needs CAP_NET_ADMIN, which ckptd drops)
    names = lambda feats: [f.split()[0] for f in feats]
    assert local["feature"] and names(local["feature"]) == names(remote["feature"])
    required = lambda feats: [f for f in feats if "required=1" in f]
    assert required(local["feature"]) == required(remote["feature"])
    assert all("present=1" in f for f in required(remote["feature"])), remote["feature"]


def test_version_and_cancel(daemon):
    rc, d, err = api(daemon.sock, "version")
    assert rc == 0 and d["version"] and int(d["protocol"]) >= 1, (d, err)
    rc, d, err = api(daemon.sock, "cancel", "12345")
    assert rc == 1 and d["error"] == "2", (d, err)  # ENOENT, with the daemon's reason logged
    assert err.startswith("error: cancel failed: ") and len(err.splitlines()) == 1, err


def test_daemon_refusal_reaches_log_callback(daemon, tracker, userdir):
    """A user asking ckptd to dump a root process: EPERM and the daemon's reason, one line."""
    p = start_counter(tracker, userdir / "root.out")
    rc, d, err = api(daemon.sock, "dump", str(p.pid), str(userdir / "img"), user=USER)
    assert rc == 1 and d["error"] == "1", (d, err)
    assert err.startswith("error: dump failed: ") and len(err.splitlines()) == 1, err
    assert p.poll() is None and not (userdir / "img" / "inventory.img").exists()


@pytest.mark.parametrize("call, words", [
    (("dump", "{pid}", "{img}", "file-locks"), "file_locks cannot go through ckptd"),
    (("restore", "{img}", "wait"), "set detach"),
])
def test_options_the_daemon_cannot_carry(call, words, daemon, tracker, tmp_path):
    p = start_counter(tracker, tmp_path / "c.out")
    argv = [a.format(pid=p.pid, img=tmp_path / "img") for a in call]
    rc, d, err = api(daemon.sock, *argv)
    assert rc == 1 and d["error"] == "95" and words in err, (d, err)  # EOPNOTSUPP
    assert p.poll() is None
    assert daemon.call("status")[1]["done"] == "0"  # nothing was sent


def test_unreachable_daemon(tmp_path):
    rc, d, err = api(str(tmp_path / "no.sock"), "version")
    assert rc == 1 and d["error"] == "2", (d, err)
    assert "cannot reach ckptd at" in err and len(err.splitlines()) == 1, err
