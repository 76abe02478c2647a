#!/usr/bin/env bash
# A cluster on this machine: PostgreSQL, an S3-compatible server (SeaweedFS), INSTANCES (3) release
# instances of Pixzoo on them, and nginx in front (deploy/nginx.conf), all on loopback. Prints the URL;
# Ctrl-C stops everything it started and removes its data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/services.sh"
bin=${PIXZOO_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pixzoo}
instances=${INSTANCES:-3}
port=${CLUSTER_PORT:-8080}
[ "$port" = free ] && port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
[ -x "$bin" ] || { echo "no release binary at $bin (make cluster builds it)" >&2; exit 1; }
services_need nginx nginx

dir=$(mktemp -d)
[ "$(id -u)" = 0 ] && chmod 755 "$dir"
pids=()
stop() {
	trap - INT TERM EXIT
	echo; echo "stopping the cluster"
	[ -f "$dir/nginx.pid" ] && nginx -p "$dir" -c "$dir/nginx.conf" -s stop 2>/dev/null || true
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	services_stop "$dir"
	rm -rf "$dir"
}
trap stop INT TERM EXIT

pg_port=$(services_free_port)
s3_port=$(services_free_port)
postgres_start "$dir" "$pg_port"
s3_start "$dir" "$s3_port" pixzoo
export DATABASE_URL="postgres://pixzoo@127.0.0.1:$pg_port/postgres"
export PIXZOO_STORAGE__BLOBS_URL=s3://pixzoo/images
export PIXZOO_SECURITY__CLIENT_IP_HEADER=x-real-ip
export LEPTOS_SITE_ROOT="$root/target/site"

upstreams=""
for i in $(seq 1 "$instances"); do
	p=$(services_free_port)
	PIXZOO_ADDR="127.0.0.1:$p" PIXZOO_DATA_DIR="$dir/instance-$i" "$bin" >"$dir/instance-$i.log" 2>&1 &
	pids+=($!)
	upstreams+="        server 127.0.0.1:$p;"$'\n'
	echo "instance $i: http://127.0.0.1:$p (log $dir/instance-$i.log)"
done
for i in $(seq 1 "$instances"); do
	p=$(sed -n "${i}p" <<<"$upstreams" | grep -o '[0-9]*;' | tr -d ';')
	until curl -sf "http://127.0.0.1:$p/healthz" >/dev/null; do
		kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "instance $i died:" >&2; tail "$dir/instance-$i.log" >&2; exit 1; }
		sleep 0.1
	done
done

python3 - "$root/deploy/nginx.conf" "$dir/nginx.conf" "$dir" "$port" "$upstreams" <<'PY'
import sys
template, out, d, port, upstreams = sys.argv[1:]
text = open(template).read().replace("@DIR@", d).replace("@PORT@", port).replace("@UPSTREAMS@", upstreams.rstrip("\n"))
open(out, "w").write(text)
PY
nginx -p "$dir" -c "$dir/nginx.conf"
echo "PostgreSQL: $DATABASE_URL"
echo "S3: $AWS_ENDPOINT_URL (bucket pixzoo)"
echo "Pixzoo, $instances instances behind nginx: http://127.0.0.1:$port   (Ctrl-C stops it all)"
if [ "${CLUSTER_SMOKE:-}" = 1 ]; then
	# For `make test`: through nginx, a new image, then the same one as a hit from whichever instance.
	first=$(curl -sf -D - -o /dev/null "http://127.0.0.1:$port/320x200/cluster-smoke" | tr -d '\r')
	grep -qi '^x-cache: MISS' <<<"$first" || { echo "smoke: the first answer was not a new image:" >&2; echo "$first" >&2; exit 1; }
	for _ in $(seq 1 "$instances"); do
		again=$(curl -sf -D - -o /dev/null "http://127.0.0.1:$port/320x200/cluster-smoke" | tr -d '\r')
		grep -qi '^x-cache: HIT' <<<"$again" || { echo "smoke: not a hit:" >&2; echo "$again" >&2; exit 1; }
	done
	echo "cluster smoke test: a new image through nginx, then a hit $instances times"
	exit 0
fi
wait "${pids[@]}"
