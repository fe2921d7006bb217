"""restore --owner (ckpt_restore_opts.check_owner): a restore run with privilege refuses an
image whose recorded credentials are not the owner's, e.g. one edited to claim uid 0."""
import signal
import subprocess
import time

import crlib

SLEEPER = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--",
           "/bin/sh", "-c", "while :; do sleep 0.1; done"]


def dump_user_tree(ckpt_bin, tmp_path, tracker):
    p = subprocess.Popen(SLEEPER, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    tracker.add(p.pid)
    time.sleep(0.3)
    img = tmp_path / "img"
    d = subprocess.run([ckpt_bin, "dump", "-t", str(p.pid), "-D", str(img)],
                       capture_output=True, text=True, timeout=60)
    assert d.returncode == 0, d.stderr
    p.wait(timeout=30)
    return img, p.pid


def restore(ckpt_bin, img, *args):
    return subprocess.run([ckpt_bin, "restore", "-D", str(img), "-d", "--pidfile",
                           str(img / "restored.pid"), *args],
                          capture_output=True, text=True, timeout=60)


def test_owner_accepts_own_image(ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    try:
        img, _ = dump_user_tree(ckpt_bin, tmp_path, tracker)
        r = restore(ckpt_bin, img, "--owner", "1000:1000")
        assert r.returncode == 0, r.stderr
        tracker.add(crlib.read_pidfile(img / "restored.pid"))
    finally:
        tracker.kill_all()


def test_owner_refuses_other_user(ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    try:
        img, _ = dump_user_tree(ckpt_bin, tmp_path, tracker)
        r = restore(ckpt_bin, img, "--owner", "1001:1001")
        assert r.returncode != 0 and "not the job owner's 1001: refused" in r.stderr, r.stderr
    finally:
        tracker.kill_all()


def test_owner_refuses_image_edited_to_root(ckpt_bin, tmp_path):
    tracker = crlib.Tracker()
    try:
        img, pid = dump_user_tree(ckpt_bin, tmp_path, tracker)
        tool = crlib.build_dir() / "tests" / "tools" / "img_setcreds"
        subprocess.run([str(tool), str(img), str(pid), "0", "0"], check=True)
        r = restore(ckpt_bin, img, "--owner", "1000:1000")
        assert r.returncode != 0, r.stderr
        assert "pid %d: its uids 0/0/0/0 are not the job owner's 1000: refused" % pid in r.stderr, r.stderr
        assert not (img / "restored.pid").exists()
    finally:
        tracker.kill_all()
