#!/usr/bin/python3
"""Figures for ckptd (a benchmark, not a test; run as root after `make` and `make cr-progs`):
  1. `status` requests per second with 16 concurrent clients, each on its own connection
     sending one request and waiting for its answer, for SECONDS;
  2. the dump of a 512 MiB process (tests/cr/mem_random 512, -R) through the daemon
     (`ckpt --service`) against the local `ckpt dump`, RUNS of each, alternated, same run.
usage: bench/ckptd-figures.py [SECONDS] [RUNS]
"""
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, "build")


def status_loop(sock, req, seconds, q):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        s.send(req)
        s.recv(1 << 17)
        n += 1
    q.put(n)


def dump_time(argv):
    t = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tmp = tempfile.mkdtemp(prefix="ckptd-bench-")
    sock = os.path.join(tmp, "s.sock")
    d = subprocess.Popen([B + "/ckptd", "-f", "-c", "/dev/null", "--socket", sock, "--log-level", "warn"])
    prog = None
    try:
        while subprocess.run([B + "/ckptd-client", "-S", sock, "version"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode:
            time.sleep(0.05)
        req = bytes.fromhex(subprocess.run([B + "/ckptd-client", "--hex", "status"], stdout=subprocess.PIPE,
                                           text=True, check=True).stdout.strip())
        q = multiprocessing.Queue()
        ps = [multiprocessing.Process(target=status_loop, args=(sock, req, seconds, q)) for _ in range(16)]
        for p in ps:
            p.start()
        total = sum(q.get() for _ in ps)
        for p in ps:
            p.join()
        print("status, 16 clients, %.0f s: %d requests, %.0f requests/s" % (seconds, total, total / seconds))

        out = open(os.path.join(tmp, "mem.out"), "wb")
        prog = subprocess.Popen([B + "/tests/cr/mem_random", "512"], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        while b"READY" not in open(os.path.join(tmp, "mem.out"), "rb").read():
            time.sleep(0.05)
        local, daemon = [], []
        for i in range(runs):
            img = os.path.join(tmp, "img")
            shutil.rmtree(img, ignore_errors=True)
            local.append(dump_time([B + "/ckpt", "dump", "-t", str(prog.pid), "-D", img, "-R"]))
            shutil.rmtree(img, ignore_errors=True)
            daemon.append(dump_time([B + "/ckpt", "--service", sock, "dump", "-t", str(prog.pid), "-D", img, "-R"]))
        ml, md = statistics.median(local), statistics.median(daemon)
        print("dump of 512 MiB, median of %d: local %.3f s, through ckptd %.3f s, ratio %.3f"
              % (runs, ml, md, md / ml))
        print("  local:  " + " ".join("%.3f" % x for x in local))
        print("  ckptd:  " + " ".join("%.3f" % x for x in daemon))
        prog.send_signal(signal.SIGTERM)
        prog.wait(timeout=60)
        print("mem_random after the dumps: " + open(os.path.join(tmp, "mem.out")).read().split()[-1])
    finally:
        if prog and prog.poll() is None:
            prog.kill()
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
