/*
 * A 2-rank MPI job (tests/real/mpich.sh): each step the ranks swap a buffer, then reduce a
 * sum that rank 0 prints.
 */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
	int rank, size;
	double buf[4096], in[4096], total = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	for (int i = 0; i < 4096; i++)
		buf[i] = rank + i * 0.5;
	for (int step = 0; step < 40; step++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		double local = 0, sum = 0;
		int peer = (rank + 1) % size;

		MPI_Sendrecv(buf, 4096, MPI_DOUBLE, peer, step, in, 4096, MPI_DOUBLE, peer, step,
			     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (int i = 0; i < 4096; i++) {
			buf[i] = in[i] * 0.999 + step;
			local += buf[i];
		}
		MPI_Allreduce(&local, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		total += sum;
		if (rank == 0) {
			printf("step %d ranks %d sum %.6f\n", step, size, sum);
			fflush(stdout);
		}
		nanosleep(&ts, NULL);
	}
	if (rank == 0)
		printf("total %.6f\n", total);
	MPI_Finalize();
	return 0;
}
