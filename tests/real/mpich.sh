#!/bin/bash
# Build the 2-rank MPI job in the work directory, then run it under MPICH's Hydra (the run is
# what gets checkpointed): mpiexec, its proxy and the two ranks. On one node Hydra's mpiexec
# and proxy talk over a socketpair, the ranks to the proxy over socketpairs and pipes, the
# ranks to each other through UCX shared memory (deleted /dev/shm files, System V segments);
# Hydra and UCX listen on TCP ports. With an argument "tcp", UCX carries the
# ranks' messages over TCP too (UCX_TLS), instead of shared memory. UCX uses the loopback
# interface only (by default it listens on every interface's address).
set -e
export UCX_NET_DEVICES=lo
if [ "${1:-}" = tcp ]; then
	export UCX_TLS=tcp,self
fi
mpicc -O2 -o mpi_ring "$(dirname "$0")/mpi_ring.c"
exec mpirun -np 2 ./mpi_ring
