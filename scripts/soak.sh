#!/usr/bin/env bash
# Soak: the release server with the builtin provider on loopback, under wrk for a bounded time, with a
# mix of cache hits, derivative misses and new generations. Prints a table: throughput, latency, 5xx
# count (must be 0) and the server's RSS sampled every second: it must stay within the memory cache's
# budget (SOAK_CACHE_MB, 64) plus a bounded overhead (SOAK_OVERHEAD_MB, 256: the binary, the transform
# workers' buffers, what the allocators keep free for the next image).
#
#   scripts/soak.sh [seconds=60] [connections=32]     (after `cargo leptos build --release`)
set -euo pipefail
seconds="${1:-60}"
connections="${2:-32}"
cache_mb="${SOAK_CACHE_MB:-64}"
overhead_mb="${SOAK_OVERHEAD_MB:-256}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release/pixzoo"
[ -x "$bin" ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y --no-install-recommends wrk >/dev/null; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
PIXZOO_ADDR="127.0.0.1:$port" PIXZOO_DATA_DIR="$data" RUST_LOG=error \
  PIXZOO_SECURITY__REQUESTS_PER_SECOND=0 PIXZOO_SECURITY__GENERATIONS_PER_MINUTE=0 \
  PIXZOO_SECURITY__DERIVATIVES_PER_MINUTE=0 PIXZOO_STORAGE__MEMORY_CACHE_BYTES=$((cache_mb << 20)) \
  PIXZOO_SITE_ROOT="$root/target/site" "$bin" &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

ids=""
for n in $(seq 8); do
  id=$(curl -fs -o /dev/null -D - "$base/640x480/soak-seed-$n" | awk -F': ' 'tolower($1)=="x-image-id" {print $2}' | tr -d '\r')
  ids="$ids${ids:+,}$id"
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
samples="$data/rss.txt"
( while kill -0 "$pid" 2>/dev/null; do rss >>"$samples"; sleep 1; done ) &
sampler=$!

out=$(SOAK_IDS="$ids" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$root/bench/soak/mix.lua" "$base" | grep '^SOAK')
kill "$sampler" 2>/dev/null || true
alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo NO)

python3 - "$samples" "$out" "$alive" "$cache_mb" "$overhead_mb" <<'PY'
import sys
cache_mb, overhead_mb = int(sys.argv[4]), int(sys.argv[5])
samples = [int(x) for x in open(sys.argv[1]) if x.strip()]
fields = dict(kv.split("=", 1) for kv in sys.argv[2].split()[1:])
n = len(samples)
third = max(1, n // 3)
first, last = samples[:third], samples[-third:]
rows = [
    ("duration", f"{fields['seconds']} s"),
    ("requests", fields["requests"]),
    ("throughput", f"{fields['rps']} req/s"),
    ("latency p50 / p99 / max", f"{fields['p50_ms']} / {fields['p99_ms']} / {fields['max_ms']} ms"),
    ("responses by status", fields["statuses"]),
    ("5xx responses", fields["errors_5xx"]),
    ("socket errors", fields["socket_errors"]),
    ("RSS start / max / end", f"{samples[0]//1024} / {max(samples)//1024} / {samples[-1]//1024} MiB"),
    ("RSS first third -> last third (mean)", f"{sum(first)//len(first)//1024} -> {sum(last)//len(last)//1024} MiB"),
    ("RSS every 10 s (MiB)", " ".join(str(x // 1024) for x in samples[::10])),
    ("RSS limit (memory cache + overhead)", f"{cache_mb} + {overhead_mb} MiB"),
    ("server alive at the end", sys.argv[3]),
]
width = max(len(r[0]) for r in rows)
for name, value in rows:
    print(f"{name:<{width}}  {value}")
within = max(samples) // 1024 <= cache_mb + overhead_mb
ok = fields["errors_5xx"] == "0" and sys.argv[3] == "yes" and within
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
