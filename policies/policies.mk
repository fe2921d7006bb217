# policies: pure decisions of ckptd, build/libckpt-policies.a. Included by the root Makefile;
# objects go to build/policies/ through its generic $(B)/%.o rule. Needs nothing else.

POLICIES_SRCS := $(wildcard policies/*.c)
POLICIES_OBJS := $(patsubst %.c,$(B)/%.o,$(POLICIES_SRCS))
POLICIES_LIB  := $(B)/libckpt-policies.a

all: $(POLICIES_LIB)

$(POLICIES_LIB): $(POLICIES_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# An explicit rule: it wins over the root Makefile's $(B)/tests/unit/% pattern, and links
# only what it needs (ckptd.mk gives the other unit tests a target-specific LDLIBS).
$(B)/tests/unit/test_policies: tests/unit/test_policies.c $(POLICIES_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Ipolicies $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
		$(POLICIES_LIB) $(shell $(PKG_CONFIG) --libs cmocka)

format-policies:
	clang-format -i policies/*.c policies/*.h tests/unit/test_policies.c

.PHONY: format-policies
