# Help desk ticket pipeline. `make run` and `make test` are the two commands; see README.md.
#
# Layout of outputs: $(O)/gen (protoc-c output), $(O)/obj, $(O)/lib, $(O)/bin.
# `make test` builds into build/san with AddressSanitizer and UBSan; `make` and `make run`
# build into build/rel.

SHELL      := /bin/bash
CC         ?= cc
SAN        ?= 0
ifeq ($(SAN),1)
O          ?= build/san
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        := -O1 -g
else
O          ?= build/rel
SANFLAGS   :=
OPT        := -O2 -g
endif

PKGS       := libzmq libprotobuf-c yaml-0.1 libpq libcurl libmicrohttpd
WARN       := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS     := -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -MMD -MP \
              -Icommon/include -I$(O)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS    := $(SANFLAGS)
LDLIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

PROTOS     := $(wildcard proto/helpdesk/v1/*.proto)
GEN_C      := $(PROTOS:proto/%.proto=$(O)/gen/%.pb-c.c)
GEN_H      := $(GEN_C:.c=.h)

COMMON_SRC := $(wildcard common/src/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/obj/%.o) $(GEN_C:$(O)/gen/%.c=$(O)/obj/gen/%.o)
LIBHD      := $(O)/lib/libhd.a

# One folder per executable under services/; its main.c holds the loop, the rest is a library
# that unit tests link too.
SERVICES   := $(patsubst services/%/main.c,%,$(wildcard services/*/main.c))
bin_name    = $(if $(filter cli,$(1)),helpdesk,hd-$(1))
BINS       := $(foreach s,$(SERVICES),$(O)/bin/$(call bin_name,$(s)))
svc_lib     = $(O)/lib/libsvc-$(1).a
svc_objs    = $(patsubst %.c,$(O)/obj/%.o,$(filter-out %/main.c,$(wildcard services/$(1)/*.c)))
SVC_LIBS   := $(foreach s,$(SERVICES),$(call svc_lib,$(s)))

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(O)/obj/%.o)
E2E_SRC    := $(wildcard tests/e2e/*.c)
E2E_BINS   := $(E2E_SRC:tests/e2e/%.c=$(O)/tests/e2e_%)

.PHONY: all deps deps-check run test lint format clean bin tests
.DEFAULT_GOAL := all
.SECONDARY:

# deps-check runs first and alone: on a fresh machine pkg-config only finds the libraries
# after it, so the build itself runs in a sub-make that reads the flags anew.
all: deps-check
	@$(MAKE) --no-print-directory bin

bin: $(BINS)

tests: $(UNIT_BINS) $(E2E_BINS)

deps:
	@deploy/local/deps.sh

deps-check:
	@deploy/local/deps.sh --quiet

$(O)/gen/%.pb-c.c $(O)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(O)/gen
	protoc-c --proto_path=proto --c_out=$(O)/gen $<

$(O)/obj/gen/%.o: $(O)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 $(OPT) $(SANFLAGS) -I$(O)/gen -c $< -o $@

$(O)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBHD): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define service_rules
$(call svc_lib,$(1)): $(call svc_objs,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $(call svc_objs,$(1))
$(O)/bin/$(call bin_name,$(1)): $(O)/obj/services/$(1)/main.o $(call svc_lib,$(1)) $(LIBHD)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$^ $(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

$(O)/tests/%: tests/unit/%.c $(SVC_LIBS) $(LIBHD) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SVC_LIBS) $(LIBHD) $(LDLIBS) -lcmocka

$(O)/tests/e2e_%: tests/e2e/%.c $(TEST_SUPPORT_OBJ) $(LIBHD) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(LIBHD) $(LDLIBS) -lcmocka

$(O)/tests/bench_%: tests/bench/%.c $(TEST_SUPPORT_OBJ) $(LIBHD) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(LIBHD) $(LDLIBS) -lcmocka

# The benchmark (not part of `make test`): release build, its own durable PostgreSQL, the
# pipeline at 1, 2 and 4 worker replicas, and the PostgreSQL baseline; a table and
# build/bench/results.json. BENCH_CONTACTS=N to change the load (see tests/bench/bench.c).
# Then the escalation timer at a million open tickets (tests/bench/timer.sh; BENCH_TIMER=0
# skips it): build/bench/timer.json.
.PHONY: bench
bench: deps-check
	@$(MAKE) --no-print-directory SAN=0 O=build/rel bin build/rel/tests/bench_bench \
	  build/rel/tests/bench_timer build/rel/tests/bench_notifier
	@tests/bench/bench.sh build/rel

# The embedded default: a private PostgreSQL under var/ and every service, until Ctrl-C.
run: deps-check
	@$(MAKE) --no-print-directory bin
	@deploy/local/run.sh $(O)/bin

# Builds with sanitizers, starts its own PostgreSQL and services, runs every test, stops them,
# and ends with one line "N passed, N failed".
test: deps-check
	@$(MAKE) --no-print-directory SAN=1 bin tests
	@tests/run.sh build/san

lint: deps-check lint-deploy $(GEN_H)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem -Icommon/include common/src services
	clang-tidy --quiet $(COMMON_SRC) $(wildcard services/*/*.c) -- $(filter-out -MMD -MP,$(CFLAGS))

# The container image, compose file and Kubernetes manifests (tests/lint/deploy-lint.sh): strict
# Kubernetes schema checks and the compose spec, with Node.js packages put in build/lint-node.
.PHONY: lint-deploy
lint-deploy:
	@deploy/local/deps.sh --quiet --lint
	@tests/lint/deploy-lint.sh

format:
	clang-format -i $(COMMON_SRC) $(wildcard common/include/hd/*.h services/*/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build

# libFuzzer targets (tests/fuzz/), built with clang from the sources into build/fuzz; FUZZ_SECONDS
# (default 30) each. `make test` runs them too, 15 s each (tests/run.sh, HD_TEST_FUZZ_SECONDS).
.PHONY: fuzz
fuzz: deps-check
	@tests/fuzz/run.sh

-include $(shell find build -name '*.d' 2>/dev/null)
