/* An OpenMP job: 4 threads sum a series in chunks, with a barrier per step. */
#include <omp.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
	double total = 0;

	omp_set_num_threads(4);
	for (int step = 0; step < 30; step++) {
		double sum = 0;
		struct timespec ts = {0, 50 * 1000 * 1000};

#pragma omp parallel for reduction(+ : sum)
		for (long i = 1; i <= 2000000; i++)
			sum += 1.0 / ((double)i * i + step);
		total += sum;
		printf("step %d threads %d sum %.12f\n", step, omp_get_max_threads(), sum);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
	printf("total %.12f\n", total);
	return 0;
}
