# The two commands a newcomer needs: `make run` and `make test`.
# Both install Debian/npm dependencies first (scripts/setup.sh is idempotent).
BUILD ?= build
ASAN_BUILD ?= build-asan
CONFIG ?=
JOBS ?= $(shell nproc)
# The Node.js that scripts/setup.sh --tests installs for the tests and benches.
NODE ?= $(firstword $(wildcard /opt/parley/node/bin/node) node)

, := ,
.PHONY: all setup setup-tests build run test test-fast asan fuzz bench install clean

all: build

setup:
	./scripts/setup.sh

setup-tests:
	./scripts/setup.sh --tests

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: setup build
	./$(BUILD)/parley serve $(if $(CONFIG),--config $(CONFIG),)

# Everything: the suite on the normal build, then again under ASan+UBSan.
test: setup-tests build asan
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2
	FUZZ_SECONDS=10 ./scripts/fuzz.sh

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j 2

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

bench: setup-tests build
	$(NODE) bench/latency.mjs --parley ./$(BUILD)/parley
	$(NODE) bench/latency.mjs --parley ./$(BUILD)/parley --barge 0 --set llm.speculative_start=false
	$(NODE) bench/endpointing.mjs --parley ./$(BUILD)/parley
	$(NODE) bench/barge_in_tradeoff.mjs --parley ./$(BUILD)/parley
	$(if $(wildcard ../shared/data/silero-v6.2.0-ggml.bin),$(NODE) bench/barge_in_tradeoff.mjs --parley ./$(BUILD)/parley --min-speech 40$(,)60$(,)100 --set vad.engine=webrtc --set vad.silero_model=$(abspath ../shared/data/silero-v6.2.0-ggml.bin),)
	$(NODE) bench/echo.mjs --parley ./$(BUILD)/parley
	$(NODE) bench/load.mjs --parley ./$(BUILD)/parley --sessions 50 --turns 3
	./$(BUILD)/bench_wer $(if $(wildcard ../shared/data/jfk.wav),--jfk ../shared/data/jfk.wav,)
	$(if $(wildcard ../shared/data/jfk.wav),./$(BUILD)/bench_opus_cost ../shared/data/jfk.wav,)

# Installs the binary, web client, parley(1), /etc/parley/parley.yaml (kept
# if there), the systemd unit and its user (docs/install.md).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
install: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DPARLEY_SYSCONFDIR=$(SYSCONFDIR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# Every parser of outside input under libFuzzer, FUZZ_SECONDS each (60).
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
