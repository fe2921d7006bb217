"""The libFuzzer target of ckptd's request decoder (tests/fuzz/fuzz_rpc.c), built by `make fuzz`
and run for FUZZ_SECONDS (60 on CI, 10 otherwise) on a copy of the committed seed corpus, which
the run must not change. Any crash, sanitizer report, leak, timeout or out-of-memory fails.
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("CKPT_BUILD") or ROOT / "build")
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
FUZZER = BUILD / "tests" / "fuzz" / "fuzz_rpc"


def fuzz_seconds():
    if os.environ.get("FUZZ_SECONDS"):
        return int(os.environ["FUZZ_SECONDS"])
    return 60 if os.environ.get("CI") == "true" else 10


@pytest.fixture(scope="module")
def fuzzer():
    if not shutil.which(os.environ.get("FUZZ_CC", "clang")):
        pytest.skip("clang is not installed (scripts/install-deps.sh)")
    p = subprocess.run(["make", "-s", "B=%s" % BUILD, str(FUZZER)], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    assert p.returncode == 0, "make %s:\n%s" % (FUZZER, p.stdout)
    return FUZZER


def snapshot(d):
    return {f.name: f.read_bytes() for f in sorted(d.iterdir())}


def run(fuzzer, args, tmp_path, timeout):
    p = subprocess.run([str(fuzzer)] + args, cwd=tmp_path, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
    artifacts = [f.name for f in tmp_path.iterdir()
                 if re.match(r"(crash|leak|timeout|oom)-", f.name)]
    bad = re.search(r"ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:", p.stdout)
    assert p.returncode == 0 and not artifacts and not bad, \
        "fuzz_rpc %s: exit %d, artifacts %s\n%s" % (" ".join(args), p.returncode, artifacts,
                                                     p.stdout[-6000:])
    return p.stdout


def test_seed_corpus_is_present():
    seeds = list(CORPUS.iterdir())
    assert len(seeds) >= 30, "tests/fuzz/corpus/ holds %d files (make fuzz-corpus)" % len(seeds)
    assert {"version", "check", "dump", "restore", "status", "list", "cancel", "pre-dump"} \
        <= {s.name for s in seeds}


def test_fuzz_rpc_decoder(fuzzer, tmp_path):
    before = snapshot(CORPUS)
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    seconds = fuzz_seconds()
    out = run(fuzzer, ["-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048",
                       "-print_final_stats=1", "-artifact_prefix=%s/" % tmp_path, str(corpus)],
              tmp_path, seconds + 120)
    assert snapshot(CORPUS) == before, "the run changed the committed corpus"
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", out))
    print("fuzz_rpc: %s s, %s runs, %s exec/s, corpus %d -> %d files" % (
        seconds, stats.get("number_of_executed_units"), stats.get("average_exec_per_sec"),
        len(before), len(list(corpus.iterdir()))))
    assert int(stats.get("number_of_executed_units", 0)) > 0, out[-3000:]
