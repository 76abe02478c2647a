# Throwaway PostgreSQL and S3-compatible (SeaweedFS) servers on loopback, for tests, the cluster and
# benchmarks. Sourced, not run: `services_start DIR` starts both under DIR and exports where they are;
# `services_stop DIR` stops them. Each starts in about a second.
#
#   TEST_DATABASE_URL   an empty PostgreSQL to create databases in (trust auth, fsync off: tests only)
#   TEST_S3_BUCKET      a bucket on the S3 server, with AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
#                       AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ALLOW_HTTP set for it

# services_need CMD PACKAGE: installs Debian's PACKAGE unless CMD exists, without starting its service
# (policy-rc.d), as this machine's scripts run their own servers.
services_need() {
	command -v "$1" >/dev/null && return 0
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	[ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
	$sudo chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$2" >/dev/null
}

services_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

services_pg_bin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

# Runs a PostgreSQL tool as the owner of DIR: initdb refuses root, so as root that is `postgres`.
services_as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# postgres_start DIR PORT: a fresh cluster in DIR/pg listening on 127.0.0.1:PORT.
postgres_start() {
	local dir=$1 port=$2 bin
	bin=$(services_pg_bin)
	[ -n "$bin" ] || { echo "PostgreSQL is not installed (make postgres installs it)" >&2; return 1; }
	mkdir -p "$dir/pg"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir/pg"
	services_as_owner "$bin/initdb" -D "$dir/pg/data" -U pixzoo --auth=trust -E UTF8 --no-locale -N >"$dir/pg/initdb.log"
	postgres_resume "$dir" "$port"
}

# postgres_resume DIR PORT: starts the cluster in DIR/pg again (after postgres_stop).
postgres_resume() {
	local dir=$1 port=$2
	services_as_owner "$(services_pg_bin)/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -o \
		"-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c fsync=off -c max_connections=200" start >/dev/null
}

postgres_stop() {
	local dir=$1
	[ -f "$dir/pg/data/postmaster.pid" ] || return 0
	services_as_owner "$(services_pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null || true
}

# s3_start DIR PORT BUCKET: SeaweedFS's all-in-one server with one bucket and one key pair.
s3_start() {
	local dir=$1 port=$2 bucket=$3 weed
	weed=$(command -v weed || true)
	[ -n "$weed" ] || weed=$(dirname "${BASH_SOURCE[0]}")/../.venv/bin/weed
	[ -x "$weed" ] || { echo "SeaweedFS is not installed (make test installs it into .venv)" >&2; return 1; }
	services_need curl curl
	mkdir -p "$dir/s3"
	cat >"$dir/s3/s3.json" <<JSON
{"identities":[{"name":"pixzoo","credentials":[{"accessKey":"pixzoo","secretKey":"pixzoo-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
	"$weed" mini -dir="$dir/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$port" \
		-master.port="$(services_free_port)" -volume.port="$(services_free_port)" -filer.port="$(services_free_port)" \
		-s3.config="$dir/s3/s3.json" -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
		-bucket="$bucket" >"$dir/s3/log" 2>&1 &
	echo $! >"$dir/s3/pid"
	local tries=0
	# Ready when the bucket lists for its owner (the S3 port opens before the filer behind it, and the
	# bucket is made a moment later still: anonymous requests are refused either way).
	until curl -s -o /dev/null -w "%{http_code}" --aws-sigv4 "aws:amz:us-east-1:s3" --user pixzoo:pixzoo-secret \
		"http://127.0.0.1:$port/$bucket?list-type=2&max-keys=1" | grep -q "^200"; do
		tries=$((tries + 1))
		if [ $tries -gt 300 ] || ! kill -0 "$(cat "$dir/s3/pid")" 2>/dev/null; then
			echo "SeaweedFS did not start; its log:" >&2; tail -20 "$dir/s3/log" >&2; return 1
		fi
		sleep 0.1
	done
	export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=pixzoo AWS_SECRET_ACCESS_KEY=pixzoo-secret \
		AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
}

s3_stop() {
	local dir=$1
	[ -f "$dir/s3/pid" ] || return 0
	kill "$(cat "$dir/s3/pid")" 2>/dev/null || true
	wait "$(cat "$dir/s3/pid")" 2>/dev/null || true
	rm -f "$dir/s3/pid"
}

services_start() {
	local dir=$1 pg_port s3_port
	pg_port=$(services_free_port)
	s3_port=$(services_free_port)
	postgres_start "$dir" "$pg_port"
	s3_start "$dir" "$s3_port" pixzoo-test
	export TEST_DATABASE_URL="postgres://pixzoo@127.0.0.1:$pg_port/postgres" TEST_S3_BUCKET=pixzoo-test
}

services_stop() {
	postgres_stop "$1"
	s3_stop "$1"
}
