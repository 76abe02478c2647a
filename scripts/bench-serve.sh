#!/usr/bin/env bash
# Serving benchmark: the release server and nginx side by side, in one run, over the same bytes on
# disk, each under the same wrk load. Prints req/s, p50 and p99 latency and Pixzoo's ratio to nginx for
# a hot derivative, a hot original, a cold derivative (memory cache off: catalog row and file read), a
# 304 revalidation and the bundle's CSS (/pkg/pixzoo.<hash>.css). Figures from shared machines are noisy: compare ratios.
#
#   scripts/bench-serve.sh [seconds=5] [connections=64]   (after `cargo leptos build --release`)
set -euo pipefail
seconds="${1:-5}"
connections="${2:-64}"
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
base="http://127.0.0.1:$hot"
id=$(curl -fsS -o /dev/null -D - "$base/1024x1024/a-benchmark-heron-on-a-misty-lake" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-image-id"{print $2}')
derivative="/img/$id/width=400,format=webp"
curl -fsS "$base$derivative" -o /dev/null
start_pixzoo "$cold" 0

# nginx serves the same bytes: the stored blobs and the bundle, copied into its root.
mkdir -p "$work/www/pkg" "$work/nginx"
cp "$(find "$work/data/blobs/originals" -type f | head -1)" "$work/www/original"
cp "$(find "$work/data/blobs/derived" -type f -name '*.webp' | head -1)" "$work/www/derived.webp"
cp "$site/pkg/$css" "$work/www/pkg/$css"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 100000;
  types { image/webp webp; text/css css; }
  default_type image/png;
  server { listen 127.0.0.1:$ng; root $work/www; etag on; }
}
CONF
chmod -R a+rX "$work/www"
nginx -c "$work/nginx/nginx.conf"
pids+=("$(sleep 0.3; cat "$work/nginx/nginx.pid")")

etag=$(curl -fsS -o /dev/null -D - "$base$derivative" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
ng_etag=$(curl -fsS -o /dev/null -D - "http://127.0.0.1:$ng/derived.webp" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
size() { curl -fsS "$1" -o /dev/null -w '%{size_download}'; }

# One wrk run: prints "req/s p50 p99".
run() { # url [header]
  local args=(-t2 -c"$connections" -d"${seconds}s" --latency)
  [ -n "${2:-}" ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '
    /Requests\/sec/ {rps=$2}
    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
    END {printf "%s %s %s", rps, p50, p99}'
}
printf '%-34s %10s %12s %9s %9s %12s %9s %9s %6s\n' request bytes pixzoo p50 p99 nginx p50 p99 ratio
row() { # name pixzoo-url nginx-url [pixzoo-header] [nginx-header]
  local bytes p n
  bytes=$(size "$2")
  p=($(run "$2" "${4:-}")); n=($(run "$3" "${5:-}"))
  printf '%-34s %10s %12.0f %9s %9s %12.0f %9s %9s %6.2f\n' "$1" "$bytes" "${p[0]}" "${p[1]}" "${p[2]}" \
    "${n[0]}" "${n[1]}" "${n[2]}" "$(awk -v a="${p[0]}" -v b="${n[0]}" 'BEGIN{print a/b}')"
}
row "hot derivative (memory)" "$base$derivative" "http://127.0.0.1:$ng/derived.webp"
row "hot original (memory)" "$base/img/$id" "http://127.0.0.1:$ng/original"
row "cold derivative (catalog + file)" "http://127.0.0.1:$cold$derivative" "http://127.0.0.1:$ng/derived.webp"
row "304 revalidation" "$base$derivative" "http://127.0.0.1:$ng/derived.webp" \
  "If-None-Match: $etag" "If-None-Match: $ng_etag"
row "/pkg/$css" "$base/pkg/$css" "http://127.0.0.1:$ng/pkg/$css"
