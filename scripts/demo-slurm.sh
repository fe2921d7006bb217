#!/usr/bin/env bash
# The main demo: a two-node Slurm cluster on this machine (tests/slurm/cluster: munged,
# slurmctld, slurmd n1 and n2, one ckptd per node, spank_ckpt.so loaded). A job submitted with
# `sbatch --checkpoint` counts on n1; a high-priority job preempts it; ckptd checkpoints it and
# requeues it; Slurm starts it again on n2, where it goes on counting from where it stopped.
# Everything is taken down at the end. Run as root after `make`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CKPT_BUILD=${CKPT_BUILD:-$PWD/build}
export CKPT_SLURM_DIR=${CKPT_SLURM_DIR:-/run/ckpt-slurm}
export CKPT_SLURM_CKPT=1 CKPT_SLURM_GRACE=${CKPT_SLURM_GRACE:-30}
CLUSTER=tests/slurm/cluster
say() { printf '\n== %s\n' "$*"; }
# The job must not inherit stray descriptors of whoever runs this.
for fd in "/proc/$$/fd"/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
done

work=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
chmod 755 "$work"
cleanup()
{
	say "Taking the cluster down"
	"$CLUSTER" down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

say "Starting a two-node Slurm cluster (n1, n2) with ckptd and spank_ckpt.so"
"$CLUSTER" down >/dev/null 2>&1 || true
"$CLUSTER" up
# shellcheck disable=SC1091
. "$CKPT_SLURM_DIR/env"
state() { scontrol -o show job "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
wait_for() # JOBID FIELD VALUE SECONDS
{
	local t=0
	until [ "$(state "$1" "$2")" = "$3" ]; do
		sleep 0.5
		t=$((t + 1))
		[ $t -lt $(($4 * 2)) ] || { echo "timed out waiting for $2=$3"; scontrol show job "$1"; exit 1; }
	done
}

cat >"$work/count.sh" <<'EOF'
#!/bin/bash
i=0
while [ $i -lt 60 ]; do
	echo "count $i (pid $$)"
	i=$((i + 1))
	sleep 0.5
done
echo "done"
EOF

say "Submitting 'sbatch --checkpoint count.sh' to partition low (n2 held back so that it starts on n1)"
scontrol update nodename=n2 state=drain reason=demo
job=$(sbatch --parsable --checkpoint -p low -D "$work" -o "$work/count.out" "$work/count.sh")
wait_for "$job" JobState RUNNING 30
scontrol update nodename=n2 state=resume
echo "job $job runs on $(state "$job" NodeList)"
sleep 4
echo "its output so far:"
tail -n 3 "$work/count.out"

say "Submitting a high-priority job that needs all of n1: Slurm preempts job $job"
high=$(sbatch --parsable -p high -w n1 --exclusive -o /dev/null --wrap "sleep 300")
t0=$SECONDS
echo "ckptd on n1 sees the preemption, checkpoints job $job into $CKPT_SLURM_DIR/images/$job/ and requeues it"
wait_for "$job" JobState PENDING 60
grep "slurm job $job:" "$CKPT_SLURM_DIR/log/ckptd-n1.log" | sed 's/^/  ckptd n1: /'
echo "the committed checkpoint, as 'ckpt job list' shows it:"
"$CKPT_BUILD/ckpt" --service "$CKPT_SLURM_DIR/run/ckptd-n1.sock" job list "$job"
echo "Slurm starts it again (after cred_expire) on the free node"
until [ "$(state "$job" JobState)" = RUNNING ] && [ "$(state "$job" Restarts)" != 0 ]; do sleep 0.5; done
echo "job $job runs again on $(state "$job" NodeList), $((SECONDS - t0)) s after the preemption"
sleep 4
echo "its output: the count goes on where it stopped, the same pid inside the job"
tail -n 6 "$work/count.out"

say "Waiting for the job to finish"
until case $(state "$job" JobState) in COMPLETED | FAILED | CANCELLED) true ;; *) false ;; esac; do sleep 1; done
echo "job $job: $(state "$job" JobState) after $(state "$job" Restarts) restart(s); whole output:"
cat "$work/count.out"
scancel "$high" || true
