#!/usr/bin/env bash
# The demo: a program that prints a running count is checkpointed, killed, and restored in
# a new PID namespace, where it goes on counting from where it stopped, with the same pid.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${CKPT_BUILD:-build}
work=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
say() { printf '\n== %s\n' "$*"; }
# The job must not inherit stray descriptors of whoever runs this: they would point outside it.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done

say "Starting the sample job (examples/counter.c): it prints a count every second"
setsid "$B/examples/counter" >"$work/out.log" 2>&1 </dev/null &
pid=$!
disown
sleep 3.5
cat "$work/out.log"

say "Checkpointing pid $pid into $work/img (the job is frozen, written, then killed)"
"$B/ckpt" dump -t "$pid" -D "$work/img" -v2
sleep 1
if kill -0 "$pid" 2>/dev/null; then echo "pid $pid is still running?"; exit 1; fi
echo "pid $pid is gone. The checkpoint holds:"
ls -l "$work/img"

say "Restoring it into a new PID namespace"
"$B/ckpt" restore -D "$work/img" -d --pidfile "$work/pid" -v2
rpid=$(cat "$work/pid")
echo "restored: host pid $rpid, pid inside its namespace $(awk '/^NSpid/ {print $NF}' /proc/$rpid/status)"
sleep 3.5

say "The job's output: the count goes on where it stopped, same pid"
cat "$work/out.log"
kill "$rpid"
sleep 0.5
rm -rf "$work"
say "Done"
