"""A unix socketpair whose queue holds what ckpt cannot save yet (here a datagram) is refused
at dump time with one error naming the fd, and the program runs on and passes."""
import os
import re

import crlib
from test_bad_input import expect_dump_fails


def test_queued_datagram_refused(cr):
    run = cr.start("socketpair", ("dgram",))
    fds = {int(fd) for fd in os.listdir("/proc/%d/fd" % run.pid)
           if os.readlink("/proc/%d/fd/%s" % (run.pid, fd)).startswith("socket:[")}
    assert len(fds) == 2, fds
    err = expect_dump_fails(cr, run, cr.path("img"), "queued datagrams are not supported yet",
                            re.compile(r"pid %d: fd (%s):" % (run.pid, "|".join(map(str, fds)))))
    assert err.error_lines()[0].startswith("Error:"), err.describe()
