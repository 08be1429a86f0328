#!/usr/bin/env bash
# Memory under fan-out with one slow member: a client that joins and never reads, while a flooder
# (wsload, 1 connection, 4 x 16 KiB binary messages in flight) sends to the room and reads its own
# copies. Prints the server's RSS growth after SECS seconds (default 10), and the peak.
#   bash test/bench/slow-member.sh                       wsz's echo example with BROADCAST=1 (THREADS from env)
#   bash test/bench/slow-member.sh 'node ws-fanout.mjs'  any broadcast server started on $PORT
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
load=${WSLOAD:-/tmp/wsload-$(id -u)}
[ -x "$load" ] && [ "$load" -nt "$bench/wsload.c" ] || gcc -O2 -o "$load" "$bench/wsload.c" || exit 2
secs=${SECS:-10}; port=${PORT:-9711}
cmd=${1:-"BROADCAST=1 exec node --import tsx --conditions=wsz-source examples/echo/server.ts"}
cd "$root"
PORT=$port setsid bash -c "$cmd" > /tmp/wsz-slow-member.log 2>&1 & sp=$!
trap 'kill -- -$sp 2>/dev/null; wait $sp 2>/dev/null' EXIT
for i in $(seq 100); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done
spid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
rss() { awk '/VmRSS/ {print $2}' /proc/$spid/status 2>/dev/null || echo 0; }
# The slow member: upgrades, then never reads a byte.
[ "${SLOW:-1}" = 1 ] && node -e '
  const s = require("node:net").connect(+process.argv[1], "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  s.once("data", () => s.pause()); s.on("error", () => {}); s.on("close", () => console.log("slow member: closed by the server"));
  setTimeout(() => process.exit(0), (+process.argv[2] + 3) * 1000);' $port $secs & mp=$!
sleep 1
before=$(rss); peak=$before
"$load" echo 127.0.0.1 $port 1 $secs 16384 4 binary > /tmp/wsz-slow-member.load & lp=$!
while kill -0 $lp 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2; done
after=$(rss)
echo "flooder: $(grep -o 'MiB_per_s=[0-9.]*' /tmp/wsz-slow-member.load)"
echo "server RSS growth: $(( (after - before) / 1024 )) MiB after ${secs} s, peak +$(( (peak - before) / 1024 )) MiB"
[ "${SLOW:-1}" = 1 ] && wait $mp
