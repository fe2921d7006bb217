"""ckpt refuses bad input cleanly, and loses nothing when it does.

Every case expects a non-zero exit and exactly one stderr line starting with "Error:" that
names the object at fault (a pid, a path, an image file, a version). "Nothing lost" means:
after a failed dump the program still runs, is not stopped, and still passes its own check
when sent SIGTERM; after a failed restore the images are byte for byte what they were and no
restored process is left behind.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

import crlib


# ---------------------------------------------------------------------------------------
# helpers


def assert_one_error(r, *mentions, what=""):
    assert r.returncode != 0, "%s: ckpt succeeded where it must fail\n%s" % (what, r.describe())
    errors = r.error_lines()
    assert len(errors) == 1, "%s: want exactly one 'Error:' line, got %d\n%s" % (
        what, len(errors), r.describe())
    for m in mentions:
        if isinstance(m, re.Pattern):
            ok = m.search(errors[0])
        else:
            ok = m.lower() in errors[0].lower()
        assert ok, "%s: the error does not mention %r\n%s" % (
            what, getattr(m, "pattern", m), r.describe())
    return errors[0]


def pid_re(pid):
    return re.compile(r"(?<![0-9])%d(?![0-9])" % pid)


def image_hashes(imgdir):
    """sha256 of every file of an image directory but the engine's own *.log files."""
    return {k: v for k, v in crlib.dir_hashes(imgdir).items() if not k.endswith(".log")}


def expect_dump_fails(cr, run, imgdir, *mentions, opts=()):
    """A dump that must fail and leave the program running and passing."""
    r = cr.run_ckpt("dump", "-t", run.pid, "-D", imgdir, *opts)
    assert_one_error(r, *mentions, what="dump -D %s" % imgdir)
    cr.check_running(run)
    cr.terminate_and_verdict(run, "%s after the failed dump" % run.name)
    return r


def expect_restore_fails(cr, imgdir, *mentions, opts=()):
    """A restore (-d, so that a wrong success returns) that must fail and change nothing."""
    before = image_hashes(imgdir) if pathlib.Path(imgdir).is_dir() else None
    pidfile = cr.path("restore").with_suffix(".pid")
    r = cr.run_ckpt("restore", "-d", "-D", imgdir, "--pidfile", pidfile, *opts)
    pid = crlib.read_pidfile(pidfile)
    if pid:
        cr.tracker.add_tree(pid)
    assert_one_error(r, *mentions, what="restore -D %s" % imgdir)
    if pid:
        fd = cr.tracker.fd_of(pid)
        assert fd is None or crlib.pidfd_exited(fd, 5), \
            "the failed restore left pid %d running" % pid
    if before is not None:
        after = image_hashes(imgdir)
        assert after == before, "the failed restore changed the images: %s" % sorted(
            k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return r


def mount_tmpfs(cr, path, options):
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if p.returncode:
        pytest.skip("cannot mount a tmpfs (%s): %s" % (options, p.stdout.decode().strip()))
    cr.mounts.append(path)
    return path


def free_pid():
    pid_max = int(pathlib.Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(pid_max - 1, 300, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    pytest.skip("no free pid")


def kernel_thread():
    """A kernel thread other than kthreadd: Kthread: 1 in its status, or a child of pid 2."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or name in ("1", "2"):
            continue
        try:
            status = pathlib.Path("/proc/%s/status" % name).read_text()
        except OSError:
            continue
        fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
        if fields.get("Kthread", "").strip() == "1" or fields.get("PPid", "").strip() == "2":
            comm = fields.get("Name", "").strip()
            # kworkers come and go; prefer a thread that lives as long as the system.
            found.append((comm.startswith("kworker"), int(name)))
    if not found:
        pytest.skip("no kernel thread visible in /proc")
    return min(found)[1]


def one_image(imgdir, prefix):
    files = sorted(pathlib.Path(imgdir).glob("%s-*.img" % prefix)) or \
        sorted(pathlib.Path(imgdir).glob("%s.img" % prefix))
    if not files:
        pytest.skip("the dump has no %s image" % prefix)
    return files[0]


# ---------------------------------------------------------------------------------------
# dump


def test_dump_no_such_pid(cr):
    pid = free_pid()
    r = cr.run_ckpt("dump", "-t", pid, "-D", cr.tmp / "img")
    assert_one_error(r, pid_re(pid), what="dump of free pid %d" % pid)


def test_dump_pid_not_a_number(cr):
    r = cr.run_ckpt("dump", "-t", "12ab", "-D", cr.tmp / "img")
    assert_one_error(r, "12ab", what="dump -t 12ab")


def test_dump_kernel_thread(cr):
    pid = kernel_thread()
    # -R: should a broken engine not refuse, at least it must not kill the thread.
    r = cr.run_ckpt("dump", "-R", "-t", pid, "-D", cr.tmp / "img")
    assert_one_error(r, pid_re(pid), what="dump of kernel thread %d" % pid)
    assert os.path.exists("/proc/%d" % pid)
    assert crlib.proc_state(pid) not in ("T", "t"), "kernel thread %d left stopped" % pid


def test_dump_pid1(cr):
    """PID 1 of a PID namespace the test creates (never the host's PID 1: on a broken
    engine that would take the machine down). The namespace's init is a shell that runs
    ckpt and then reports, proving it survived."""
    img = cr.tmp / "img"
    script = '"$0" dump -R -t 1 -D "$1"; echo "rc=$?"'
    try:
        p = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script,
                            cr.ckpt, str(img)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=crlib.TIMEOUT, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("dump -t 1 in a new PID namespace hung")
    out, err = p.stdout.decode(), p.stderr.decode()
    if "unshare failed" in err:
        pytest.skip("cannot create a PID namespace: %s" % err.strip())
    m = re.search(r"rc=(\d+)", out)
    assert m, "the namespace's init did not survive the dump of PID 1\n%s\n%s" % (out, err)
    r = crlib.CkptResult(["ckpt", "dump", "-R", "-t", "1", "-D", img], int(m.group(1)), out, err)
    assert_one_error(r, pid_re(1), what="dump of PID 1")


def test_dump_dir_under_regular_file(cr):
    run = cr.start("hello_dynamic")
    afile = cr.tmp / "afile"
    afile.write_text("not a directory\n")
    expect_dump_fails(cr, run, afile / "img", "afile")
    assert afile.read_text() == "not a directory\n"


@pytest.mark.parametrize("sub", ["", "img"], ids=["existing", "to-create"])
def test_dump_dir_read_only(cr, sub):
    ro = mount_tmpfs(cr, cr.tmp / "ro", "ro,size=1m")
    run = cr.start("hello_dynamic")
    target = ro / sub if sub else ro
    expect_dump_fails(cr, run, target, str(target))


def test_dump_disk_full(cr):
    small = mount_tmpfs(cr, cr.tmp / "small", "size=8m")
    run = cr.start("mem_random", ["64"])
    expect_dump_fails(cr, run, small / "img", "No space left")
    # Nothing half-written is left to be mistaken for a checkpoint.
    assert not list((small / "img").glob("*.img")), list((small / "img").iterdir())


# ---------------------------------------------------------------------------------------
# restore of broken images


@pytest.fixture(scope="module")
def good_dump(tmp_path_factory, ckpt_bin):
    """One dump of a small mem_random, shared by the image tests (each copies it)."""
    tracker = crlib.Tracker()
    cr = crlib.Session(tmp_path_factory.mktemp("good_dump"), tracker)
    try:
        run = cr.start("mem_random", ["16"])
        img = cr.tmp / "img"
        cr.dump(run, img)
        cr.check_gone(run)
        yield img, crlib.Snapshot([run.out, run.workdir])
    finally:
        tracker.kill_all()


def copy_of(cr, good_dump):
    img, snap = good_dump
    snap.rewind()  # in case a broken engine restored and ran it
    return crlib.copy_images(img, cr.tmp / "img")


IMAGE_KINDS = ["core", "pages", "pagemap", "mm", "pstree", "fdinfo", "inventory"]


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_restore_flipped_byte(cr, good_dump, kind):
    img = copy_of(cr, good_dump)
    f = one_image(img, kind)
    data = bytearray(f.read_bytes())
    assert len(data) > 32, "%s is only %d bytes" % (f.name, len(data))
    data[len(data) // 2] ^= 0x40
    f.write_bytes(bytes(data))
    expect_restore_fails(cr, img, f.name)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_restore_truncated(cr, good_dump, kind):
    img = copy_of(cr, good_dump)
    f = one_image(img, kind)
    size = f.stat().st_size
    os.truncate(f, size // 2)
    expect_restore_fails(cr, img, f.name)


def test_restore_version_99(cr, good_dump):
    """Each *.img in turn with the format version (bytes 4..7, little-endian) set to 99."""
    names = sorted(p.name for p in good_dump[0].glob("*.img"))
    assert names, "the dump wrote no *.img"
    for name in names:
        img = copy_of(cr, good_dump)
        f = img / name
        data = bytearray(f.read_bytes())
        data[4:8] = (99).to_bytes(4, "little")
        f.write_bytes(bytes(data))
        msg = expect_restore_fails(cr, img, name, "99").error_lines()[0]
        assert "version" in msg.lower(), "the error does not say 'version': %s" % msg
        shutil.rmtree(img)


def test_restore_missing_dir(cr):
    expect_restore_fails(cr, cr.tmp / "no-such-dir", "no-such-dir")


def test_restore_empty_dir(cr):
    empty = cr.tmp / "empty"
    empty.mkdir()
    r = expect_restore_fails(cr, empty)
    msg = r.error_lines()[0]
    assert "empty" in msg or "inventory" in msg, \
        "the error names neither the directory nor its inventory: %s" % msg


@pytest.mark.parametrize("which", ["work-file", "stdout"])
def test_restore_file_size_changed(cr, which):
    """A regular file the program had open grew after the dump: files.c's reg.dat, or the
    output file that is hello_dynamic's stdout."""
    if which == "work-file":
        run = cr.start("files", ["{workdir}"])
        victim = run.workdir / "reg.dat"
    else:
        run = cr.start("hello_dynamic")
        victim = run.out
    img = cr.tmp / "img"
    cr.dump(run, img)
    cr.check_gone(run)
    at_dump = crlib.Snapshot([run.out, run.workdir])
    with open(victim, "ab") as f:
        f.write(b"grown after the dump\n")
    expect_restore_fails(cr, img, victim.name)
    # Put the file back: now the same images restore and pass (nothing lost).
    at_dump.rewind()
    cr.restore_and_verify(run, img)


def test_restore_twice_at_once_no_pidns(cr):
    run = cr.start("hello_dynamic")
    pid0 = run.pid
    img = cr.tmp / "img"
    cr.dump(run, img)
    cr.check_gone(run)
    first, pidfile, errf = cr.restore_start(img, "--no-pidns")
    pid = cr.wait_pidfile(first, pidfile, errf, img, run.out)
    assert pid == pid0, "restore --no-pidns gave pid %d, the dump had %d" % (pid, pid0)
    expect_restore_fails(cr, img, pid_re(pid0), opts=("--no-pidns",))
    # The first restore is untouched: it still runs and passes.
    fd = cr.tracker.fd_of(pid)
    assert not crlib.pidfd_exited(fd), "the first restore's pid %d ended" % pid
    cr.tracker.signal(pid, signal.SIGTERM)
    rc = first.wait(timeout=crlib.TIMEOUT)
    line = crlib.verdict(run.out)
    assert rc == 0 and line == "PASS", "first restore: exit %s, verdict %r\n%s" % (
        rc, line, crlib.tail(run.output()))


# ---------------------------------------------------------------------------------------
# a node without room for the images' memory


@pytest.fixture
def memory_cgroup():
    """A v1 memory cgroup limited to 64 MiB, removed afterwards (its processes have ended)."""
    base = pathlib.Path("/sys/fs/cgroup/memory")
    if not (base / "cgroup.procs").exists():
        pytest.skip("no cgroup v1 memory controller at %s" % base)
    cg = base / ("ckpt-test-%d" % os.getpid())
    cg.mkdir()
    try:
        (cg / "memory.limit_in_bytes").write_text(str(64 << 20))
        yield cg
    finally:
        crlib.wait_until(lambda: not (cg / "cgroup.procs").read_text().strip(), 10)
        cg.rmdir()


def test_restore_without_room_for_its_memory(cr, memory_cgroup):
    """Images of 128 MiB, restored by a ckpt inside a 64 MiB cgroup: refused before anything
    is created, with both figures; the same images restore outside it."""
    run = cr.start("mem_random", ["128"])
    img = cr.tmp / "img"
    cr.dump(run, img)
    cr.check_gone(run)
    wrapper = cr.tmp / "in-cgroup.sh"
    wrapper.write_text('#!/bin/sh\necho $$ > %s/cgroup.procs || exit 99\nexec %s "$@"\n'
                       % (memory_cgroup, cr.ckpt))
    wrapper.chmod(0o755)
    ckpt, cr.ckpt = cr.ckpt, str(wrapper)
    try:
        r = expect_restore_fails(cr, img, "not enough memory", "128.", "MiB", "cgroup")
    finally:
        cr.ckpt = ckpt
    assert r.returncode == 1, r.describe()
    cr.restore_detached_and_verify(run, img)
