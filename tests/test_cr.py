"""Checkpoint/restore of the tests/cr programs, each in every mode.

Modes (the test id is PROGRAM-MODE):
  plain           dump (the tree is killed), the tree is gone, restore, SIGTERM, PASS
  leave-running   dump -R twice (the tree runs in between and after), kill the tree, restore
                  the second dump, PASS
  restore-twice   dump, restore + PASS, put the output file and work directory back as they
                  were at dump time, restore the same images again + PASS
  resume          dump -R, the original still passes when sent SIGTERM, then the dump
                  restores and passes too
  leave-stopped   dump -s: every thread is stopped; SIGCONT, the original passes; then the
                  dump restores and passes
  detached        dump, restore -d (returns once the tree runs), SIGTERM, PASS

Each program prints READY, waits for SIGTERM and prints its verdict as the last line of its
output file, which the restored program goes on appending to (its stdout is restored with
its offset). See tests/cr/crtest.h.
"""
import dataclasses
import signal

import pytest

import crlib


@dataclasses.dataclass
class Case:
    id: str
    binary: str
    args: tuple = ()
    needs: str = ""  # a /proc/cpuinfo flag
    modes: tuple = ()  # empty: every mode
    dump_opts: tuple = ()  # given to every dump
    restore_opts: tuple = ()  # and to every restore


MODES = ("plain", "leave-running", "restore-twice", "resume", "leave-stopped", "detached")
# TCP sockets are rebuilt in this network namespace at their addresses: the originals must be
# gone first. leave-running kills the tree with SIGKILL out of repair mode, whose close leaves
# TIME_WAIT entries on the connections' addresses; the programs close theirs with a reset.
TCP_MODES = ("plain", "restore-twice", "resume", "leave-stopped", "detached")
TCP = dict(modes=TCP_MODES, dump_opts=("--tcp-established",), restore_opts=("--tcp-established",))

CASES = [
    Case("mem_random", "mem_random", ("64",)),
    Case("mem_random_512", "mem_random", ("512",), modes=("plain",)),
    Case("tree", "tree"),
    Case("threads", "threads"),
    Case("syscall_restart", "syscall_restart"),
    Case("fpu_avx512", "fpu_avx512", ("sleep",), needs="avx512f"),
    Case("fpu_avx512_spin", "fpu_avx512", ("spin",), needs="avx512f"),
    Case("signals", "signals"),
    Case("pending", "pending"),
    Case("files", "files", ("{workdir}",)),
    Case("opath", "opath", ("{workdir}",)),
    Case("itimer", "itimer"),
    Case("creds", "creds"),
    Case("orphan", "orphan"),
    Case("zombie", "zombie"),
    Case("socketpair", "socketpair"),
    Case("sched_attrs", "sched_attrs"),
    Case("seccomp", "seccomp"),
    Case("hello_static", "hello_static"),
    Case("hello_dynamic", "hello_dynamic"),
    Case("shm_anon", "shm_anon"),
    Case("shm_memfd", "shm_memfd"),
    # the object stays in /dev/shm and is removed by the verification: verified once only
    Case("shm_posix", "shm_posix", modes=("plain", "leave-running", "detached")),
    Case("shm_sysv", "shm_sysv"),
    Case("shm_file", "shm_file", ("{workdir}",)),
    Case("deleted_file", "deleted_file", ("{workdir}",)),
    Case("file_locks", "file_locks", ("{workdir}",), dump_opts=("--file-locks",),
         restore_opts=("--file-locks",)),
    Case("lock_mapped", "lock_mapped", ("{workdir}",), dump_opts=("--file-locks",),
         restore_opts=("--file-locks",)),
    Case("unix_bound", "unix_bound", ("{workdir}",)),
    Case("unix_abstract", "unix_abstract"),
    Case("unix_rights", "unix_rights", ("{workdir}", "stream")),
    Case("unix_rights_dgram", "unix_rights", ("{workdir}", "dgram")),
    Case("unix_rights_seqpacket", "unix_rights", ("{workdir}", "seqpacket")),
    Case("unix_rights_fork", "unix_rights", ("{workdir}", "stream", "fork")),
    Case("unix_relative", "unix_relative", ("{workdir}",)),
    Case("fifo", "fifo", ("{workdir}",)),
    Case("eventfd", "eventfd"),
    Case("timerfd", "timerfd"),
    Case("signalfd", "signalfd"),
    Case("epoll", "epoll"),
    Case("inotify", "inotify", ("{workdir}",)),
    Case("tcp_pair", "tcp_pair", **TCP),
    Case("tcp_pair6", "tcp_pair", ("6",), **TCP),
    Case("tcp_listen", "tcp_listen", **TCP),
]

PARAMS = [pytest.param(case, mode, id="%s-%s" % (case.id, mode))
          for case in CASES for mode in MODES if not case.modes or mode in case.modes]


def start(cr, case):
    if case.needs and case.needs not in crlib.cpu_flags():
        pytest.skip("this CPU has no %s" % case.needs)
    return cr.start(case.binary, case.args)


def mode_plain(cr, run, case):
    img = cr.tmp / "img"
    cr.dump(run, img, *case.dump_opts)
    cr.check_gone(run)
    cr.restore_and_verify(run, img, *case.restore_opts, count=len(run.pids))


def mode_leave_running(cr, run, case):
    before = set(run.pids)
    d1, d2 = cr.tmp / "img1", cr.tmp / "img2"
    cr.dump(run, d1, "-R", *case.dump_opts)
    cr.check_running(run)
    cr.dump(run, d2, "-R", *case.dump_opts)
    cr.check_running(run)
    now = set(run.refresh_pids())
    assert now == before, "the tree of %s changed across dump -R: %s, was %s" % (
        run.name, sorted(now), sorted(before))
    cr.kill_tree(run)
    cr.restore_and_verify(run, d2, *case.restore_opts, count=len(before))


def mode_restore_twice(cr, run, case):
    img = cr.tmp / "img"
    cr.dump(run, img, *case.dump_opts)
    cr.check_gone(run)
    at_dump = crlib.Snapshot([run.out, run.workdir])
    cr.restore_and_verify(run, img, *case.restore_opts, count=len(run.pids))
    at_dump.rewind()
    cr.restore_and_verify(run, img, *case.restore_opts, count=len(run.pids))


def mode_resume(cr, run, case):
    img = cr.tmp / "img"
    cr.dump(run, img, "-R", *case.dump_opts)
    cr.check_running(run)
    at_dump = crlib.Snapshot([run.out, run.workdir])
    cr.terminate_and_verdict(run, "the original %s after dump -R" % run.name)
    at_dump.rewind()
    cr.restore_and_verify(run, img, *case.restore_opts, count=len(run.pids))


def mode_leave_stopped(cr, run, case):
    img = cr.tmp / "img"
    cr.dump(run, img, "-s", *case.dump_opts)
    cr.check_running(run, stopped=True)
    at_dump = crlib.Snapshot([run.out, run.workdir])
    for pid in run.pids:
        if pid not in run.zombies:
            cr.tracker.signal(pid, signal.SIGCONT)
    assert crlib.wait_until(lambda: all(
        st != "T" for pid in run.pids for st in crlib.task_states(pid).values()), 10), \
        "%s still stopped after SIGCONT" % run.name
    cr.terminate_and_verdict(run, "the original %s after dump -s and SIGCONT" % run.name)
    at_dump.rewind()
    cr.restore_and_verify(run, img, *case.restore_opts, count=len(run.pids))


def mode_detached(cr, run, case):
    img = cr.tmp / "img"
    cr.dump(run, img, *case.dump_opts)
    cr.check_gone(run)
    cr.restore_detached_and_verify(run, img, *case.restore_opts)


MODE_FUNCS = {
    "plain": mode_plain,
    "leave-running": mode_leave_running,
    "restore-twice": mode_restore_twice,
    "resume": mode_resume,
    "leave-stopped": mode_leave_stopped,
    "detached": mode_detached,
}


@pytest.mark.parametrize("case,mode", PARAMS)
def test_cr(cr, case, mode):
    run = start(cr, case)
    MODE_FUNCS[mode](cr, run, case)
