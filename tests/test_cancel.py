"""SIGTERM (or Ctrl-C) to a running `ckpt dump` cancels it: one error line, no images, and
the tree runs on untouched."""
import signal
import subprocess
import time

import crlib


def test_sigterm_cancels_dump(cr):
    run = cr.start("mem_random", ["512"])
    img = cr.path("img")
    p = subprocess.Popen([cr.ckpt, "dump", "-t", str(run.pid), "-D", str(img)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    # Wait until it writes pages, then ask it to stop.
    assert crlib.wait_until(lambda: any(img.glob("pages-*.img")) or p.poll() is not None, 30)
    time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    err = err.decode()
    if p.returncode == 0:
        # The dump won the race and completed (then killed the tree): nothing to check.
        return
    assert [l for l in err.splitlines() if l.startswith("Error:")] == \
        ["Error: dump cancelled; the tree runs on untouched"], err
    assert not list(img.glob("*.img")), list(img.iterdir())
    cr.check_running(run)
    cr.terminate_and_verdict(run)
