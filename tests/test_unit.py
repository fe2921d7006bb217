"""Run every cmocka unit test binary (built by `make unit-bins`) as one pytest test each."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("CKPT_BUILD", ROOT / "build"))
SOURCES = sorted((ROOT / "tests" / "unit").glob("test_*.c"))


@pytest.mark.parametrize("src", SOURCES, ids=[s.stem for s in SOURCES])
def test_unit(src):
    binary = BUILD / "tests" / "unit" / src.stem
    assert binary.exists(), f"{binary} was not built (make unit-bins)"
    p = subprocess.run([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout
