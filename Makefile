# ckpt — checkpoint/restore of Slurm jobs.
# make            build everything into build/
# make test       unit tests and checkpoint/restore tests (run as root)
# make install    PREFIX=/usr/local DESTDIR=
# V=1 full command lines, DEBUG=1 no optimisation, ASAN=1 AddressSanitizer.

ARCH     ?= $(shell uname -m)
PREFIX   ?= /usr/local
DESTDIR  ?=
B        := build
CC       ?= gcc
PKG_CONFIG ?= pkg-config
PYTHON   ?= /usr/bin/python3

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIBS_PC  := libprotobuf-c libxxhash
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Icore -Iarch -Iarch/$(ARCH) -I$(B)/proto \
	    $(shell $(PKG_CONFIG) --cflags $(LIBS_PC))
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
	    -Wno-missing-field-initializers -Werror=missing-prototypes -Werror=shadow \
	    -Werror=format=2 -Werror=implicit-function-declaration
# libmunge: the RPC client signs requests to other nodes' ckptd (through munge.pc when there is one).
MUNGE_LIBS := $(shell $(PKG_CONFIG) --exists munge && $(PKG_CONFIG) --libs munge || echo -lmunge)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(LIBS_PC)) $(MUNGE_LIBS)
ifeq ($(DEBUG),1)
CFLAGS   += -O0 -g3
endif
ifeq ($(ASAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif

PROTOS      := $(wildcard proto/*.proto)
PROTO_C     := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H     := $(PROTO_C:.c=.h)
CORE_SRCS   := $(wildcard core/*.c) $(wildcard arch/$(ARCH)/*.c)
# The client side of ckptd's RPC (ckptd/client.c, and tcp-wire.c, which the daemon shares) is
# part of libckpt: ckpt_dump() and ckpt_restore() go through the daemon when asked to
# (core/service.c). Built by ckptd/ckptd.mk into build/ckptd-obj/.
LIB_CLIENT_OBJS := $(B)/ckptd-obj/client.o $(B)/ckptd-obj/tcp-wire.o
LIB_OBJS    := $(patsubst %.c,$(B)/%.o,$(CORE_SRCS)) $(PROTO_C:.c=.o) $(LIB_CLIENT_OBJS)
CLI_SRCS    := $(wildcard core/cli/*.c)
CLI_OBJS    := $(patsubst %.c,$(B)/%.o,$(CLI_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))
CR_SRCS     := $(wildcard tests/cr/*.c)
CR_BINS     := $(patsubst tests/cr/%.c,$(B)/tests/cr/%,$(CR_SRCS))

all: $(B)/ckpt $(B)/libckpt.a $(B)/libckpt.so $(B)/examples/counter

$(B)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -O2 -g -Wall -o $@ $<

.PHONY: bench all test test-only unit unit-bins cr-progs check-aarch64 install format demo demo-local clean
.SECONDARY:

$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/proto
	@echo "  PROTOC $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(B)/proto $<

$(B)/proto/%.o: $(B)/proto/%.c $(PROTO_H)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libckpt.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libckpt.so: $(LIB_OBJS) core/libckpt.map
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,--version-script=core/libckpt.map -Wl,-soname,libckpt.so.0 \
		-o $@ $(LIB_OBJS) $(LDLIBS)
	$(Q)ln -sf libckpt.so $(B)/libckpt.so.0

$(B)/core/service.o: CPPFLAGS += -Ickptd

$(B)/ckpt: $(CLI_OBJS) $(B)/libckpt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(B)/libckpt.a $(LDLIBS)

# Unit tests link the static library so that they reach internal functions.
# They also link the CLI's objects but its main, for the option parsers.
CLI_LIB_OBJS := $(filter-out $(B)/core/cli/main.o,$(CLI_OBJS))
$(B)/tests/unit/%: tests/unit/%.c $(B)/libckpt.a $(CLI_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Icore/cli $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
		$(CLI_LIB_OBJS) $(B)/libckpt.a $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

# Checkpoint/restore test programs: dynamic by default, *_static.c linked statically.
$(B)/tests/cr/%: tests/cr/%.c $(wildcard tests/cr/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -D_GNU_SOURCE -O1 -g -Wall -pthread $(if $(findstring _static,$*),-static) \
		$(if $(findstring avx512,$*),-mavx512f) -o $@ $< -lm

$(B)/tests/cr/hello_static: tests/cr/hello_dynamic.c

# Test tools that reach libckpt's internals (image I/O), e.g. to forge an image.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRCS))
$(B)/tests/tools/%: tests/tools/%.c $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libckpt.a $(LDLIBS)

# Programs of the public API alone: include/ckpt.h and build/libckpt.so, as an installed
# library's users build them.
API_SRCS := $(wildcard tests/api/*.c)
API_BINS := $(patsubst tests/api/%.c,$(B)/tests/api/%,$(API_SRCS))
$(B)/tests/api/%: tests/api/%.c include/ckpt.h $(B)/libckpt.so
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -Iinclude -o $@ $< -L$(B) -lckpt -Wl,-rpath,$(abspath $(B))

unit: $(UNIT_BINS)
	$(Q)fail=0; for t in $(UNIT_BINS); do $$t || fail=1; done; exit $$fail

unit-bins: $(UNIT_BINS)

cr-progs: $(CR_BINS) $(TOOL_BINS) $(API_BINS)

test: all $(UNIT_BINS) $(CR_BINS) test-only

# pytest runs the unit test binaries too (tests/test_unit.py), so its summary is the verdict.
test-only:
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -v tests/

# arch/aarch64 must keep compiling: compile (not link) the library for it.
check-aarch64: $(PROTO_H)
	$(Q)for f in core/*.c $(wildcard arch/aarch64/*.c); do \
		echo "  CC.a64  $$f"; \
		aarch64-linux-gnu-gcc -D_GNU_SOURCE -Iinclude -Icore -Ickptd -Iarch -Iarch/aarch64 -I$(B)/proto \
			-std=gnu11 -Wall -Werror=missing-prototypes -Werror=implicit-function-declaration \
			-fsyntax-only $$f || exit 1; \
	done

install: all install-ckptd install-spank
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(B)/ckpt $(DESTDIR)$(PREFIX)/bin/ckpt
	install -m 0644 $(B)/libckpt.a $(DESTDIR)$(PREFIX)/lib/libckpt.a
	install -m 0755 $(B)/libckpt.so $(DESTDIR)$(PREFIX)/lib/libckpt.so.0
	ln -sf libckpt.so.0 $(DESTDIR)$(PREFIX)/lib/libckpt.so
	install -m 0644 include/ckpt.h $(DESTDIR)$(PREFIX)/include/ckpt.h
	if [ -d man ] && ls man/*.[0-9] >/dev/null 2>&1; then \
		for m in man/*.[0-9]; do s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; fi

format:
	clang-format -i $(CORE_SRCS) $(CLI_SRCS) $(wildcard core/*.h arch/*.h arch/*/*.h include/*.h)

# The main demo: a two-node Slurm cluster, a job preempted on n1 and restored on n2.
demo: all
	$(Q)bash scripts/demo-slurm.sh

demo-local: all
	$(Q)bash scripts/demo.sh

# Benchmarks are not tests: SIZE_MIB=, RUNS=, DIR=, CRIU= (see bench/run.sh).
bench: all
	$(Q)bash bench/run.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Parts with their own make fragments (ckptd/, spank/): each adds to all/test prerequisites.
-include $(wildcard */*.mk)
# Test parts one level down (tests/fuzz/): the same, not prerequisites of all.
-include $(wildcard tests/*/*.mk)
