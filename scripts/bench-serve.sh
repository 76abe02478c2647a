#!/usr/bin/env bash
# Serving benchmark: the release server and nginx side by side, in one run, over the same bytes on
# disk, each under the same wrk load. Prints req/s, p50 and p99 latency and Pixzoo's ratio to nginx for
# a hot derivative, a hot original, a cold derivative (memory cache off: its file read), a 304
# revalidation and the bundle's CSS (/pkg/pixzoo.<hash>.css), and each side's CPU time per request.
# Figures from shared machines are noisy: each row runs both sides in turn ROUNDS times and prints the
# medians, its ratio the median of each round's; compare ratios, and the CPU per request most of all.
#
#   scripts/bench-serve.sh [seconds=5] [connections=64] [rounds=3]   (after `cargo leptos build --release`)
set -euo pipefail
seconds="${1:-5}"
connections="${2:-64}"
rounds="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release/pixzoo"
# cargo-leptos writes the site under the project's target/, whatever CARGO_TARGET_DIR says.
site="$root/target/site"
[ -x "$bin" ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
css=$(basename "$(find "$site/pkg" -maxdepth 1 -name 'pixzoo*.css' | head -1)")
source "$root/scripts/services.sh"
services_need wrk wrk
services_need nginx nginx
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as an unprivileged user
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
start_pixzoo() { # port, memory cache bytes
  PIXZOO_ADDR="127.0.0.1:$1" PIXZOO_DATA_DIR="$work/data" PIXZOO_SITE_ROOT="$site" RUST_LOG=info \
    PIXZOO_STORAGE__MEMORY_CACHE_BYTES="$2" PIXZOO_SECURITY__REQUESTS_PER_SECOND=0 \
    PIXZOO_SECURITY__GENERATIONS_PER_MINUTE=0 PIXZOO_SECURITY__DERIVATIVES_PER_MINUTE=0 \
    "$bin" 2>>"$work/pixzoo-$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done
  echo "pixzoo did not start" >&2; exit 1
}

hot=$(free_port); cold=$(free_port); ng=$(free_port)
start_pixzoo "$hot" 268435456
hot_pid=${pids[-1]}
base="http://127.0.0.1:$hot"
id=$(curl -fsS -o /dev/null -D - "$base/1024x1024/a-benchmark-heron-on-a-misty-lake" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-image-id"{print $2}')
derivative="/img/$id/width=400,format=webp"
curl -fsS "$base$derivative" -o /dev/null
start_pixzoo "$cold" 0
cold_pid=${pids[-1]}

# nginx serves the same bytes: the stored blobs and the bundle, copied into its root.
mkdir -p "$work/www/pkg" "$work/nginx"
cp "$(find "$work/data/blobs/originals" -type f | head -1)" "$work/www/original"
cp "$(find "$work/data/blobs/derived" -type f -name '*.webp' | head -1)" "$work/www/derived.webp"
cp "$site/pkg/$css" "$work/www/pkg/$css"
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$ng|g" "$root/bench/serve/nginx.conf" >"$work/nginx/nginx.conf"
chmod -R a+rX "$work/www"
nginx -c "$work/nginx/nginx.conf"
pids+=("$(sleep 0.3; cat "$work/nginx/nginx.pid")")
nginx_pids=$(pgrep -P "${pids[-1]}" | tr '\n' ' ')

etag=$(curl -fsS -o /dev/null -D - "$base$derivative" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
ng_etag=$(curl -fsS -o /dev/null -D - "http://127.0.0.1:$ng/derived.webp" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
size() { curl -fsS "$1" -o /dev/null -w '%{size_download}'; }

# CPU time the server's processes have used, in clock ticks (all threads; nginx: its workers).
ticks() { local t=0 p f; for p in "$@"; do f=($(sed 's/.*) //' "/proc/$p/stat")); t=$((t + f[11] + f[12])); done; echo "$t"; }
hz=$(getconf CLK_TCK)

# One wrk run against a server: prints "req/s p50 p99 cpu-us-per-request". The CPU per request is the
# steadier figure on a shared machine: a neighbour's load slows both sides' throughput unevenly, but
# changes little what each request costs.
run() { # url header pids...
  local url=$1 header=$2 before after out args=(-t2 -c"$connections" -d"${seconds}s" --latency)
  shift 2
  [ -n "$header" ] && args+=(-H "$header")
  before=$(ticks "$@")
  out=$(wrk "${args[@]}" "$url")
  after=$(ticks "$@")
  awk -v used=$((after - before)) -v hz="$hz" '
    /requests in/ {n=$1}
    /Requests\/sec/ {rps=$2}
    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
    END {printf "%s %s %s %.1f", rps, p50, p99, used / hz * 1e6 / n}' <<<"$out"
}
printf '%-34s %8s %9s %8s %8s %7s %9s %8s %8s %7s %6s %7s %6s\n' request bytes pixzoo p50 p99 us/req \
  nginx p50 p99 us/req ratio target cpu
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
row() { # name target pixzoo-url pixzoo-pid nginx-url [pixzoo-header] [nginx-header]
  local bytes p n ratio cpu i col ps=() ns=() ratios=() cpus=()
  bytes=$(size "$3")
  for ((i = 0; i < rounds; i++)); do
    # shellcheck disable=SC2086 # one pid, or nginx's several
    p=($(run "$3" "${6:-}" $4)); n=($(run "$5" "${7:-}" $nginx_pids))
    ps+=("${p[*]}"); ns+=("${n[*]}")
    ratios+=("$(awk -v a="${p[0]}" -v b="${n[0]}" 'BEGIN{print a/b}')")
    cpus+=("$(awk -v a="${p[3]}" -v b="${n[3]}" 'BEGIN{print b/a}')")
  done
  # Each column's median over the rounds (latencies in ms).
  for col in 1 2 3 4; do
    p[col - 1]=$(printf '%s\n' "${ps[@]}" | awk -v c=$col '{v=$c; if (v ~ /us$/) v=v/1000; else if (v ~ /ms$/) v=v+0; else if (v ~ /s$/) v=v*1000; print v}' | median)
    n[col - 1]=$(printf '%s\n' "${ns[@]}" | awk -v c=$col '{v=$c; if (v ~ /us$/) v=v/1000; else if (v ~ /ms$/) v=v+0; else if (v ~ /s$/) v=v*1000; print v}' | median)
  done
  ratio=$(printf '%s\n' "${ratios[@]}" | median)
  cpu=$(printf '%s\n' "${cpus[@]}" | median)
  printf '%-34s %8s %9.0f %6.2fms %6.2fms %7.1f %9.0f %6.2fms %6.2fms %7.1f %6.2f %7s %6.2f\n' "$1" "$bytes" \
    "${p[0]}" "${p[1]}" "${p[2]}" "${p[3]}" "${n[0]}" "${n[1]}" "${n[2]}" "${n[3]}" "$ratio" \
    "$(awk -v r="$ratio" -v t="$2" 'BEGIN{ if (t == "-") print "-"; else printf "%s%s", (r >= t ? "" : "<"), t }')" \
    "$cpu"
}
# Targets: hot hits 0.8x nginx, a cold one 0.5x, a 304 1x; "<" marks a ratio below its target. "cpu" is
# nginx's CPU time per request over Pixzoo's: above 1, Pixzoo spends less on each.
row "hot derivative (memory)" 0.8 "$base$derivative" "$hot_pid" "http://127.0.0.1:$ng/derived.webp"
row "hot original (memory)" 0.8 "$base/img/$id" "$hot_pid" "http://127.0.0.1:$ng/original"
row "cold derivative (file)" 0.5 "http://127.0.0.1:$cold$derivative" "$cold_pid" \
  "http://127.0.0.1:$ng/derived.webp"
row "304 revalidation" 1.0 "$base$derivative" "$hot_pid" "http://127.0.0.1:$ng/derived.webp" \
  "If-None-Match: $etag" "If-None-Match: $ng_etag"
row "/pkg/$css" - "$base/pkg/$css" "$hot_pid" "http://127.0.0.1:$ng/pkg/$css"
