# ckptd: the per-node daemon (build/ckptd), its client library object, and the test helper
# build/ckptd-client. Included by the root Makefile. The objects go to build/ckptd-obj/,
# since build/ckptd is the daemon itself.

CKPTD_O           := $(B)/ckptd-obj
CKPTD_SRCS        := $(wildcard ckptd/*.c)
CKPTD_DAEMON_OBJS := $(patsubst ckptd/%.c,$(CKPTD_O)/%.o,$(filter-out ckptd/client.c ckptd/tool.c,$(CKPTD_SRCS)))
CKPTD_CLIENT_OBJS := $(CKPTD_O)/client.o
CKPTD_LIBS        := $(shell $(PKG_CONFIG) --libs libcap) -lpthread

all: $(B)/ckptd $(B)/ckptd-client

$(CKPTD_O)/%.o: ckptd/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(shell $(PKG_CONFIG) --cflags libcap) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/ckptd: $(CKPTD_DAEMON_OBJS) $(B)/libckpt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CKPTD_DAEMON_OBJS) $(B)/libckpt.a $(LDLIBS) $(CKPTD_LIBS)

# The client links libckpt.a for rpc.pb-c.o (LIB_OBJS holds every proto's object).
$(B)/ckptd-client: $(CKPTD_O)/tool.o $(CKPTD_CLIENT_OBJS) $(B)/libckpt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CKPTD_O)/tool.o $(CKPTD_CLIENT_OBJS) $(B)/libckpt.a $(LDLIBS)

# Unit tests of ckptd's parts link the daemon's objects but main.
CKPTD_UNIT_OBJS := $(filter-out $(CKPTD_O)/main.o,$(CKPTD_DAEMON_OBJS)) $(CKPTD_CLIENT_OBJS)
$(B)/tests/unit/test_ckptd_%: tests/unit/test_ckptd_%.c $(CKPTD_UNIT_OBJS) $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Ickptd $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
		$(CKPTD_UNIT_OBJS) $(B)/libckpt.a $(LDLIBS) $(CKPTD_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

format-ckptd:
	clang-format -i ckptd/*.c ckptd/*.h

.PHONY: format-ckptd
