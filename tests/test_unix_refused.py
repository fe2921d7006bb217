"""Unix sockets: what a dump still refuses (test_refusals.py: a socket in flight whose own queue
holds files, unix_rights_nested; credentials queued, unix_passcred; a relative path bound
before the task moved, unix_relative_moved) and what it now takes that it used to refuse: a
datagram socketpair with a datagram queued (tests/cr/socketpair.c "dgram") is dumped and
restored with it. Bound, listening and accepted sockets run in every mode in test_cr.py
(unix_bound, unix_abstract); sockets connected outside the tree in test_ext_unix_sk.py."""
import os


def test_queued_datagram_restored(cr):
    run = cr.start("socketpair", ("dgram",))
    fds = {int(fd) for fd in os.listdir("/proc/%d/fd" % run.pid)
           if os.readlink("/proc/%d/fd/%s" % (run.pid, fd)).startswith("socket:[")}
    assert len(fds) == 2, fds
    img = cr.tmp / "img"
    cr.dump(run, img)
    cr.check_gone(run)
    cr.restore_and_verify(run, img, count=1)
