#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL and SeaweedFS (scripts/services.sh), stopped and removed
# when it ends: `scripts/with-services.sh cargo test --features ssr`.
set -euo pipefail
source "$(dirname "$0")/services.sh"
dir=$(mktemp -d)
[ "$(id -u)" = 0 ] && chmod 755 "$dir"
trap 'services_stop "$dir"; rm -rf "$dir"' EXIT
services_start "$dir"
"$@"
