#!/usr/bin/env bash
# Benchmark: dump and restore of a process holding SIZE_MIB (default 1024) MiB, median of
# RUNS (default 5), into DIR (default /dev/shm). Prints the figures and their ratios to the
# machine's ceilings (memory copy, file write) measured in the same run, and to CRIU when
# CRIU=/path/to/criu (>= 4.1) is given.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${CKPT_BUILD:-build}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
DIR=${DIR:-/dev/shm}
make -s all
mkdir -p "$B/bench"
gcc -O2 -o "$B/bench/memhog" bench/memhog.c
gcc -O2 -o "$B/bench/ceilings" bench/ceilings.c
work=$(mktemp -d "$DIR/ckpt-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The workload must not inherit stray descriptors of whoever runs this (they point outside it).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

start_hog() {
	setsid "$B/bench/memhog" "$SIZE_MIB" >"$work/hog.out" 2>&1 </dev/null &
	hog=$!
	disown
	until grep -q READY "$work/hog.out" 2>/dev/null; do sleep 0.1; done
}

# One run of "$@" dump/restore; prints "dump_s restore_s".
run_ckpt() {
	start_hog
	t0=$(now); "$B/ckpt" dump -t "$hog" -D "$work/img"; t1=$(now)
	wait "$hog" 2>/dev/null || true
	"$B/ckpt" restore -D "$work/img" -d --pidfile "$work/pid"; t2=$(now)
	kill -9 "$(cat "$work/pid")"; sleep 0.2
	rm -rf "$work/img" "$work/pid"
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l)"
}

run_criu() {
	start_hog
	mkdir -p "$work/cimg"
	t0=$(now); "$CRIU" dump -t "$hog" -D "$work/cimg" --shell-job >/dev/null 2>&1; t1=$(now)
	wait "$hog" 2>/dev/null || true
	"$CRIU" restore -D "$work/cimg" -d --shell-job --pidfile "$work/cpid" >/dev/null 2>&1; t2=$(now)
	kill -9 "$(cat "$work/cpid")" 2>/dev/null || true; sleep 0.2
	rm -rf "$work/cimg" "$work/cpid"
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l)"
}

read -r memcpy_gbs write_gbs < <("$B/bench/ceilings" "$work" "$SIZE_MIB" | awk '{v[$1]=$2} END {print v["memcpy_gbs"], v["write_gbs"]}')
for i in $(seq "$RUNS"); do run_ckpt; done >"$work/ckpt.txt"
d=$(awk '{print $1}' "$work/ckpt.txt" | median)
r=$(awk '{print $2}' "$work/ckpt.txt" | median)
gb=$(echo "$SIZE_MIB / 1024 * 1.073741824" | bc -l)
printf 'size %d MiB into %s, median of %d\n' "$SIZE_MIB" "$DIR" "$RUNS"
printf 'ceilings: memcpy %.2f GB/s, file write %.2f GB/s\n' "$memcpy_gbs" "$write_gbs"
printf 'ckpt dump    %.3f s  (%.2f GB/s, %.2f of file write, %.2f of memcpy)\n' "$d" \
	"$(echo "$gb / $d" | bc -l)" "$(echo "$gb / $d / $write_gbs" | bc -l)" "$(echo "$gb / $d / $memcpy_gbs" | bc -l)"
printf 'ckpt restore %.3f s  (%.2f GB/s, %.2f of memcpy)\n' "$r" "$(echo "$gb / $r" | bc -l)" \
	"$(echo "$gb / $r / $memcpy_gbs" | bc -l)"
if [ -n "${CRIU:-}" ]; then
	for i in $(seq "$RUNS"); do run_criu; done >"$work/criu.txt"
	cd_=$(awk '{print $1}' "$work/criu.txt" | median)
	cr_=$(awk '{print $2}' "$work/criu.txt" | median)
	printf 'criu dump    %.3f s  ckpt/criu %.2f\n' "$cd_" "$(echo "$d / $cd_" | bc -l)"
	printf 'criu restore %.3f s  ckpt/criu %.2f\n' "$cr_" "$(echo "$r / $cr_" | bc -l)"
fi
