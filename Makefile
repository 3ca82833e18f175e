# heed — the two commands: `make run` and `make test`.
# Everything else here serves those two.

JOBS        ?= 2
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
GCC_BUILD   ?= build-release-gcc
CLANG_BUILD ?= build-release-clang
STATIC_BUILD ?= build-static
# Seconds each fuzz target runs in `make test` (12 targets, $(JOBS) at a
# time); longer campaigns: scripts/fuzz-campaign.sh, docs/fuzzing.md.
FUZZ_SECONDS ?= 30
# Warnings are errors here and in CI; CMakeLists.txt leaves them off for
# packagers (HEED_WERROR).
WERROR      ?= -DHEED_WERROR=ON
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps build static install run test test-release test-release-gcc test-release-clang test-asan \
        test-fuzz lint format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) $(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# One fully static file, $(STATIC_BUILD)/heed, for any container image
# (docs/static.md): glibc and OpenSSL linked in, no libcurl (http has a
# client of its own, https says "not in this build"). The linker's warnings about getaddrinfo and
# dlopen in the libraries' unused paths are expected; the build fails on
# anything else.
static: deps
	@cmake -S . -B $(STATIC_BUILD) -DHEED_STATIC=ON -DCMAKE_BUILD_TYPE=MinSizeRel $(WERROR) >/dev/null
	@rc=0; cmake --build $(STATIC_BUILD) -j$(JOBS) --target heed >$(STATIC_BUILD)/build.log 2>&1 || rc=$$?; \
	  grep -v -e 'in statically linked applications requires at runtime' -e ': in function' -e '^g\?make\[' -e '^\[' \
	    $(STATIC_BUILD)/build.log || true; \
	  [ $$rc -eq 0 ] && echo "make static: $(STATIC_BUILD)/heed, $$(stat -c %s $(STATIC_BUILD)/heed) bytes"; \
	  exit $$rc

# Installs what `cmake --install` installs (cmake/install.cmake): the
# binary, man pages, bash and zsh completion, the systemd unit and the
# example config. PREFIX (default /usr/local) and DESTDIR as usual:
#   make install PREFIX=/usr DESTDIR=/tmp/stage
PREFIX      ?= /usr/local
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# The agent on its embedded default: a temporary data dir, loopback :8500,
# a few sample checks. Ctrl-C stops it. scripts/demo.sh shows `heed wait`.
# RUN_ARGS: more flags for the agent (e.g. --bind 127.0.0.1:0, --log-format json).
# Quiet: the build's output is shown only when it fails (it is kept in
# $(BUILD)/make-run.log), so that the screen holds the agent's own lines.
run: deps
	@mkdir -p $(BUILD); log=$(BUILD)/make-run.log; \
	  if ! { cmake -S . -B $(BUILD) $(CMAKE_FLAGS) $(WERROR) && \
	         cmake --build $(BUILD) -j$(JOBS); } >$$log 2>&1; then \
	    cat $$log; echo "make run: the build failed (above; also in $$log)" >&2; exit 1; \
	  fi
	@exec $(BUILD)/heed agent --dev $(RUN_ARGS)

lint:
	@scripts/lint.sh

# ctest in build directory $(1), then the summary of suite $(2) (counts,
# and every skip checked against README.md's list of skips expected on this
# machine; see scripts/test-summary.py); $(3): more ctest arguments, $(4):
# environment. The summary line is kept for the end of `make test`.
define ctest_suite
	@rc=0; $(4) ctest --test-dir $(1) --output-on-failure -j$(JOBS) \
	  --output-junit $(CURDIR)/$(1)/junit.xml $(3) || rc=$$?; \
	  scripts/test-summary.py $(2) $(1)/junit.xml > $(1)/test-summary.txt || rc=1; \
	  cat $(1)/test-summary.txt; exit $$rc
endef

test: deps lint test-release test-release-gcc test-release-clang test-asan test-fuzz
	@echo "make test: summary"
	@for b in $(BUILD) $(GCC_BUILD) $(CLANG_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD); do \
	  head -n 1 $$b/test-summary.txt; done
	@echo "make test: all suites passed"

# The static binary is built here too (about 40 s on 2 cores) for
# tests/integration/test_static_chroot.py, which runs it in a bare chroot.
test-release: deps static
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) $(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	$(call ctest_suite,$(BUILD),release,,HEED_STATIC_BIN=$(CURDIR)/$(STATIC_BUILD)/heed)

# Release builds as a packager makes them (-O3, NDEBUG; gcc also with
# _FORTIFY_SOURCE=2, as dpkg-buildflags sets it), with each compiler:
# built with warnings as errors, and the unit tests run.
test-release-gcc: deps
	@cmake -S . -B $(GCC_BUILD) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_FLAGS=-D_FORTIFY_SOURCE=2 $(WERROR) >/dev/null
	@cmake --build $(GCC_BUILD) -j$(JOBS)
	$(call ctest_suite,$(GCC_BUILD),release-gcc,-L unit)

test-release-clang: deps
	@cmake -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release \
	  $(WERROR) >/dev/null
	@cmake --build $(CLANG_BUILD) -j$(JOBS)
	$(call ctest_suite,$(CLANG_BUILD),release-clang,-L unit)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHEED_SANITIZE=ON $(WERROR) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	$(call ctest_suite,$(ASAN_BUILD),asan,,$(ASAN_ENV))

test-fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DHEED_FUZZ=ON -DHEED_FUZZ_SECONDS=$(FUZZ_SECONDS) $(WERROR) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	$(call ctest_suite,$(FUZZ_BUILD),fuzz)

format:
	@clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(GCC_BUILD) $(CLANG_BUILD) $(STATIC_BUILD)
