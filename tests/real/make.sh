#!/bin/bash
# make -j2 building a generated C project.
mkdir -p proj && cd proj
for i in $(seq 1 24); do
	printf 'int f%d(int x) { return x * %d + %d; }\n' "$i" "$i" "$((i * 3))" > f$i.c
done
{
	echo '#include <stdio.h>'
	for i in $(seq 1 24); do echo "int f$i(int);"; done
	echo 'int main(void) { long s = 0;'
	for i in $(seq 1 24); do echo "s += f$i($i);"; done
	echo 'printf("%ld\\n", s); return 0; }'
} > main.c
cat > Makefile <<'MK'
SRCS := $(wildcard *.c)
prog: $(SRCS:.c=.o)
	$(CC) -o $@ $^
%.o: %.c
	@sleep 0.1
	$(CC) -O0 -c -o $@ $<
MK
make -j2 -s prog
./prog
