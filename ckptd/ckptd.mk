# ckptd: the per-node daemon (build/ckptd), its client library object, and the test helper
# build/ckptd-client. Included by the root Makefile. The objects go to build/ckptd-obj/,
# since build/ckptd is the daemon itself.

CKPTD_O           := $(B)/ckptd-obj
CKPTD_SRCS        := $(wildcard ckptd/*.c)
CKPTD_DAEMON_OBJS := $(patsubst ckptd/%.c,$(CKPTD_O)/%.o,$(filter-out ckptd/client.c ckptd/tool.c,$(CKPTD_SRCS)))
# The client (client.c, tcp-wire.c) is part of libckpt (LIB_CLIENT_OBJS in the root Makefile):
# whatever links libckpt.a and $(LDLIBS) has it, libmunge included.
MUNGE_CFLAGS      := $(shell $(PKG_CONFIG) --exists munge && $(PKG_CONFIG) --cflags munge)
# libslurm for the node watcher (no slurm.pc in Debian 12), hwloc for the node's topology in
# each checkpoint's metadata (topo.c; hwloc knows the machines Slurm runs on better than any
# parser of /sys we would write); the layout and policy libraries
# take util and log from libckpt.a, so they come first.
CKPTD_SLURM_LIBS  := $(B)/libckpt-layout.a $(B)/libckpt-policies.a
CKPTD_LIBS        := $(shell $(PKG_CONFIG) --libs libcap hwloc) -lslurm -lpthread

all: $(B)/ckptd $(B)/ckptd-client

$(CKPTD_O)/%.o: ckptd/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Infs-layout -Ipolicies $(shell $(PKG_CONFIG) --cflags libcap) $(MUNGE_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/ckptd: $(CKPTD_DAEMON_OBJS) $(CKPTD_SLURM_LIBS) $(B)/libckpt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CKPTD_DAEMON_OBJS) $(CKPTD_SLURM_LIBS) $(B)/libckpt.a $(LDLIBS) $(CKPTD_LIBS)

# The client links libckpt.a for rpc.pb-c.o (LIB_OBJS holds every proto's object).
$(B)/ckptd-client: $(CKPTD_O)/tool.o $(B)/libckpt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CKPTD_O)/tool.o $(B)/libckpt.a $(LDLIBS)

# Unit tests of ckptd's parts link the daemon's objects but main.
CKPTD_UNIT_OBJS := $(filter-out $(CKPTD_O)/main.o,$(CKPTD_DAEMON_OBJS))
$(B)/tests/unit/test_ckptd_%: tests/unit/test_ckptd_%.c $(CKPTD_UNIT_OBJS) $(CKPTD_SLURM_LIBS) $(B)/libckpt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Ickptd -Infs-layout -Ipolicies $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ $< \
		$(CKPTD_UNIT_OBJS) $(CKPTD_SLURM_LIBS) $(B)/libckpt.a $(LDLIBS) $(CKPTD_LIBS) \
		$(shell $(PKG_CONFIG) --libs cmocka)

# ckpt --service (core/cli/service.c) and ckpt job (job.c) use the client's RPC-level calls.
$(B)/core/cli/service.o $(B)/core/cli/job.o: CPPFLAGS += -Ickptd

format-ckptd:
	clang-format -i ckptd/*.c ckptd/*.h

# The daemon, its man page, the unit and an example configuration (never over an existing one).
# The root install target runs this one (install: all install-ckptd).
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
install-ckptd: $(B)/ckptd
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/ckpt
	install -m 0755 $(B)/ckptd $(DESTDIR)$(PREFIX)/sbin/ckptd
	install -m 0644 man/ckptd.8 $(DESTDIR)$(PREFIX)/share/man/man8/ckptd.8
	sed 's|^ExecStart=/usr/local/sbin/ckptd -f -c /etc/ckpt/ckptd.conf$$|ExecStart=$(PREFIX)/sbin/ckptd -f -c $(SYSCONFDIR)/ckpt/ckptd.conf|' \
		contrib/ckptd.service > $(DESTDIR)$(UNITDIR)/ckptd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ckptd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/ckpt/ckptd.conf || \
		install -m 0644 contrib/ckptd.conf $(DESTDIR)$(SYSCONFDIR)/ckpt/ckptd.conf

.PHONY: format-ckptd install-ckptd
