"""A tree stopped with SIGSTOP stays stopped through a dump that leaves it running, and is
restored stopped; SIGCONT then lets it go on."""
import signal
import time

import crlib


def states(pid):
    return crlib.task_states(pid)


def test_stopped_tree(cr):
    run = cr.start("threads")
    cr.tracker.signal(run.pid, signal.SIGSTOP)
    assert crlib.wait_until(lambda: crlib.proc_state(run.pid) == "T", 5)
    cr.dump(run, cr.path("img"), "-R")
    time.sleep(0.3)
    assert crlib.proc_state(run.pid) == "T", "dump -R woke a stopped tree"
    img = cr.path("img")
    cr.dump(run, img)
    cr.check_gone(run)
    pidfile = cr.path("pid")
    r = cr.run_ckpt("restore", "-D", img, "-d", "--pidfile", pidfile)
    assert r.returncode == 0, r.describe()
    pid = crlib.read_pidfile(pidfile)
    cr.tracker.add(pid)
    time.sleep(0.3)
    assert crlib.proc_state(pid) == "T", "restored task is %s, not stopped" % crlib.proc_state(pid)
    cr.tracker.signal(pid, signal.SIGCONT)
    cr.tracker.signal(pid, signal.SIGTERM)
    assert crlib.wait_until(lambda: crlib.verdict(run.out) in ("PASS", "FAIL") or
                            crlib.verdict(run.out).startswith("FAIL"), 10)
    assert crlib.verdict(run.out) == "PASS", run.output()
