#!/usr/bin/env bash
# The full test run: install what is needed, build, check that arch/aarch64 compiles, run
# every test. Run as root on Debian 12. Ends with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" all
make check-aarch64
make -j"$(nproc)" unit-bins cr-progs
exec make test-only
