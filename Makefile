# nubo: the README's two commands are `make run` and `make test`.
#   make run    installs what is missing, builds the release binary and starts nubo on :4566
#   make test   installs what is missing, builds the debug (ASan+UBSan) tree and runs every test
#   make build  builds the release binary only (scripts and benchmarks use it)
#   make bench  builds the release binary and runs the benchmarks (slow; not part of make test)
#   make soak   builds the release binary and runs the slow soak tests (tests/soak)

HOST ?= 127.0.0.1
PORT ?= 4566
DATA_DIR ?= ./.nubo
JOBS ?= 2
PYTHON ?= /usr/bin/python3

.PHONY: deps build debug run test unit e2e bench soak format clean

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

run: build
	build/release/nubo serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

unit: debug
	@ctest --preset debug -j $(JOBS)

e2e: debug
	@NUBO_BINARY=$(CURDIR)/build/debug/nubo $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e tests/runtimes

test: debug
	@ctest --preset debug -j $(JOBS)
	@NUBO_BINARY=$(CURDIR)/build/debug/nubo $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e tests/runtimes

bench: build
	@bench/run

soak: build
	@NUBO_BINARY=$(CURDIR)/build/release/nubo $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/soak

format:
	@git ls-files '*.h' '*.c' '*.cc' | xargs clang-format -i

clean:
	rm -rf build
