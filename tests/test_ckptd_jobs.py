"""ckptd's Slurm jobs without a Slurm cluster: RPC_JOB_* requests to a daemon started with
images_root in a temporary directory and `slurm = no` (no slurmctld to ask: registered jobs
stay until RPC_JOB_END, and nothing is requeued or cancelled).

The plugin's shim is played by raw requests (RPC_JOB_REGISTER, RPC_JOB_END), encoded here by
hand; users go through `ckpt --service SOCK job ...`. Requests of uid 1000 run in a child
started with setpriv. Every process is held by a pidfd (crlib.Tracker) and only those are
signalled. The end-to-end tests with a real Slurm live in tests/test_slurm_*.py.
"""
import errno
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile

import pytest

import crlib
from test_ckptd import (USER, TIMEOUT, Daemon, bin_path, ckptd_bins, last_count,  # noqa: F401
                        start_big, start_counter, tracker, wait_state)

# rpc.proto: request types and the fields used here
(RPC_STATUS, RPC_JOB_REGISTER, RPC_JOB_END, RPC_JOB_CHECKPOINT, RPC_JOB_LIST, RPC_JOB_FORGET,
 RPC_JOB_START) = 5, 9, 10, 11, 12, 13, 14


# ---- protobuf, the little of it these requests need ----

def varint(v):
    v &= (1 << 64) - 1  # negative int32 values are sent as 10-byte varints
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def message(*fields):
    return b"".join(field(n, v) for n, v in fields if v is not None)


def request(rtype, num=None, *fields):
    body = message(*fields)
    return message((1, rtype)) + (field(num, body) if num else b"")


def decode(buf):
    """{field number: [values]}: ints for varints, bytes for length-delimited fields."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def read_varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


class Answer:
    def __init__(self, raw):
        self.raw = raw
        self.f = decode(raw)
        self.type = self.f[1][0]
        self.error = self.f[2][0]
        self.message = self.f.get(3, [b""])[0].decode(errors="replace")

    def __repr__(self):
        return "Answer(type=%d, error=%d, message=%r)" % (self.type, self.error, self.message)


def register_req(job_id, uid, gid, pid, interval_s=None, stdout_path=None, restart_count=None, init_pid=None):
    return request(RPC_JOB_REGISTER, 9, (1, job_id), (2, uid), (3, gid), (4, pid), (5, init_pid), (6, interval_s),
                   (7, restart_count), (8, "/var/spool/slurmd/job%u/slurm_script" % job_id),
                   (9, stdout_path))


def end_req(job_id, status):
    return request(RPC_JOB_END, 10, (1, job_id), (2, status))


SEND = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(%d)
s.connect(sys.argv[1])
s.send(bytes.fromhex(sys.argv[2]))
sys.stdout.write(s.recv(1 << 20).hex())
""" % TIMEOUT


def rpc(daemon, req, user=None):
    """Send one request, return its Answer; as uid user through setpriv when given."""
    if user is None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(TIMEOUT)
            s.connect(daemon.sock)
            s.send(req)
            return Answer(s.recv(1 << 20))
    argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups", sys.executable, "-c",
            SEND, daemon.sock, req.hex()]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return Answer(bytes.fromhex(p.stdout))


def ckpt_job(daemon, *args, user=None):
    """`ckpt --service SOCK job ARGS...`: (exit status, stdout, stderr)."""
    kw = dict(user=user, group=user, extra_groups=[]) if user is not None else {}
    p = subprocess.run([str(bin_path("ckpt")), "--service", daemon.sock, "job"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT,
                       close_fds=True, **kw)
    return p.returncode, p.stdout, p.stderr


# ---- fixtures ----

def job_daemon(tmp_path, tracker, root=None, extra=()):
    root = root if root is not None else tmp_path / "images"
    conf = "workers = 2\nimages_root = %s\nslurm = no\nnode_name = testnode\njitter_s = 0\n" % root
    d = Daemon(tmp_path, tracker, extra=list(extra), conf=conf)
    d.root = pathlib.Path(root)
    return d


@pytest.fixture
def jd(ckptd_bins, tmp_path, tracker):
    d = job_daemon(tmp_path, tracker)
    yield d
    assert d.stop() == 0, d.log_text()


class Job:
    """A plain process tree standing for a Slurm job's tree: a counter in its own session."""

    def __init__(self, daemon, tracker, workdir, job_id, uid=0, register=True, **kw):
        self.id = job_id
        self.uid = uid
        self.out = workdir / ("job%d.out" % job_id)
        self.p = start_counter(tracker, self.out, user=uid or None)
        if register:
            a = rpc(daemon, register_req(job_id, uid, uid, self.p.pid, stdout_path=str(self.out), **kw))
            assert a.error == 0, (a, daemon.log_text())

    def running(self):
        n = last_count(self.out)
        return self.p.poll() is None and crlib.wait_until(lambda: last_count(self.out) > n, 5)


def committed(root, job_id):
    d = root / str(job_id)
    return sorted(int(e.name) for e in d.iterdir() if e.name.isdigit()) if d.exists() else []


def meta(root, job_id, seq):
    text = (root / str(job_id) / str(seq) / "ckpt.meta").read_text()
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


def list_rows(out):
    """The rows of `ckpt job list` as lists of columns; the header checked."""
    lines = out.splitlines()
    assert lines and lines[0].split() == ["JOBID", "SEQ", "USER", "NODE", "TIME", "REASON", "SIZE", "LATEST"], out
    rows = []
    for l in lines[1:]:
        if l.startswith("watched here:"):
            continue
        m = re.match(r"(\d+) +(\d+) (\S+) +(\S+) +(\S+ \S+) (\S+) +(\S+ \S+) ?(\*?)$", l)
        assert m, l
        rows.append(m.groups())
    return rows


# ---- tests ----

def test_jobs_off_without_images_root(ckptd_bins, tmp_path, tracker):
    d = Daemon(tmp_path, tracker)
    a = rpc(d, request(RPC_JOB_LIST, 12))
    assert a.type == RPC_JOB_LIST and a.error == errno.EOPNOTSUPP and "images_root" in a.message, a
    rc, out, err = ckpt_job(d, "list")
    assert rc == 1 and "images_root" in err, err
    d.alive()
    assert d.stop() == 0


def test_register_is_for_root_only(jd, tracker, tmp_path):
    p = start_counter(tracker, tmp_path / "c.out")
    a = rpc(jd, register_req(7, USER, USER, p.pid), user=USER)
    assert a.error == errno.EPERM, a
    a = rpc(jd, end_req(7, 0), user=USER)
    assert a.error == errno.EPERM, a
    assert "refused job-register for uid %d" % USER in jd.log_text()
    # bad registrations: job 0, pid 0 or 1
    for req in (register_req(0, 0, 0, p.pid), register_req(7, 0, 0, 0), register_req(7, 0, 0, 1)):
        a = rpc(jd, req)
        assert a.error == errno.EINVAL, a
    a = rpc(jd, register_req(7, USER, USER, p.pid))
    assert a.type == RPC_JOB_REGISTER and a.error == 0, a
    rc, out, err = ckpt_job(jd, "list")
    assert rc == 0 and list_rows(out) == [] and "watched here: 7" in out, out + err
    # a user sees the jobs that are his only
    rc, out, err = ckpt_job(jd, "list", user=USER)
    assert rc == 0 and "watched here: 7" in out, out + err
    a = rpc(jd, end_req(7, 0))
    assert a.error == 0, a
    a = rpc(jd, end_req(7, 0))
    assert a.error == errno.ENOENT, a
    rc, out, err = ckpt_job(jd, "list")
    assert "watched here" not in out, out


def test_job_start_is_for_root_and_needs_slurm_to_tell_the_run(jd):
    """RPC_JOB_START: the shim asks, before a restore, which run of the job this is. Without
    Slurm, ckptd cannot tell: no restart count in the answer, and nothing is removed (the
    Slurm tests cover the answer with one)."""
    a = rpc(jd, request(RPC_JOB_START, 14, (1, 7), (2, USER)), user=USER)
    assert a.error == errno.EPERM and "only the plugin's shim" in a.message, a
    a = rpc(jd, request(RPC_JOB_START, 14, (1, 0), (2, 0)))
    assert a.error == errno.EINVAL, a
    a = rpc(jd, request(RPC_JOB_START))
    assert a.error == errno.EINVAL, a
    a = rpc(jd, request(RPC_JOB_START, 14, (1, 7), (2, 0)))
    assert a.type == RPC_JOB_START and a.error == 0, a
    assert decode(a.f[14][0]) == {}, a.f


def test_checkpoint_commits_and_job_runs_on(jd, tracker, tmp_path):
    job = Job(jd, tracker, tmp_path, 42, restart_count=3)
    rc, out, err = ckpt_job(jd, "checkpoint", 42)
    assert rc == 0, err + jd.log_text()
    assert out.startswith("job 42: checkpoint 1 committed in %s/42/1 " % jd.root), out
    assert job.running()
    # the shared layout: <root>/42/1 with its metadata, latest -> 1, nothing temporary
    assert committed(jd.root, 42) == [1]
    assert os.readlink(jd.root / "42" / "latest") == "1"
    assert not [e for e in (jd.root / "42").iterdir() if e.name.startswith(".tmp")]
    m = meta(jd.root, 42, 1)
    assert (m["job_id"], m["uid"], m["node"], m["reason"], m["restart_count"]) == ("42", "0", "testnode",
                                                                                    "request", "3"), m
    assert m["stdout_path"] == str(job.out) and int(m["bytes"]) > 0, m
    assert (jd.root / "42" / "1" / "inventory.img").exists()
    st = os.stat(jd.root / "42" / "1")
    assert st.st_mode & 0o777 == 0o700, oct(st.st_mode)
    # more checkpoints: keep = 2 retains the last two
    for seq in (2, 3):
        rc, out, err = ckpt_job(jd, "checkpoint", 42)
        assert rc == 0 and "checkpoint %d committed" % seq in out, err
    assert committed(jd.root, 42) == [2, 3]
    assert os.readlink(jd.root / "42" / "latest") == "3"
    rc, out, err = ckpt_job(jd, "list", 42)
    rows = list_rows(out)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [("42", "2", "root", "testnode", "request"),
                                                               ("42", "3", "root", "testnode", "request")], out
    assert rows[1][-1] == "*" and rows[0][-1] != "*", out
    assert job.running()
    # the log names the job at each step
    log = jd.log_text()
    assert "slurm job 42: checkpoint queued" in log and "slurm job 42: checkpoint 1 committed" in log, log


def test_checkpoint_refusals(jd, tracker, tmp_path):
    Job(jd, tracker, tmp_path, 5)  # root's
    # not registered here
    rc, out, err = ckpt_job(jd, "checkpoint", 6)
    assert rc == 1 and "does not run under this node's ckptd" in err, err
    a = rpc(jd, request(RPC_JOB_CHECKPOINT, 11, (1, 6)))
    assert a.error == errno.ENOENT, a
    # job 0, requeue with cancel, no checkpoint part
    for req in (request(RPC_JOB_CHECKPOINT, 11, (1, 0)), request(RPC_JOB_CHECKPOINT, 11, (1, 5), (2, 1), (3, 1)),
                request(RPC_JOB_CHECKPOINT)):
        a = rpc(jd, req)
        assert a.type == RPC_JOB_CHECKPOINT and a.error == errno.EINVAL, a
    # a part without its required job_id is not even decoded
    a = rpc(jd, request(RPC_JOB_CHECKPOINT, 11))
    assert a.error == errno.EBADMSG, a
    # another user's job
    a = rpc(jd, request(RPC_JOB_CHECKPOINT, 11, (1, 5)), user=USER)
    assert a.error == errno.EPERM and "not yours" in a.message, a
    rc, out, err = ckpt_job(jd, "checkpoint", 5, user=USER)
    assert rc == 1 and "not yours" in err, err
    assert committed(jd.root, 5) == []
    # the command line checks job IDs itself
    for bad in ("0", "x", "4294967296", "07x", " 1"):
        rc, out, err = ckpt_job(jd, "checkpoint", bad)
        assert rc == 2 and "invalid job ID" in err, (bad, err)


def test_requeue_without_slurm_resumes_the_job(jd, tracker, tmp_path):
    """slurm = no: the checkpoint is committed, the tree left stopped for the requeue is
    resumed, and the caller is told that nothing was requeued."""
    job = Job(jd, tracker, tmp_path, 9)
    rc, out, err = ckpt_job(jd, "checkpoint", 9, "--requeue")
    assert rc == 1 and "committed, but slurm = no" in err, err
    assert committed(jd.root, 9) == [1]
    assert job.running(), crlib.task_states(job.p.pid)


def test_requeue_without_slurm_resumes_the_whole_namespace(jd, tracker, tmp_path):
    """With an init registered (the plugin's ns-init), the job is every process under it
    (orphans re-parent to it): a tree left stopped is resumed from the init down."""
    out = tmp_path / "ns.out"
    with open(out, "wb") as f:
        init = tracker.popen(["/bin/sh", "-c", 'setsid "$0" & setsid "$0" & wait',
                              str(bin_path("examples/counter"))], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True, close_fds=True)
    assert crlib.wait_until(lambda: len(crlib.children(init.pid)) == 2, 10)
    kids = crlib.children(init.pid)
    for k in kids:
        tracker.add(k)
    assert rpc(jd, register_req(10, 0, 0, kids[0], init_pid=init.pid)).error == 0
    rc, so, se = ckpt_job(jd, "checkpoint", 10, "--requeue")
    assert rc == 1 and "committed, but slurm = no" in se, se
    assert committed(jd.root, 10) == [1]
    assert crlib.wait_until(lambda: all(crlib.proc_state(k) in "RS" for k in kids), 10), \
        [crlib.proc_state(k) for k in kids]
    assert "slurm job 10: its tree is resumed" in jd.log_text()


def test_user_checkpoints_lists_and_forgets_own_job(jd, tracker, tmp_path):
    Job(jd, tracker, tmp_path, 11)  # root's
    mine = Job(jd, tracker, tmp_path, 12, uid=USER)
    rc, out, err = ckpt_job(jd, "checkpoint", 11)
    assert rc == 0, err
    rc, out, err = ckpt_job(jd, "checkpoint", 12, user=USER)
    assert rc == 0 and "job 12: checkpoint 1 committed" in out, err + jd.log_text()
    assert mine.running()
    assert meta(jd.root, 12, 1)["uid"] == str(USER)
    # root sees both, the user his own only
    rc, out, err = ckpt_job(jd, "list")
    assert sorted(r[0] for r in list_rows(out)) == ["11", "12"], out
    rc, out, err = ckpt_job(jd, "list", user=USER)
    assert [r[0] for r in list_rows(out)] == ["12"] and "watched here: 12\n" in out, out
    rc, out, err = ckpt_job(jd, "list", 11, user=USER)
    assert list_rows(out) == [] and "watched here" not in out, out
    # the user may not forget root's job
    rc, out, err = ckpt_job(jd, "forget", 11, user=USER)
    assert rc == 1 and "the checkpoints of slurm job 11 are not yours" in err, err
    a = rpc(jd, request(RPC_JOB_FORGET, 13, (1, 11)), user=USER)
    assert a.error == errno.EPERM, a
    assert committed(jd.root, 11) == [1]
    # his own, yes; then there is nothing left to forget
    rc, out, err = ckpt_job(jd, "forget", 12, user=USER)
    assert rc == 0 and "job 12: its checkpoints are deleted" in out, err
    assert not (jd.root / "12").exists()
    rc, out, err = ckpt_job(jd, "forget", 12, user=USER)
    assert rc == 1 and "has no checkpoint" in err, err
    # root forgets anyone's
    rc, out, err = ckpt_job(jd, "forget", 11)
    assert rc == 0, err
    assert not (jd.root / "11").exists()
    a = rpc(jd, request(RPC_JOB_FORGET, 13, (1, 0)))
    assert a.error == errno.EINVAL, a


def test_second_checkpoint_is_busy(jd, tracker, tmp_path):
    big = start_big(tracker, 256)
    a = rpc(jd, register_req(21, 0, 0, big.pid))
    assert a.error == 0, a
    first = subprocess.Popen([str(bin_path("ckpt")), "--service", jd.sock, "job", "checkpoint", "21"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, close_fds=True)
    assert wait_state(jd, "running"), jd.log_text()
    a = rpc(jd, request(RPC_JOB_CHECKPOINT, 11, (1, 21)))
    assert a.error == errno.EBUSY and "under way" in a.message, a
    out, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0 and "job 21: checkpoint 1 committed" in out, err + jd.log_text()
    assert committed(jd.root, 21) == [1]
    assert big.poll() is None
    # once done, another may start
    rc, out, err = ckpt_job(jd, "checkpoint", 21)
    assert rc == 0 and "checkpoint 2 committed" in out, err


def tmp_dirs(root, job_id):
    d = root / str(job_id)
    return [e.name for e in d.iterdir() if e.name.startswith(".tmp")] if d.exists() else []


def test_max_dumps_one_at_a_time(jd, tracker, tmp_path):
    """max_dumps = 1 (the default): a second job's checkpoint asked for meanwhile waits until
    the first one is done, then is taken too."""
    bigs = [start_big(tracker, 256), start_big(tracker, 16)]
    for job_id, p in zip((81, 82), bigs):
        assert rpc(jd, register_req(job_id, 0, 0, p.pid)).error == 0
    argv = [str(bin_path("ckpt")), "--service", jd.sock, "job", "checkpoint"]
    first = subprocess.Popen(argv + ["81"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             close_fds=True)
    assert crlib.wait_until(lambda: tmp_dirs(jd.root, 81), 30, step=0.005), jd.log_text()
    second = subprocess.Popen(argv + ["82"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              close_fds=True)
    waiting = crlib.wait_until(lambda: "slurm job 82: waits for a dump slot" in jd.log_text(), 30, step=0.005)
    # the first may have finished before the second's worker got there: then there was no wait
    assert waiting or first.poll() is not None, jd.log_text()
    if waiting and first.poll() is None:
        assert tmp_dirs(jd.root, 82) == [] and committed(jd.root, 82) == []
    for p, job_id in ((first, 81), (second, 82)):
        out, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0 and "job %d: checkpoint 1 committed" % job_id in out, err + jd.log_text()
    assert all(b.poll() is None for b in bigs)


def test_cancel_checkpoint_waiting_for_a_slot(jd, tracker, tmp_path):
    big = start_big(tracker, 512)
    small = Job(jd, tracker, tmp_path, 84)
    assert rpc(jd, register_req(83, 0, 0, big.pid)).error == 0
    argv = [str(bin_path("ckpt")), "--service", jd.sock, "job", "checkpoint"]
    first = subprocess.Popen(argv + ["83"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             close_fds=True)
    assert crlib.wait_until(lambda: tmp_dirs(jd.root, 83), 30, step=0.005), jd.log_text()
    second = subprocess.Popen(argv + ["84"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              close_fds=True)
    if not crlib.wait_until(lambda: "slurm job 84: waits for a dump slot" in jd.log_text(), 30, step=0.005):
        pytest.skip("the first checkpoint ended before the second one had to wait")
    ids = [j.split()[0].split("=")[1] for j in jd.call("status")[1]["job"] if "pid=%d " % small.p.pid in j]
    assert len(ids) == 1, jd.call("status")[2]
    rc, d, text = jd.call("cancel", ids[0])
    assert rc == 0, text
    out, err = second.communicate(timeout=TIMEOUT)
    assert second.returncode == 1 and "cancelled while waiting for a dump slot" in err, err
    out, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    assert committed(jd.root, 84) == [] and committed(jd.root, 83) == [1]
    assert small.running()
    # not stuck: the job may be checkpointed again
    rc, out, err = ckpt_job(jd, "checkpoint", 84)
    assert rc == 0, err


def test_job_end_forgets_completed_jobs(jd, tracker, tmp_path):
    for job_id, status in ((31, 0), (32, 1 << 8), (33, 9)):  # exit 0, exit 1, killed by SIGKILL
        Job(jd, tracker, tmp_path, job_id)
        rc, out, err = ckpt_job(jd, "checkpoint", job_id)
        assert rc == 0, err
        a = rpc(jd, end_req(job_id, status))
        assert a.error == 0, a
    assert committed(jd.root, 31) == []
    assert committed(jd.root, 32) == [1] and committed(jd.root, 33) == [1]
    assert "slurm job 31: completed; its checkpoints are removed" in jd.log_text()


def test_keep_on_completion(ckptd_bins, tracker, tmp_path):
    d = job_daemon(tmp_path, tracker, extra=["--keep_on_completion", "yes"])
    Job(d, tracker, tmp_path, 34)
    rc, out, err = ckpt_job(d, "checkpoint", 34)
    assert rc == 0, err
    assert rpc(d, end_req(34, 0)).error == 0
    assert committed(d.root, 34) == [1]
    assert d.stop() == 0


def test_interval_checkpoints_without_slurm(ckptd_bins, tracker, tmp_path):
    """The watcher with slurm = no: a job registered with an interval is checkpointed on its
    own (leave running), one at a time, and stays registered."""
    d = job_daemon(tmp_path, tracker, extra=["--watch_interval_ms", "200", "--keep", "5"])
    job = Job(d, tracker, tmp_path, 51, interval_s=1)
    assert crlib.wait_until(lambda: len(committed(d.root, 51)) >= 2, 30), d.log_text()
    assert meta(d.root, 51, 1)["reason"] == "interval"
    assert job.running()
    rc, out, err = ckpt_job(d, "list")
    assert "watched here: 51" in out, out
    assert "slurm job 51: interval: checkpoint" in d.log_text()
    assert rpc(d, end_req(51, 1 << 8)).error == 0
    assert d.stop() == 0


def test_save_paths_in_checkpoint(ckptd_bins, tracker, tmp_path):
    """The job's output file is saved with its checkpoint (ckpt_dump_opts.save_paths)."""
    d = job_daemon(tmp_path, tracker)
    job = Job(d, tracker, tmp_path, 61)
    rc, out, err = ckpt_job(d, "checkpoint", 61)
    assert rc == 0, err
    files = [p.name for p in (d.root / "61" / "1").iterdir()]
    assert "ckpt.meta" in files and "inventory.img" in files, files
    assert job.running()
    assert d.stop() == 0


@pytest.fixture
def tiny_root():
    """A 1 MiB tmpfs: too small for any checkpoint."""
    d = tempfile.mkdtemp(prefix="ckptd-tiny-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", d], check=True)
    try:
        yield pathlib.Path(d)
    finally:
        subprocess.run(["umount", "-l", d], check=False)
        os.rmdir(d)


def test_failed_dump_leaves_job_running_and_nothing_committed(ckptd_bins, tracker, tmp_path, tiny_root):
    d = job_daemon(tmp_path, tracker, root=tiny_root / "images")
    big = start_big(tracker, 32)
    assert rpc(d, register_req(71, 0, 0, big.pid)).error == 0
    rc, out, err = ckpt_job(d, "checkpoint", 71)
    assert rc == 1 and "checkpoint failed" in err, err
    assert big.poll() is None and crlib.proc_state(big.pid) in "RSD", crlib.proc_state(big.pid)
    assert crlib.wait_until(lambda: tracer_of(big.pid) == 0, 10)
    # nothing committed, no temporary directory left, no latest
    assert not (d.root / "71").exists() or list((d.root / "71").iterdir()) == [], list((d.root / "71").iterdir())
    assert "checkpoint failed, nothing committed, the job runs on" in d.log_text()
    # the job is still registered and may be tried again (still too big: same answer)
    rc, out, err = ckpt_job(d, "checkpoint", 71)
    assert rc == 1 and "checkpoint failed" in err, err
    rc, out, err = ckpt_job(d, "list")
    assert list_rows(out) == [] and "watched here: 71" in out, out
    assert d.stop() == 0


def tracer_of(pid):
    for line in crlib.read_text("/proc/%d/status" % pid).splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return -1
