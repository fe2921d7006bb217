"""--ext-unix-sk: a job talking over unix sockets to a server outside its tree (a stream
connection and a connected datagram socket, both to a Python echo server that stays up) is
dumped with the server's addresses and connected to them again at restore. When the server
is gone by then, the restore is refused naming its address, and leaves the images intact."""
import signal
import subprocess
import sys

import crlib
from test_bad_input import expect_restore_fails

SERVER = r'''
import os, socket, sys, threading
d = sys.argv[1]
st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
st.bind(os.path.join(d, "srv.stream"))
st.listen(8)
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(os.path.join(d, "srv.dgram"))

def serve(c):
    while True:
        data = c.recv(4096)
        if not data:
            return
        c.sendall(b"echo " + data)

def dgram():
    while True:
        data, addr = dg.recvfrom(4096)
        dg.sendto(b"echo " + data, addr)

threading.Thread(target=dgram, daemon=True).start()
os.write(1, b"READY\n")
while True:
    c, _ = st.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

JOB = r'''
import os, signal, socket, sys
d = sys.argv[1]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
st.connect(os.path.join(d, "srv.stream"))
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(os.path.join(d, "job.dgram"))
dg.connect(os.path.join(d, "srv.dgram"))
st.sendall(b"hello")
dg.send(b"hello")
ok = st.recv(64) == b"echo hello" and dg.recv(64) == b"echo hello"
os.write(1, b"READY\n" if ok else b"FAIL: no echo before the dump\n")
signal.sigwait({signal.SIGTERM})
st.settimeout(10)
dg.settimeout(10)
st.sendall(b"again")
dg.send(b"again")
ok = st.recv(64) == b"echo again" and dg.recv(64) == b"echo again"
os.write(1, b"PASS\n" if ok else b"FAIL: no echo after the restore\n")
sys.exit(0 if ok else 1)
'''


def start_python(cr, name, script, out):
    path = cr.tmp / (name + ".py")
    path.write_text(script)
    with open(out, "wb") as fh:
        p = cr.tracker.popen([sys.executable, str(path), str(cr.tmp)], stdin=subprocess.DEVNULL,
                             stdout=fh, stderr=subprocess.STDOUT, cwd=cr.tmp, start_new_session=True)
    run = crlib.Running(cr, name, p, out, cr.tmp / "work")
    run.workdir.mkdir(exist_ok=True)
    ok = crlib.wait_until(lambda: "READY" in run.output().splitlines() or p.poll() is not None,
                          crlib.TIMEOUT)
    assert ok and p.poll() is None, "%s did not start\n%s" % (name, run.output())
    run.refresh_pids()
    return run


def test_ext_unix_sk(cr):
    server = start_python(cr, "server", SERVER, cr.tmp / "server.out")
    job = start_python(cr, "job", JOB, cr.tmp / "job.out")
    img = cr.tmp / "img"
    cr.dump(job, img, "--ext-unix-sk")
    cr.check_gone(job)
    cr.restore_and_verify(job, img, count=1)
    assert server.popen.poll() is None, "the server ended\n%s" % server.output()


def test_ext_unix_sk_server_gone(cr):
    server = start_python(cr, "server", SERVER, cr.tmp / "server.out")
    job = start_python(cr, "job", JOB, cr.tmp / "job.out")
    img = cr.tmp / "img"
    cr.dump(job, img, "--ext-unix-sk")
    cr.check_gone(job)
    cr.tracker.signal(server.pid, signal.SIGKILL)
    server.popen.wait(timeout=10)
    expect_restore_fails(cr, img, "its peer outside the tree", "/srv.", "is gone")
