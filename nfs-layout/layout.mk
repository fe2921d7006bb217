# nfs-layout: where checkpoints live on the shared filesystem, build/libckpt-layout.a.
# Included by the root Makefile; objects go to build/nfs-layout/ through its generic
# $(B)/%.o rule. Users link it before libckpt.a (it takes util and log from there).

LAYOUT_SRCS := $(wildcard nfs-layout/*.c)
LAYOUT_OBJS := $(patsubst %.c,$(B)/%.o,$(LAYOUT_SRCS))
LAYOUT_LIB  := $(B)/libckpt-layout.a

all: $(LAYOUT_LIB)

$(LAYOUT_LIB): $(LAYOUT_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# An explicit rule: it wins over the root Makefile's $(B)/tests/unit/% pattern. Its own libs
# only: ckptd.mk gives every other unit test a target-specific LDLIBS with its client.
$(B)/tests/unit/test_layout: tests/unit/test_layout.c $(LAYOUT_LIB) $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Infs-layout $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
		$(LAYOUT_LIB) $(B)/libckpt.a $(shell $(PKG_CONFIG) --libs $(LIBS_PC) cmocka)

format-layout:
	clang-format -i nfs-layout/*.c nfs-layout/*.h tests/unit/test_layout.c

.PHONY: format-layout
