/* SPDX-License-Identifier: MIT */
/*
 * The machine's own ceilings for the benchmark: memory copy bandwidth and sequential file
 * write bandwidth (write + fsync) into DIR. Prints "memcpy_gbs X" and "write_gbs Y".
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 2 ? strtoul(argv[2], NULL, 10) : 1024) << 20, chunk = 64 << 20;
	char *a = malloc(len), *b = malloc(len), path[4096];
	double t, best = 1e9;
	int fd;

	if (!a || !b || argc < 2)
		return 1;
	memset(a, 1, len);
	memset(b, 2, len);
	for (int i = 0; i < 3; i++) {
		t = now();
		memcpy(b, a, len);
		t = now() - t;
		best = t < best ? t : best;
	}
	printf("memcpy_gbs %.2f\n", len / best / 1e9);
	snprintf(path, sizeof(path), "%s/ceiling.bin", argv[1]);
	best = 1e9;
	for (int i = 0; i < 3; i++) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return 1;
		t = now();
		for (size_t off = 0; off < len; off += chunk)
			if (write(fd, a + off, chunk) != (ssize_t)chunk)
				return 1;
		fsync(fd);
		t = now() - t;
		close(fd);
		unlink(path);
		best = t < best ? t : best;
	}
	printf("write_gbs %.2f\n", len / best / 1e9);
	return 0;
}
