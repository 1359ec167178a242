# otas-fcgi — plain GNU make; every program is one .c in cgi-bin/ or bin/
# linked against the static library built from lib/*.c.  New files are picked
# up by the wildcards below: adding a module or a test needs no edit here.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
PYTHON   ?= /usr/bin/python3
# The one source of the version: programs, tarball and package read it here.
VERSION  := $(shell cat VERSION)
# The newest migration in sql/: otas-session's readiness check wants the
# database at least there.
SCHEMA_VERSION := $(shell ls sql | sed -n 's/^0*\([0-9][0-9]*\)_.*\.sql$$/\1/p' | \
                    sort -n | tail -n 1)

PKGS     := fcgi json-c libjwt libpq libcrypto
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
            -fstack-clash-protection -fcf-protection
OPT      ?= -O2 -g
CFLAGS   ?=
ALL_CFLAGS = -std=gnu11 $(OPT) $(WARN) $(HARDEN) -Ilib $(PKG_CFLAGS) \
             -DOTAS_SCHEMA_VERSION=$(SCHEMA_VERSION)L $(EXTRA_CFLAGS) $(CFLAGS)
LDFLAGS  ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(EXTRA_LDFLAGS) $(LDFLAGS)
LIBS     = $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libotas.a
PROG_SRC := $(wildcard cgi-bin/*.c bin/*.c)
PROGS    := $(addprefix $(BUILD)/,$(notdir $(PROG_SRC:.c=)))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run-deps test unit integration run sanitize fuzz bench static dist \
        install uninstall deb clean FORCE
.DELETE_ON_ERROR:

all: $(PROGS)

# `make deps`: everything the tests need; run-deps: only what `make run`
# needs to build and serve (no test toolchain).
deps:
	@scripts/install-deps.sh test

run-deps:
	@scripts/install-deps.sh run

$(BUILD)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Only version.o carries the number, so a release rebuilds one object.
$(BUILD)/lib/version.o: VERSION
$(BUILD)/lib/version.o: ALL_CFLAGS += -DOTAS_VERSION='"$(VERSION)"'

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%: cgi-bin/%.c $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

$(BUILD)/%: bin/%.c $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

# otas-admin is bin/otas-admin.c plus its modules in bin/admin/.  It finds
# the migrations where `make install` puts them; $(BUILD)/prefix changes
# only when PREFIX does, so a build for another PREFIX is relinked.
$(BUILD)/otas-admin: bin/otas-admin.c bin/admin/*.c bin/admin/*.h $(LIB_A) \
    $(BUILD)/prefix
	$(CC) $(ALL_CFLAGS) -Ibin/admin \
	    -DOTAS_SQL_DIR='"$(PREFIX)/share/otas-fcgi/sql"' \
	    $(ALL_LDFLAGS) -o $@ bin/otas-admin.c \
	    $(wildcard bin/admin/*.c) $(LIB_A) $(LIBS)

# otas-session has the schema version compiled in; $(BUILD)/schema-version
# changes only when a migration with a higher number appears.
$(BUILD)/otas-session: $(BUILD)/schema-version

$(BUILD)/schema-version: FORCE
	@mkdir -p $(@D)
	@echo '$(SCHEMA_VERSION)' | cmp -s - $@ || echo '$(SCHEMA_VERSION)' > $@

$(BUILD)/prefix: FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@

FORCE:

# jansson is linked for test_token's oracle (tests/oracle/token_oracle.h),
# which reads JSON with it apart from libjwt.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) \
	    $(shell pkg-config --libs cmocka jansson) $(LIBS)

unit: $(UNITS) $(BUILD)/tests/token-verdicts

# token-verdicts replays the token corpus (tests/fuzz/token_verdicts.c);
# test_static_tokens.py compares it with its twin in $(STATIC).
$(BUILD)/tests/token-verdicts: tests/fuzz/token_verdicts.c \
    tests/fuzz/token_input.h tests/oracle/b64url.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

# `make test`: install what is missing (as root: Debian packages), build,
# run unit then integration tests, and end with one line "N passed, N
# failed".  The tests create system users, build, install and purge the
# Debian package, and start private servers on loopback ports.
test: deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) PYTHON=$(PYTHON) tests/run

# exec: a SIGTERM make passes on reaches the dev stack itself, which
# stops what it started (a shell in between would die and leave it).
run: run-deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) exec scripts/dev-stack

# `make sanitize`: the unit and integration suites with ASan + UBSan builds
# of every program (own BUILD dir), then valgrind memcheck on a responder
# serving 10 000 requests.  See tests/sanitize/run.
SANITIZE_BUILD ?= $(BUILD)/sanitize
sanitize: deps
	@BUILD=$(SANITIZE_BUILD) VALGRIND_BUILD=$(BUILD) PYTHON=$(PYTHON) \
	    MAKE="$(MAKE)" tests/sanitize/run

# `make fuzz`: every tests/fuzz/fuzz_*.c as a libFuzzer target (clang),
# FUZZ_SECONDS each.  See tests/fuzz/run.
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) MAKE="$(MAKE)" \
	    tests/fuzz/run

# `make bench`: throughput, latency and CPU per request of the real stack
# (durable PostgreSQL, lighttpd, nginx) against pgbench running the same
# statement.  Never part of `make test`; see tests/bench/, BENCHMARKS.md.
# The bench package reuses the integration harness (tests/harness).
$(BUILD)/bench/%: tests/bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LIBS)

bench: deps
	@$(MAKE) --no-print-directory all static $(BUILD)/bench/hot-sql
	@cd tests && BUILD=$(abspath $(BUILD)) \
	    $(PYTHON) -m bench

# `make static`: the four programs fully static in $(STATIC)/, for a host
# with none of our libraries (shared hosting, a chroot).  Debian ships
# static libfcgi, json-c and OpenSSL; its libpq.a needs GSSAPI and LDAP,
# which it ships only as shared libraries, so scripts/static-libpq builds
# libpq alone from Debian's source package into $(DEPS), outside $(BUILD)
# so that the sanitizer and fuzz builds share it.  lib/ is compiled again
# with OTAS_STATIC_BUILD: static glibc cannot resolve host names, so those
# programs refuse one at start.  Debian ships libjwt shared only:
# scripts/static-libjwt builds libjwt 1.17.2 (pinned) from Debian's
# upstream tarball into $(DEPS) too, with jansson sealed inside it, and
# lib/ is compiled against that libjwt's jwt.h.
DEPS          ?= build/deps
STATIC        := $(BUILD)/static
STATIC_LIBPQ  := $(DEPS)/libpq
STATIC_LIBJWT := $(DEPS)/libjwt
STATIC_CFLAGS  = -I$(STATIC_LIBJWT)/include $(ALL_CFLAGS) -DOTAS_STATIC_BUILD
STATIC_LIBS    = -lfcgi -ljson-c $(STATIC_LIBJWT)/lib/libjwt.a \
                 $(STATIC_LIBPQ)/lib/libpq.a \
                 $(STATIC_LIBPQ)/lib/libpgcommon_shlib.a \
                 $(STATIC_LIBPQ)/lib/libpgport_shlib.a -lssl -lcrypto \
                 -lpthread -lm -ldl
STATIC_LINK    = -static -Wl,-z,relro,-z,now $(EXTRA_LDFLAGS) $(LDFLAGS)
STATIC_OBJ    := $(LIB_SRC:%.c=$(STATIC)/%.o)
STATIC_PROGS  := $(addprefix $(STATIC)/,$(notdir $(PROG_SRC:.c=)))

static: $(STATIC_PROGS)

# Asked every time: it rebuilds only when the installed libpq-dev changed.
$(STATIC_LIBPQ)/done: FORCE
	@scripts/static-libpq $(STATIC_LIBPQ)

# Asked every time too: it rebuilds only when what it pins changed.
$(STATIC_LIBJWT)/done: FORCE
	@scripts/static-libjwt $(STATIC_LIBJWT)

# The one object that includes jwt.h.
$(STATIC)/lib/token.o: $(STATIC_LIBJWT)/done

$(STATIC)/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(STATIC_CFLAGS) -c -o $@ $<

$(STATIC)/lib/version.o: VERSION
$(STATIC)/lib/version.o: STATIC_CFLAGS += -DOTAS_VERSION='"$(VERSION)"'
$(STATIC)/otas-session: $(BUILD)/schema-version

$(STATIC)/libotas.a: $(STATIC_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(STATIC)/%: cgi-bin/%.c $(STATIC)/libotas.a $(STATIC_LIBPQ)/done \
    $(STATIC_LIBJWT)/done
	$(CC) $(STATIC_CFLAGS) $(STATIC_LINK) -o $@ $< $(STATIC)/libotas.a \
	    $(STATIC_LIBS)

$(STATIC)/tests/token-verdicts: tests/fuzz/token_verdicts.c \
    tests/fuzz/token_input.h tests/oracle/b64url.h $(STATIC)/libotas.a \
    $(STATIC_LIBJWT)/done
	@mkdir -p $(@D)
	$(CC) $(STATIC_CFLAGS) $(STATIC_LINK) -o $@ $< $(STATIC)/libotas.a \
	    $(STATIC_LIBS)

# Uploaded beside sql/ (see `make dist`), so that is where it looks.
$(STATIC)/otas-admin: bin/otas-admin.c bin/admin/*.c bin/admin/*.h \
    $(STATIC)/libotas.a $(STATIC_LIBPQ)/done $(STATIC_LIBJWT)/done
	$(CC) $(STATIC_CFLAGS) -Ibin/admin -DOTAS_SQL_DIR='"sql"' \
	    $(STATIC_LINK) -o $@ bin/otas-admin.c $(wildcard bin/admin/*.c) \
	    $(STATIC)/libotas.a $(STATIC_LIBS)

# `make install`: the FastCGI/CGI programs are not commands a user runs,
# so they go to $(PREFIX)/lib/otas-fcgi/ (where the example configs point);
# otas-admin to $(PREFIX)/bin, the man pages, the migrations it applies,
# the example configs, the guides of doc/ and the monitoring rules and
# dashboard under $(PREFIX)/share (the man pages name the guides' installed
# path).  DESTDIR stages a package.
LIBEXECDIR = $(PREFIX)/lib/otas-fcgi
SQLDIR     = $(PREFIX)/share/otas-fcgi/sql
DOCDIR     = $(PREFIX)/share/doc/otas-fcgi
EXAMPLEDIR = $(DOCDIR)/examples
MONITORDIR = $(DOCDIR)/monitoring
MAN1DIR    = $(PREFIX)/share/man/man1
MAN5DIR    = $(PREFIX)/share/man/man5
MAN8DIR    = $(PREFIX)/share/man/man8
CGI_PROGS  := $(notdir $(basename $(wildcard cgi-bin/*.c)))
EXAMPLES   := $(wildcard *.conf.example)
SQL_FILES  := $(wildcard sql/*.sql)
GUIDES     := $(wildcard doc/*.md)
MONITORING := $(wildcard monitoring/*)
MAN1       := $(wildcard *.1)
MAN5       := $(wildcard *.5)
MAN8       := $(wildcard *.8)

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(SQLDIR) $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(MAN1DIR) \
	    $(DESTDIR)$(MAN5DIR) $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(MONITORDIR)
	install -m 0755 $(addprefix $(BUILD)/,$(CGI_PROGS)) \
	    $(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 $(BUILD)/otas-admin $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(SQL_FILES) $(DESTDIR)$(SQLDIR)/
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(EXAMPLEDIR)/
	install -m 0644 $(GUIDES) $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(MONITORING) $(DESTDIR)$(MONITORDIR)/
	install -m 0644 $(MAN1) $(DESTDIR)$(MAN1DIR)/
	install -m 0644 $(MAN5) $(DESTDIR)$(MAN5DIR)/
	install -m 0644 $(MAN8) $(DESTDIR)$(MAN8DIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(CGI_PROGS)) \
	    $(DESTDIR)$(PREFIX)/bin/otas-admin \
	    $(addprefix $(DESTDIR)$(SQLDIR)/,$(notdir $(SQL_FILES))) \
	    $(addprefix $(DESTDIR)$(EXAMPLEDIR)/,$(EXAMPLES)) \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(GUIDES))) \
	    $(addprefix $(DESTDIR)$(MONITORDIR)/,$(notdir $(MONITORING))) \
	    $(addprefix $(DESTDIR)$(MAN1DIR)/,$(MAN1)) \
	    $(addprefix $(DESTDIR)$(MAN5DIR)/,$(MAN5)) \
	    $(addprefix $(DESTDIR)$(MAN8DIR)/,$(MAN8))
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SQLDIR) \
	    $(DESTDIR)$(PREFIX)/share/otas-fcgi $(DESTDIR)$(EXAMPLEDIR) \
	    $(DESTDIR)$(MONITORDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null

# `make dist`: what a shared-hosting user uploads, one tarball of the
# static programs, the migrations, the man pages, the example settings
# (otas.conf.example, htaccess.example), the README and the shared-hosting
# guide, under one
# directory.  The static otas-admin finds sql/ beside it when run from
# there.  The programs are stripped (5 MB instead of 7); owner, group
# and order are fixed, so two builds list alike.
DIST_NAME  := otas-fcgi-$(VERSION)-linux-x86_64
DIST_DIR   := $(BUILD)/dist/$(DIST_NAME)
DIST       := $(BUILD)/dist/$(DIST_NAME).tar.gz
DIST_DOCS  := README.md doc/shared-hosting.md \
              $(wildcard otas.conf.example htaccess.example)
dist: $(DIST)

$(DIST): $(STATIC_PROGS) $(SQL_FILES) $(MAN1) $(MAN5) $(MAN8) $(DIST_DOCS)
	rm -rf $(DIST_DIR)
	install -d $(DIST_DIR)/sql $(DIST_DIR)/man
	install -m 0755 -s $(STATIC_PROGS) $(DIST_DIR)/
	install -m 0644 $(SQL_FILES) $(DIST_DIR)/sql/
	install -m 0644 $(MAN1) $(MAN5) $(MAN8) $(DIST_DIR)/man/
	install -m 0644 $(DIST_DOCS) $(DIST_DIR)/
	tar -C $(BUILD)/dist --sort=name --owner=0 --group=0 --numeric-owner \
	    -czf $@ $(DIST_NAME)
	rm -rf $(DIST_DIR)

# `make deb`: the Debian package, built by debhelper from debian/ in a copy
# of the sources under $(BUILD)/deb (the checkout stays clean), checked
# with lintian (an error fails the target).  debian/changelog must name the
# version in VERSION.  The package build runs its own make: none of this
# make's settings (BUILD above all, which its `make clean` would remove)
# may reach it.
DEB_SRC  := Makefile VERSION README.md BENCHMARKS.md lib cgi-bin bin sql doc \
            monitoring \
            debian tests/unit tests/oracle tests/fuzz/token_verdicts.c \
            tests/fuzz/token_input.h $(EXAMPLES) $(MAN1) $(MAN5) $(MAN8)
DEB      := $(BUILD)/deb/otas-fcgi_$(VERSION)_amd64.deb
LINTIAN  ?= lintian
deb: deps
	@$(MAKE) --no-print-directory $(DEB)

$(DEB): $(shell find $(DEB_SRC) -type f)
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	test "$$v" = "$(VERSION)" || { echo "make deb: debian/changelog \
	says $$v, VERSION says $(VERSION)" >&2; exit 1; }
	rm -rf $(BUILD)/deb/src
	mkdir -p $(BUILD)/deb/src/otas-fcgi-$(VERSION)
	cp -a --parents $(DEB_SRC) $(BUILD)/deb/src/otas-fcgi-$(VERSION)/
	cd $(BUILD)/deb/src/otas-fcgi-$(VERSION) && \
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u PREFIX \
	    -u DESTDIR dpkg-buildpackage -b -uc -us -j2 >../build.log 2>&1 || \
	    { tail -n 40 ../build.log >&2; exit 1; }
	mv $(BUILD)/deb/src/otas-fcgi_$(VERSION)_amd64.deb $@
	$(LINTIAN) --fail-on error $@

clean:
	rm -rf $(BUILD)
