#!/usr/bin/env bash
# Server RSS per connection with permessage-deflate: N connections (default 10000) each agree on it (the
# browser's offer) and exchange one compressed 2 KiB message, then stay open.
#   bash test/bench/deflate-memory.sh 'SERVER COMMAND on $PORT' [N]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:-"DEFLATE=1 exec node --import tsx --conditions=wsz-source examples/echo/server.ts"}
n=${2:-10000}; port=${PORT:-9721}
ulimit -n 65536 2>/dev/null || true
cd "$root"
PORT=$port MAX_CONN=100000 setsid bash -c "$cmd" > /tmp/wsz-deflate-memory.log 2>&1 & sp=$!
trap 'kill -- -$sp 2>/dev/null; wait $sp 2>/dev/null' EXIT
for i in $(seq 100); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done
spid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
rss() { awk '/VmRSS/ {print $2}' /proc/$spid/status; }
sleep 1; before=$(rss)
node test/bench/deflate-clients.mjs $port $n 8 > /tmp/wsz-deflate-clients.log 2>&1 & cp=$!
for i in $(seq 600); do grep -q ready /tmp/wsz-deflate-clients.log && break; sleep 0.1; done
sleep 2; after=$(rss)
echo "$(cat /tmp/wsz-deflate-clients.log | head -1): server RSS +$(( (after - before) / 1024 )) MiB, $(awk -v a=$after -v b=$before -v n=$n 'BEGIN { printf "%.1f", (a - b) / n }') KiB per connection"
wait $cp
