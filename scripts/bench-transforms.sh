#!/usr/bin/env bash
# Pixzoo's transform pipeline against npm sharp (libvips), side by side in one run, single-threaded both,
# on the same generated corpus (1024² and 2048², PNG and JPEG). Prints medians, output bytes and the
# ratio Pixzoo/sharp per operation (below 1 means Pixzoo is faster).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${CORPUS_DIR:-$PWD/target/bench-corpus}"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

(cd bench/sharp && npm install --no-audit --no-fund --silent)
# Release build; the pipeline is single-threaded (fast_image_resize without rayon, rav1e with one thread).
RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=pixzoo cargo bench --profile release --features ssr --bench transforms -- "$corpus" | grep '^{' >>"$results"
node bench/sharp/bench.mjs "$corpus" >>"$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["op"], r["source"]), {})[r["engine"]] = r
print(f"{'operation':<24} {'source':<16} {'pixzoo ms':>10} {'sharp ms':>9} {'ratio':>6} {'pixzoo B':>9} {'sharp B':>9}")
for (op, source), e in by.items():
    p, s = e.get("pixzoo"), e.get("sharp")
    if not p or not s:
        continue
    ratio = p["median_ms"] / s["median_ms"] if s["median_ms"] else float("nan")
    print(f"{op:<24} {source:<16} {p['median_ms']:>10.1f} {s['median_ms']:>9.1f} {ratio:>6.2f} {p['bytes']:>9} {s['bytes']:>9}")
PY
