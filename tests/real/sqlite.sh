#!/bin/bash
# sqlite3 inserting rows inside one long transaction, fed slowly through a pipe, so that a
# checkpoint lands mid-transaction, with the database's locks held (dump with --file-locks).
# A small page cache makes the transaction spill pages to the database file before COMMIT.
# $1: the journal mode, "delete" (a rollback journal) or "wal" (the -wal file, and the -shm
# index mapped MAP_SHARED and locked by byte ranges).
set -eu -o pipefail
mode=${1:-delete}
rm -f test.db test.db-journal test.db-wal test.db-shm
sqlite3 test.db "PRAGMA journal_mode=$mode;" \
	"CREATE TABLE t(i INTEGER PRIMARY KEY, v TEXT, n INTEGER, pad TEXT);"
# Another process, mid-transaction: it must find the database locked (a restore that lost
# the locks would let it in). With a rollback journal even reading is refused; in WAL mode it
# reads the last committed state and only its write is refused.
probe() {
	sqlite3 test.db "SELECT 'probe sees', count(*) FROM t;" 2>&1 || echo "probe: read refused"
	sqlite3 test.db "INSERT INTO t(v, n, pad) VALUES ('intruder', 0, '');" 2>&1 ||
		echo "probe: write refused"
} >&2
{
	echo "PRAGMA cache_size=8;"
	echo "BEGIN;"
	for b in $(seq 1 60); do
		for k in $(seq 1 20); do
			i=$(((b - 1) * 20 + k))
			echo "INSERT INTO t(v, n, pad) VALUES ('row $i', $((i * 37 % 101)), printf('%0300d', $i));"
		done
		[ $((b % 10)) -ne 0 ] || echo "batch $b sent" >&2
		[ "$b" -ne 40 ] || probe
		sleep 0.05
	done
	echo "COMMIT;"
	echo "SELECT count(*), sum(n), min(i), max(i), sum(length(pad)) FROM t;"
	echo "SELECT n % 7 AS k, count(*), sum(i) FROM t GROUP BY k ORDER BY k;"
} | sqlite3 test.db
sqlite3 test.db "PRAGMA integrity_check;" "PRAGMA journal_mode;" \
	"SELECT count(*), sum(n), max(v) FROM t WHERE i % 3 = 0;" \
	"SELECT v FROM t ORDER BY n DESC, i LIMIT 3;"
ls test.db*
