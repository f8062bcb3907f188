# etvk: top-level build and test entry points. `make help` lists the targets.
#
# Assumes a Rust toolchain (cargo) on PATH. Everything else comes from `make deps`: Debian 12
# packages (apt, as root or through sudo) and the executorch wheel in .venv.

SHELL := /bin/bash
.DEFAULT_GOAL := build
# cargo and cmake parallelize internally; keep the targets themselves in order.
.NOTPARALLEL:

CARGO ?= cargo
VENV ?= .venv
PYTHON := $(VENV)/bin/python
EXECUTORCH_VERSION := 1.5.1
BUILD_DIR := build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# VENV may be a path outside the clone (e.g. a venv cached under ~/.cache shared by clones).
VENV_DIR = $(abspath $(VENV))
# Evaluated on use (not cached), so it sees a wheel that `make deps` just installed.
ET_ROOT = $(shell ls -d $(VENV_DIR)/lib/python3*/site-packages/executorch 2>/dev/null | head -n1)
# What the Python tests need besides the wheel (torch, numpy, what exir imports): pinned.
TEST_REQUIREMENTS := tests/python/requirements.txt
# 1: a skipped `make test` step fails the run (.ci/run sets it: CI installs everything).
TEST_FAIL_ON_SKIP ?= 0

APT_PACKAGES := libvulkan1 libvulkan-dev mesa-vulkan-drivers glslc vulkan-validationlayers \
                vulkan-tools cmake g++ make pkg-config binutils ca-certificates python3 python3-venv

# Khronos validation on, synchronization validation included (it checks the barriers etvk
# derives from hazards), and etvk fails init/execute on any validation error it records.
VALIDATION_ENV := VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation ETVK_VALIDATION=1 \
  VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT

EXAMPLE := tests/fixtures/example
PLUGIN := $(BUILD_DIR)/libetvk_executorch.so
RUNNER := $(BUILD_DIR)/etvk_run

.PHONY: help deps apt-deps venv test-deps fuzz-deps build install run test test-official check-symbols \
        header schema fixtures fmt clippy clean bench-memory bench-speed bench-llm test-models fuzz

PREFIX ?= /usr/local

help:
	@echo "make deps     install missing Debian packages and the executorch wheel (.venv)"
	@echo "make build    cargo build --release + cmake: $(PLUGIN), $(RUNNER)"
	@echo "make install PREFIX=DIR   build, then install etvk.h, the plugin, the static libraries"
	@echo "              and the CMake package (find_package(etvk)) under DIR (default /usr/local)"
	@echo "make run      deps + build, then run the example fixture on Vulkan"
	@echo "make test     deps + test-deps + build, then every test step under the Khronos"
	@echo "              validation layer; the last line counts passed/failed/skipped steps"
	@echo "make test-deps     pip install $(TEST_REQUIREMENTS) into $(VENV) when missing"
	@echo "make fuzz-deps     cargo install cargo-fuzz when the nightly toolchain is there"
	@echo "make fuzz     each fuzz target for FUZZ_SECONDS (default 600) on every core (docs/robustness.md)"
	@echo "make test-official the wheel's test_vulkan_delegate.py on etvk (one process per test)"
	@echo "make header   regenerate include/etvk.h from src/capi.rs (cbindgen)"
	@echo "make schema   regenerate src/format/schema_generated.rs from schema/schema.fbs"
	@echo "make fixtures re-export tests/fixtures (needs torch in .venv)"
	@echo "make test-models   mobilenet_v2, resnet18, a ViT, a Llama decoder and a KV-cache step vs PyTorch"
	@echo "make bench-memory  W/A/peaks/RSS (MB), quick: mobilenet_v2 + a transformer, lazy/legacy;"
	@echo "              BENCH_MEMORY_ARGS=--full: + resnet18, every configuration (docs/memory.md)"
	@echo "make bench-speed   median execute and per-op GPU time of models and single ops (docs/speed.md)"
	@echo "make bench-llm     Llama-3.2-1B-shaped 4-bit program: load, W/A/peak, prefill/decode tokens/s"
	@echo "make fmt | clippy | clean"

# ---------------------------------------------------------------------------------------------
# Dependencies (idempotent)

deps: apt-deps venv

apt-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "deps: Debian packages present"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  echo "deps: installing$$missing"; \
	  $$sudo apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; \
	fi

venv:
	@if [ -n "$(ET_ROOT)" ] && [ -e "$(ET_ROOT)/lib/libexecutorch.so" ]; then \
	  echo "deps: executorch wheel present ($(ET_ROOT))"; \
	else \
	  set -e; \
	  [ -x "$(PYTHON)" ] || python3 -m venv "$(VENV)"; \
	  echo "deps: pip install executorch==$(EXECUTORCH_VERSION) --no-deps"; \
	  "$(PYTHON)" -m pip install --quiet "executorch==$(EXECUTORCH_VERSION)" --no-deps; \
	fi

# The pins of $(TEST_REQUIREMENTS), installed (with their dependencies) unless all are there.
test-deps: venv
	@if "$(PYTHON)" scripts/requirements_met.py $(TEST_REQUIREMENTS); then \
	  echo "deps: test packages present ($(TEST_REQUIREMENTS))"; \
	else \
	  echo "deps: pip install -r $(TEST_REQUIREMENTS)"; \
	  "$(PYTHON)" -m pip install --quiet -r $(TEST_REQUIREMENTS); \
	fi

# cargo-fuzz for the fuzz step of `make test` (fuzz/smoke.sh), when nightly Rust is installed
# (the step is skipped without it).
fuzz-deps:
	@if cargo +nightly --version >/dev/null 2>&1 && ! cargo +nightly fuzz --version >/dev/null 2>&1; then \
	  echo "deps: cargo install cargo-fuzz --locked"; $(CARGO) install cargo-fuzz --locked; \
	fi

# ---------------------------------------------------------------------------------------------
# Build

build:
	@if [ -z "$(ET_ROOT)" ]; then echo "build: no executorch wheel in $(VENV); run \`make deps\`" >&2; exit 1; fi
	$(CARGO) build --release
	@# A copy: `cargo test` rebuilds target/release/libetvk.a with the test-support feature
	@# (the tests' dev-dependency on etvk), which must not reach the plugin or an install.
	@mkdir -p $(BUILD_DIR) && cp -p target/release/libetvk.a $(BUILD_DIR)/libetvk.a
	cmake -S cpp_shim -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release \
	  -DEXECUTORCH_ROOT="$(ET_ROOT)" -DETVK_STATICLIB="$(CURDIR)/$(BUILD_DIR)/libetvk.a"
	cmake --build $(BUILD_DIR) -j $(JOBS) -- --no-print-directory
	@echo "build: $(PLUGIN) $(RUNNER) $(BUILD_DIR)/etvk_capi_smoke"

install: build
	cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# ---------------------------------------------------------------------------------------------
# Run and test

run: deps build
	@echo "== Vulkan devices (vulkaninfo --summary):"
	@vulkaninfo --summary 2>/dev/null | grep -E "^\s*(deviceName|deviceType|driverName)" \
	  || echo "   (vulkaninfo found no device)"
	@echo "== $(RUNNER) $(EXAMPLE)/model.pte (ETVK_LOG=1 makes etvk name the device it picked)"
	ETVK_LOG=1 $(RUNNER) $(EXAMPLE)/model.pte \
	  --inputs $$(ls $(EXAMPLE)/input[0-9]*.npy | sort -V) \
	  --expected $$(ls $(EXAMPLE)/expected[0-9]*.npy | sort -V) \
	  --iters 10 --warmup 2

# Every step runs even when an earlier one fails. A step exiting 77 was skipped: reported as
# such, never as passed (and a failure with TEST_FAIL_ON_SKIP=1). The last line counts them.
test: deps test-deps fuzz-deps build
	@export $(VALIDATION_ENV); passed=0; failed=""; skipped=""; start=$$SECONDS; \
	step() { \
	  name="$$1"; shift; echo "== $$name"; echo "+ $$*"; t0=$$SECONDS; "$$@"; rc=$$?; \
	  if [ $$rc = 0 ]; then passed=$$((passed + 1)); r="passed"; \
	  elif [ $$rc = 77 ]; then skipped="$$skipped\n   $$name"; r="SKIPPED"; \
	  else failed="$$failed\n   $$name"; r="FAILED (exit $$rc)"; fi; \
	  echo "== $$r: $$name ($$((SECONDS - t0)) s)"; \
	}; \
	step "cargo test (validation on)" $(CARGO) test --release --no-fail-fast; \
	step "kernels again the way GPUs run them (storage-buffer reads, small tiles, split reductions)" \
	  env ETVK_STORAGE=buffer ETVK_SPLIT_REDUCTION=always $(CARGO) test --release --no-fail-fast \
	  --test ops_conv --test ops_elementwise4 --test ops_matmul --test ops_quantized4 --test ops_quantized8 \
	  --test ops_reduce --test ops_norm --test ops_packed --test cat_slots --test fixtures_rust \
	  --test attention_chain --test gemm_epilogue --test conv_tilings --test ops_attention; \
	step "CPU-device kernels with storage-buffer reads (the builds devices without texel reads take)" \
	  env ETVK_STORAGE=buffer $(CARGO) test --release --no-fail-fast \
	  --test ops_attention --test attention_chain --test ops_norm --test conv_tilings; \
	step "fuzz targets, $${ETVK_FUZZ_SECONDS:-20} s each: parser, init before the GPU, mutated graphs (fuzz/smoke.sh)" \
	  fuzz/smoke.sh; \
	step "exported symbols of the plugin" $(MAKE) --no-print-directory check-symbols; \
	step "C ABI smoke test (C99)" $(BUILD_DIR)/etvk_capi_smoke; \
	step "runner over tests/fixtures (validation on)" scripts/test_runner.sh; \
	step "corrupted .pte files through the runner: an error exit, never a signal (tests/robustness_pte.py)" \
	  $(PYTHON) tests/robustness_pte.py --runner $(RUNNER); \
	step "failure messages and invented inputs (tests/messages.sh)" tests/messages.sh; \
	step "README's C++ program against an installed tree (tests/cpp_example.sh)" \
	  tests/cpp_example.sh; \
	step "Python bindings (validation on)" env ETVK_PLUGIN="$(CURDIR)/$(PLUGIN)" \
	  $(PYTHON) tests/python/test_pybindings.py; \
	step "LLM programs from export_llama: fp32, fp16, 4w, 8da4w, prefill + 4 decode steps (validation on)" \
	  $(PYTHON) tests/llm_fixtures/check_llm_fixtures.py --require-all --plugin $(PLUGIN); \
	step "pip install . then import etvk (validation on)" \
	  tests/python/test_package.sh "$(VENV_DIR)/bin/python"; \
	step "ExecuTorch's test_vulkan_delegate.py (validation on)" \
	  $(PYTHON) scripts/test_official.py --plugin $(PLUGIN) --jobs $(JOBS); \
	n_failed=$$(echo -en "$$failed" | grep -c .); n_skipped=$$(echo -en "$$skipped" | grep -c .); \
	[ -n "$$failed" ] && echo -e "== make test: FAILED steps:$$failed"; \
	[ -n "$$skipped" ] && echo -e "== make test: SKIPPED steps:$$skipped"; \
	echo "== make test: $$passed passed, $$n_failed failed, $$n_skipped skipped ($$((SECONDS - start)) s)"; \
	[ -z "$$failed" ] && { [ -z "$$skipped" ] || [ "$(TEST_FAIL_ON_SKIP)" != 1 ]; }

# ExecuTorch's own Vulkan delegate tests from the wheel, against the plugin (also a step of
# `make test`). One forked process per test; logs in $(BUILD_DIR)/test-official/.
OFFICIAL_ARGS ?=
test-official: deps test-deps build
	$(PYTHON) scripts/test_official.py --plugin $(PLUGIN) --jobs $(JOBS) $(OFFICIAL_ARGS)

# The plugin must export only the etvk_* C ABI (the cdylib is checked by tests/symbols.rs).
check-symbols:
	@extra="$$(nm -D --defined-only $(PLUGIN) | awk '{print $$3}' | grep -v '^etvk_' || true)"; \
	if [ -n "$$extra" ]; then echo "$(PLUGIN) exports non-etvk symbols:"; echo "$$extra"; exit 1; fi; \
	echo "$(PLUGIN): only etvk_* exported"

# ---------------------------------------------------------------------------------------------
# Generated files and housekeeping

header:
	ETVK_BLESS_HEADER=1 $(CARGO) test --release --test header

schema:
	schema/regenerate.sh

fixtures:
	$(PYTHON) tests/fixtures/export_fixtures.py

fmt:
	$(CARGO) fmt

clippy:
	$(CARGO) clippy --release --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)

# Memory benchmark (docs/memory.md), sizes in MB (10^6 bytes): exports the models into
# bench/out/ (git-ignored) with the VulkanPartitioner, runs each load configuration in a fresh
# process, prints progress and each model's row as it finishes, then the tables. Quick by
# default (mobilenet_v2 + a transformer, lazy and legacy: a few minutes); the full run (+
# resnet18, every configuration: about half an hour on lavapipe) refreshes the doc:
#   make bench-memory BENCH_MEMORY_ARGS="--full --update-doc docs/memory.md"
# Needs torch and torchvision in .venv.
BENCH_MEMORY_ARGS ?=
bench-memory: build
	@$(PYTHON) -c "import torch, torchvision" 2>/dev/null || { \
	  echo "bench-memory: needs torch and torchvision in $(VENV):" \
	       "$(PYTHON) -m pip install torchvision==0.29.1 --no-deps && $(PYTHON) -m pip install pillow" >&2; \
	  exit 1; }
	$(PYTHON) bench/memory.py $(BENCH_MEMORY_ARGS)

# Speed benchmark: whole models and single convolutions / linears, median execute, per-op GPU
# time and GFLOP/s (bench/speed.py; BENCH_SPEED_ARGS="--reference OTHER_PLUGIN.so" times
# another VulkanBackend plugin on the same files). Needs torch + torchvision to export.
BENCH_SPEED_ARGS ?=
bench-speed: build
	$(PYTHON) bench/speed.py $(BENCH_SPEED_ARGS)

# Token generation with a Llama-3.2-1B-shaped 4-bit program from export_llama (bench/llm.py:
# exported on demand into bench/out/llm, about 17 minutes and 8.4 GB the first time): load,
# W / A / peak, RSS, prefill and decode tokens/s, lazy and legacy order.
# BENCH_LLM_ARGS="--model twin --profile" runs the 1-layer twin and splits the GPU time.
BENCH_LLM_ARGS ?=
bench-llm: build
	$(PYTHON) bench/llm.py $(BENCH_LLM_ARGS)

# Real models with random weights, exported on demand into bench/out/models (git-ignored) and
# compared with PyTorch eager (rtol 1e-3, atol 1e-3 of each output's largest magnitude; every
# comparison is first shown to fail on zeros). Needs torch + torchvision.
test-models: build
	@$(PYTHON) -c "import torch, torchvision" 2>/dev/null || { \
	  echo "test-models: needs torch and torchvision in $(VENV)" >&2; exit 1; }
	$(PYTHON) tests/models/run_models.py

# Longer fuzzing (docs/robustness.md): every target for FUZZ_SECONDS, one process per core.
FUZZ_SECONDS ?= 600
fuzz:
	fuzz/seed.sh
	for t in parse_blob dry_run mutate_graph; do \
	  cargo +nightly fuzz run -O $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -timeout=10 -fork=$(JOBS) -print_final_stats=1 || exit 1; \
	done
