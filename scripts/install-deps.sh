#!/usr/bin/env bash
# Install the Debian 12 packages ckpt needs to build and test. Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
	build-essential pkg-config make gcc
	protobuf-c-compiler libprotobuf-c-dev
	libxxhash-dev libzstd-dev libcap-dev
	libcmocka-dev python3 python3-pytest
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	clang-format bc
	sqlite3			# tests/real/sqlite.sh (test_real.py)
	mpich libmpich-dev	# tests/real/mpich.sh: a 2-rank MPI job under Hydra
	clang libclang-rt-14-dev	# make fuzz: clang with libFuzzer and the sanitizers
	slurmctld slurmd slurm-client munge libmunge-dev libslurm-dev libhwloc-dev
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
