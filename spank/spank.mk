# spank_ckpt.so: the Slurm plugin (spank/), its shim and the namespace init. Included by the
# root Makefile. It links libckpt, the layout and policy libraries and ckptd's client into
# one shared object that exports only SPANK's symbols; slurm_error() and the spank_* calls
# come from slurmstepd when it loads the plugin (no libslurm here, see SLURM-NOTES.md).

SPANK_O    := $(B)/spank-obj
SPANK_SRCS := $(wildcard spank/*.c)
SPANK_OBJS := $(patsubst spank/%.c,$(SPANK_O)/%.o,$(SPANK_SRCS))
SPANK_LIBS := $(B)/libckpt-layout.a $(B)/libckpt-policies.a $(B)/libckpt.a

all: $(B)/spank_ckpt.so

$(SPANK_O)/%.o: spank/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) -Ickptd -Infs-layout -Ipolicies -Icore $(CFLAGS) -fvisibility=default -MMD -MP -c -o $@ $<

$(B)/spank_ckpt.so: $(SPANK_OBJS) $(SPANK_LIBS) spank/spank_ckpt.map
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,--version-script=spank/spank_ckpt.map -o $@ \
		$(SPANK_OBJS) $(SPANK_LIBS) $(LDLIBS)

-include $(SPANK_OBJS:.o=.d)

# Debian's Slurm loads plugins from /usr/lib/x86_64-linux-gnu/slurm-wlm; plugstack.conf names
# the path, so any directory works.
SPANK_DIR ?= $(PREFIX)/lib/slurm
install-spank: $(B)/spank_ckpt.so
	install -d $(DESTDIR)$(SPANK_DIR) $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(B)/spank_ckpt.so $(DESTDIR)$(SPANK_DIR)/spank_ckpt.so
	install -m 0644 man/spank_ckpt.8 $(DESTDIR)$(PREFIX)/share/man/man8/spank_ckpt.8

.PHONY: install-spank
