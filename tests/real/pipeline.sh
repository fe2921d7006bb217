#!/bin/bash
# A bash job: a pipeline with sort | uniq -c and tee, and command substitutions.
n=$(seq 1 60 | wc -l)
for i in $(seq 1 "$n"); do
	echo "item $((i * 7 % 11))"
	sleep 0.05
done | sort | uniq -c | tee counts.txt > /dev/null
echo "total $(awk '{s += $1} END {print s}' counts.txt) lines, $(wc -l < counts.txt) distinct"
