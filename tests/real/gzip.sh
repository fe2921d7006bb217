#!/bin/bash
# gzip streaming a large file, slowly fed through a pipe.
head -c 64M /dev/zero | tr '\0' 'a' > big.txt
(for i in $(seq 1 40); do head -c 1M big.txt; sleep 0.05; done) | gzip -c > big.gz
echo "gz $(gzip -dc big.gz | md5sum | cut -c1-32)"
