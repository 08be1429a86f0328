#!/usr/bin/env bash
# pnpm bench: echo example under the native load generator (../shared/bench/wsload.c).
# Prints messages/s for small messages and request/response, MiB/s for 16 KiB messages.
# SECS sets each run's length (default 5); THREADS is passed to the example.
# For the side-by-side figures against ws and uWebSockets.js use ../shared/bench/compare.sh
# (see docs/benchmarks.md).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
load=${WSLOAD:-/tmp/wsload-$(id -u)}
[ -x "$load" ] && [ "$load" -nt "$bench/wsload.c" ] || gcc -O2 -o "$load" "$bench/wsload.c"
secs=${SECS:-5}; port=${PORT:-9701}
cd "$root"
PORT=$port node_modules/.bin/tsx --conditions=wsz-source examples/echo/server.ts > /tmp/wsz-bench-server.log 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for i in $(seq 100); do grep -q listening /tmp/wsz-bench-server.log 2>/dev/null && break; sleep 0.1; done
echo "small   (50 conns, 16 x 32 B in flight):  $("$load" echo 127.0.0.1 $port 50 $secs 32 16 text | grep -o 'msgs_per_s=[0-9]*')"
echo "rr      (100 conns, 1 x 128 B in flight): $("$load" echo 127.0.0.1 $port 100 $secs 128 1 text | grep -o 'msgs_per_s=[0-9]*')"
echo "deep16k (50 conns, 4 x 16 KiB in flight): $("$load" echo 127.0.0.1 $port 50 $secs 16384 4 binary | grep -o 'MiB_per_s=[0-9.]*')"
