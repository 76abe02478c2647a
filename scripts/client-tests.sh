#!/usr/bin/env bash
# Real clients against the built server: the official `openai` Python package, and an OpenAPI validator.
# Usage: scripts/client-tests.sh PATH/TO/pixzoo PYTHON
set -euo pipefail
bin=$1
python=$2
here=$(cd "$(dirname "$0")/.." && pwd)

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
log="$data/server.log"
PIXZOO_ADDR="127.0.0.1:$port" PIXZOO_DATA_DIR="$data" RUST_LOG=warn "$bin" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if "$python" -c "import urllib.request; urllib.request.urlopen('$base/healthz')" 2>/dev/null; then break; fi
  sleep 0.1
done

"$python" "$here/tests/clients/openai_client.py" "$base"
"$python" "$here/tests/clients/validate_openapi.py" "$base"
