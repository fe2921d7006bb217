#!/bin/bash
# Build the OpenMP job in the work directory, then run it (the run is what gets checkpointed).
set -e
gcc -O2 -fopenmp -o openmp "$(dirname "$0")/openmp.c"
exec ./openmp
