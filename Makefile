# Pixzoo. `make run` serves the app; `make test` runs every test. Both install what they need first, so
# they work from a fresh clone on a machine that only reaches the package registries.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

CARGO_LEPTOS_VERSION := 0.3.10
# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock (pinned with
# `=` in Cargo.toml), or cargo-leptos tries to download one.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# cargo-leptos builds with these flags and compile-time variables; cargo test, clippy and the benches
# use the same ones so they reuse its compiled dependencies instead of building everything again.
DEV_ENV := RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=pixzoo

.PHONY: run test tools toolchain nasm chromium postgres build-dev build-release unit lint clients e2e bench bench-catalog bench-local bench-transforms bench-serve cluster bundle-size fuzz soak fmt clean

## run: build in release mode and serve on http://127.0.0.1:3000 (data in ./data, no keys needed)
run: tools
	cargo leptos build --release --precompress
	$(TARGET_DIR)/release/pixzoo

## test: formatting, the architecture check (the map's paths and names exist, no import cycle, no
## forbidden direction), the release build `make run` uses, with its WASM bundle held to 400 KB gzipped,
## unit + integration tests, clippy for both builds, real API clients and browser tests in Chromium
## against that release build, and `make cluster` started once and smoke-tested.
## Everything is compiled once, in release: the tests (`cargo test --release`) and clippy reuse the
## release build's compiled dependencies (see `[profile.bench]` in Cargo.toml), so a fresh machine
## compiles the app's dependencies once, not once for debug and again for release.
test: tools
	cargo fmt --all -- --check
	python3 scripts/check-architecture.py
	$(MAKE) --no-print-directory build-release unit lint clients e2e
	scripts/bundle-size.sh
	CLUSTER_SMOKE=1 CLUSTER_PORT=free scripts/cluster.sh

tools: toolchain nasm node_modules/.installed end2end/node_modules/.installed .venv/.installed chromium postgres

toolchain:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@[ "$$(cargo leptos --version 2>/dev/null)" = "cargo-leptos $(CARGO_LEPTOS_VERSION)" ] \
		|| cargo install cargo-leptos --locked --version $(CARGO_LEPTOS_VERSION)
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] \
		|| CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

# Tailwind CSS and wasm-opt (npm's binaryen: Debian's is too old and breaks the bundle). `npm install`
# rather than `npm ci`: npm 11 leaves other platforms' optional packages out of the lockfile and `npm ci`
# then refuses it; `npm install` follows the same lockfile without rewriting it.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund
	touch $@

end2end/node_modules/.installed: end2end/package.json end2end/package-lock.json
	cd end2end && npm install --no-audit --no-fund
	touch $@

# The real Python clients the API tests drive (openai, an OpenAPI validator), in a virtualenv.
.venv/.installed: tests/clients/requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	touch $@

# libjpeg-turbo's SIMD code (mozjpeg-sys) is assembled with NASM, from Debian.
nasm:
	@command -v nasm >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends nasm; }

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

# PostgreSQL for the shared-catalog and cluster tests (scripts/services.sh starts throwaway servers; SeaweedFS,
# the S3-compatible one, comes from PyPI into .venv). policy-rc.d keeps Debian from starting its own cluster.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		added=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; \
			$(SUDO) chmod +x /usr/sbin/policy-rc.d; added=1; }; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends postgresql-15; \
		[ -z "$$added" ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; }

build-dev:
	cargo leptos build

# What `make run` builds, and what `make test` tests.
build-release:
	cargo leptos build --release --precompress

# Beside a throwaway PostgreSQL and SeaweedFS (scripts/with-services.sh), for the shared-storage tests.
# `--release`: the dependencies as `make run` compiles them (see `[profile.bench]` in Cargo.toml).
unit:
	$(DEV_ENV) scripts/with-services.sh cargo test --release --features ssr

lint:
	$(DEV_ENV) cargo clippy --release --features ssr --all-targets -- -D warnings
	$(DEV_ENV) cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

# The official openai Python client and an OpenAPI validator against the release server.
clients:
	scripts/client-tests.sh $(abspath $(TARGET_DIR))/release/pixzoo $(CURDIR)/.venv/bin/python

# Two release servers on free ports with fresh data directories (the second with an API key, for the
# sign-in tests), driven by Playwright in Debian's Chromium.
e2e:
	free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }; \
	port=$$(free_port); auth_port=$$(free_port); \
	data=$$(mktemp -d); auth_data=$$(mktemp -d); trap 'rm -rf "$$data" "$$auth_data"' EXIT; \
	cd end2end && E2E_PORT=$$port E2E_DATA_DIR=$$data E2E_AUTH_PORT=$$auth_port E2E_AUTH_DATA_DIR=$$auth_data \
		E2E_SERVER_BIN=$(abspath $(TARGET_DIR))/release/pixzoo E2E_SITE_ROOT=$(CURDIR)/target/site \
		npx playwright test

## fuzz: every cargo-fuzz target for FUZZ_SECONDS each (default 60) from the corpus in fuzz/corpus. cargo-fuzz
## needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain use them. New inputs go to a temp dir.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := placeholder_url transform_options image_decode provider_responses
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	for target in $(FUZZ_TARGETS); do \
		found=$$(mktemp -d); \
		(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$target $$found corpus/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -timeout=10) || exit 1; \
		rm -rf "$$found"; \
	done

## soak: the release server under wrk for SOAK_SECONDS (default 60): zero 5xx, RSS sampled, as a table
SOAK_SECONDS ?= 60
BENCH_SECONDS ?= 5
soak:
	cargo leptos build --release --precompress
	scripts/soak.sh $(SOAK_SECONDS)

## bench: the builtin renderer's criterion benchmark (release build)
bench:
	$(DEV_ENV) cargo bench --profile release --features ssr --bench builtin_render

## bundle-size: the release WASM, JS and CSS as users download them (gzipped)
bundle-size:
	cargo leptos build --release --precompress
	scripts/bundle-size.sh

## bench-catalog: both catalogs filled with BENCH_CATALOG_ROWS images (default a million), the gallery's
## queries timed on each (PostgreSQL started for it by scripts/with-services.sh)
bench-catalog: postgres .venv/.installed
	$(DEV_ENV) scripts/with-services.sh cargo bench --profile release --features ssr --bench catalog

## bench-local: the local diffusion models' stages (text encoder, UNet step, VAE and TAESD decodes) beside
## PyTorch diffusers on the same threads and random full-size weights, with ratios
TORCH_VENV ?= $(HOME)/.cache/pixzoo/torch-venv
BENCH_REPEATS ?= 2
bench-local: $(TORCH_VENV)/.installed
	bin=$$($(DEV_ENV) cargo bench --profile release --features ssr --bench local --no-run 2>&1 \
		| sed -n 's/.*Executable .*(\(.*\))$$/\1/p'); \
	$(TORCH_VENV)/bin/python scripts/bench-local.py "$$bin" $(BENCH_REPEATS)

# PyTorch, diffusers and transformers (several GB): the reference for bench-local and for
# scripts/local-fixtures.py, outside the repository.
$(TORCH_VENV)/.installed:
	python3 -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check torch diffusers transformers safetensors accelerate
	touch $@

## bench-transforms: the transform pipeline against npm sharp (libvips), side by side, with ratios
bench-transforms:
	scripts/bench-transforms.sh

## bench-serve: the release server against nginx over the same stored bytes, under wrk, with ratios
bench-serve:
	cargo leptos build --release --precompress
	scripts/bench-serve.sh $(BENCH_SECONDS)

## cluster: PostgreSQL, SeaweedFS, INSTANCES (3) release instances and nginx in front (deploy/nginx.conf),
## all on loopback; prints the URL (CLUSTER_PORT, default 8080). Ctrl-C stops everything it started.
cluster: tools
	cargo leptos build --release --precompress
	scripts/cluster.sh

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf node_modules end2end/node_modules target/site .venv
