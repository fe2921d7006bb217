# The fuzz target of ckptd's request decoder (tests/fuzz/fuzz_rpc.c), built with clang's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer; included by the root Makefile.
#   make fuzz          build/tests/fuzz/fuzz_rpc
#   make fuzz-run      run it FUZZ_SECONDS (10) on a copy of tests/fuzz/corpus/
#   make fuzz-corpus   write the seed corpus again (tests/fuzz/gen_corpus.c)
# The decoder and the path check are compiled instrumented; the rest of libckpt they call
# (logging) comes from build/libckpt.a as it is.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
		-Wno-missing-field-initializers -Werror=missing-prototypes -Werror=implicit-function-declaration \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS    := tests/fuzz/fuzz_rpc.c ckptd/rpc-decode.c ckptd/auth.c $(B)/proto/rpc.pb-c.c

$(B)/tests/fuzz/fuzz_rpc: $(FUZZ_SRCS) ckptd/rpc-decode.h ckptd/auth.h $(PROTO_H) $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -Ickptd $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS) $(B)/libckpt.a $(LDLIBS)

$(B)/tests/fuzz/gen_corpus: tests/fuzz/gen_corpus.c $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Ickptd $(CFLAGS) -o $@ $< $(B)/libckpt.a $(LDLIBS)

fuzz: $(B)/tests/fuzz/fuzz_rpc

fuzz-run: $(B)/tests/fuzz/fuzz_rpc
	$(Q)rm -rf $(B)/tests/fuzz/run && mkdir -p $(B)/tests/fuzz/run/corpus && \
		cp tests/fuzz/corpus/* $(B)/tests/fuzz/run/corpus/ && \
		$< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -artifact_prefix=$(B)/tests/fuzz/run/ \
			$(B)/tests/fuzz/run/corpus

fuzz-corpus: $(B)/tests/fuzz/gen_corpus
	$(Q)$< tests/fuzz/corpus

.PHONY: fuzz fuzz-run fuzz-corpus
