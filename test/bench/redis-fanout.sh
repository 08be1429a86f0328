#!/bin/bash
# Fan-out across two echo processes through Redis (test/bench/redis-fanout.sh [1]; with 1 the processes use
# Redis): A has 500 subscribers and one publisher (as fast as its own copy comes back), B 500 subscribers that only
# receive, through Redis. Prints deliveries/s on each side. Needs redis-server and ../shared/bench/wsload.c built.
cd "$(dirname "$0")/../.."
load=${WSLOAD:-/tmp/wsload-$(id -u)}; rp=9790; pa=9791; pb=9792; secs=${SECS:-5}; th=${THREADS:-0}
redis-server --port $rp --bind 127.0.0.1 --save '' --appendonly no >/tmp/wsz-redis-bench.log 2>&1 & rpid=$!
sleep 0.5
start() { env PORT=$1 BROADCAST=1 THREADS=$th ${2:+REDIS_URL=redis://127.0.0.1:$rp} setsid node --import tsx --conditions=wsz-source examples/echo/server.ts >/tmp/wsz-echo-$1.log 2>&1 & echo $!; }
A=$(start $pa $1); B=$(start $pb $1)
for i in $(seq 100); do ss -ltnH "sport = :$pb" | grep -q . && ss -ltnH "sport = :$pa" | grep -q . && break; sleep 0.1; done
$load fanout 127.0.0.1 $pb 500 $((secs + 2)) 64 0.001 > /tmp/wsz-fanB.log & lb=$!
sleep 1
$load fanout 127.0.0.1 $pa 500 $secs 64 0 > /tmp/wsz-fanA.log
wait $lb
echo "redis=${1:-none} A(local): $(grep -o 'msgs_per_s=[0-9]*\|published=[0-9]*' /tmp/wsz-fanA.log | tr '\n' ' ') B(remote): $(grep -o 'msgs_per_s=[0-9]*' /tmp/wsz-fanB.log)"
kill -- -$A -$B 2>/dev/null; kill $rpid; wait 2>/dev/null
