#!/usr/bin/env bash
# The browser bundle's size as users download it (gzip -9), per file and in total. Measure a release
# build (`cargo leptos build --release`, which `make run` does); a debug bundle is several times larger.
set -euo pipefail
pkg="${1:-$(dirname "$0")/../target/site/pkg}"
total=0
# Hashed names (pixzoo.<hash>.wasm) or plain ones, never the precompressed copies.
pick() { find "$pkg" -maxdepth 1 -name "pixzoo*.$1" | head -1; }
wasm=$(pick wasm); js=$(pick js); css=$(pick css)
for file in "$wasm" "$js" "$css"; do
  [ -f "$file" ] || { echo "missing pixzoo.{wasm,js,css} in $pkg: build first" >&2; exit 1; }
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  total=$((total + gz))
  printf '%-36s %9d bytes  %9d gzipped\n' "$(basename "$file")" "$raw" "$gz"
done
printf '%-36s %9s        %9d gzipped\n' total "" "$total"
wasm_gz=$(gzip -9 -c "$wasm" | wc -c)
# The budget for the hydrate bundle in gzipped WASM: 350 KB as the studio issue set it, raised to 400 KB
# by the studio's Edit mode (the mask painter, uploads and the before/after view: 344 KB → 383 KB,
# measured with this script on both builds).
if [ "$wasm_gz" -le 400000 ]; then
  echo "WASM ${wasm_gz} bytes gzipped: within the 400 KB budget"
else
  echo "WASM ${wasm_gz} bytes gzipped: OVER the 400 KB budget" >&2
  exit 1
fi
