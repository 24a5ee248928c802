#!/usr/bin/env bash
# `looplab directory` against the same directory on hyper 1 + tokio's current-thread
# runtime (benches/peer/directory_hyper.rs), measured with wrk, shape by shape:
#
#   default   as started by default: the access log on, stderr to a file; 50 connections, no delay
#   quiet     --quiet; 50 connections, no delay
#   pipelined --quiet; 50 connections, 16 requests pipelined on each (benches/peer/pipeline.lua)
#   slow      --quiet; 4,000 connections, 100 ms per answer (ideal: 40,000 req/s)
#   slow-log  the same with the log on (to a file)
#
# Rounds alternate (looplab first in odd rounds, hyper first in even ones) and each
# figure is the best of the rounds; the ratio is looplab / hyper (above 1: looplab
# serves more). The hyper peer writes no log, so "default" and "slow-log" compare a
# logging looplab with a silent hyper, as the issue's table does.
#
#   benches/directory_vs_hyper.sh                 # 2 rounds of 10 s per run
#   ROUNDS=3 DURATION=20s benches/directory_vs_hyper.sh
#   SHAPES="quiet pipelined" benches/directory_vs_hyper.sh
#
# CI builds the peer (`cargo build --examples`) but never runs this: figures from a
# shared machine mean little. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed: apt-get install wrk (Debian/Ubuntu)" >&2
    exit 1
fi
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
SHAPES=${SHAPES:-"default quiet pipelined slow slow-log"}
# One wrk thread: the servers are single-threaded and the machine may have two cores.
WRK_THREADS=${WRK_THREADS:-1}

need_fds=9000
if [ "$(ulimit -n)" -lt "$need_fds" ]; then
    ulimit -n "$need_fds" 2>/dev/null || {
        echo "ulimit -n is $(ulimit -n); the 4,000-connection shape needs $need_fds (ulimit -n $need_fds)" >&2
        exit 1
    }
fi

cargo build --release --quiet --bin looplab --example directory_hyper
looplab=target/release/looplab
hyper=target/release/examples/directory_hyper
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# start_server SERVER SHAPE: starts it on a free port, sets $server_pid and $addr.
start_server() {
    local server=$1 shape=$2 delay=0s quiet=--quiet
    case $shape in
        slow | slow-log) delay=100ms ;;
    esac
    case $shape in
        default | slow-log) quiet="" ;;
    esac
    : >"$work/out"
    if [ "$server" = looplab ]; then
        # shellcheck disable=SC2086
        "$looplab" directory --addr 127.0.0.1:0 --delay "$delay" $quiet \
            >"$work/out" 2>"$work/log" &
    else
        "$hyper" --addr 127.0.0.1:0 --delay "$delay" >"$work/out" 2>"$work/log" &
    fi
    server_pid=$!
    for _ in $(seq 100); do
        addr=$(sed -n 's|^listening on http://||p' "$work/out" | head -1)
        if [ -n "$addr" ]; then return; fi
        sleep 0.05
    done
    echo "$server did not say where it listens" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    # looplab stops gracefully; a second TERM after 2 s stops it at once.
    for _ in $(seq 40); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# measure SERVER SHAPE: prints requests per second (and notes errors on stderr).
measure() {
    local server=$1 shape=$2 connections=50 script=()
    case $shape in
        slow | slow-log) connections=4000 ;;
        pipelined) script=(-s benches/peer/pipeline.lua) ;;
    esac
    start_server "$server" "$shape"
    wrk -t"$WRK_THREADS" -c"$connections" -d"$DURATION" --timeout 5s "${script[@]}" \
        "http://$addr/users/7" >"$work/wrk" 2>&1 || true
    stop_server
    if grep -q "Socket errors\|Non-2xx" "$work/wrk"; then
        echo "  ($server, $shape: $(grep 'Socket errors\|Non-2xx' "$work/wrk" | tr -s ' ' | tr '\n' ' '))" >&2
    fi
    awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$work/wrk"
}

declare -A best
echo "wrk -t$WRK_THREADS, $DURATION per run, $ROUNDS rounds; $(nproc) cores; $(uname -sr)" >&2
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="looplab hyper"; else order="hyper looplab"; fi
    for shape in $SHAPES; do
        for server in $order; do
            # The hyper peer has no log: its slow-log run would repeat its slow one.
            if [ "$server" = hyper ] && [ "$shape" = slow-log ]; then continue; fi
            rps=$(measure "$server" "$shape")
            echo "round $round  $shape  $server  ${rps:-?} req/s" >&2
            key="$server/$shape"
            if [ -n "$rps" ] && [ "${best[$key]:-0}" -lt "$rps" ]; then best[$key]=$rps; fi
        done
    done
done

echo
echo "| shape | looplab req/s | hyper req/s | ratio |"
echo "|---|---|---|---|"
for shape in $SHAPES; do
    l=${best[looplab/$shape]:-0}
    peer=$shape
    if [ "$shape" = slow-log ]; then peer=slow; fi
    h=${best[hyper/$peer]:-0}
    ratio=$(awk -v l="$l" -v h="$h" 'BEGIN { if (h > 0) printf "%.2f", l / h; else print "?" }')
    note=""
    case $shape in
        slow | slow-log) note=" ($(awk -v l="$l" 'BEGIN { printf "%.0f%%", l / 400 }') of the ideal 40,000)" ;;
    esac
    echo "| $shape | $l$note | $h | $ratio |"
done
