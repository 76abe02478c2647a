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
# The target the studio issue set for the hydrate bundle: 350 KB of gzipped WASM.
if [ "$wasm_gz" -le 350000 ]; then
  echo "WASM ${wasm_gz} bytes gzipped: within the 350 KB target"
else
  echo "WASM ${wasm_gz} bytes gzipped: OVER the 350 KB target" >&2
  exit 1
fi
