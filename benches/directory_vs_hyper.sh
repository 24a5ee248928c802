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
# serves more). Beside it, the server's CPU time per request (from /proc, the least of
# the rounds; below 1: looplab spends less), which other work on the machine moves less. The hyper peer writes no log, so "default" and "slow-log" compare a
# logging looplab with a silent hyper, as the issue's table does.
#
#   benches/directory_vs_hyper.sh                 # 2 rounds of 10 s per run
#   ROUNDS=3 DURATION=20s benches/directory_vs_hyper.sh
#   SHAPES="quiet pipelined" benches/directory_vs_hyper.sh
#   LOOPLAB_BIN=/tmp/looplab-before benches/directory_vs_hyper.sh   # another build
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
# LOOPLAB_BIN measures another build (an older commit's, for a before/after).
looplab=${LOOPLAB_BIN:-target/release/looplab}
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

# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}

# measure SERVER SHAPE: prints requests per second and the server's CPU microseconds
# per request (and notes errors on stderr). CPU per request moves less than req/s when
# other work shares the machine: it counts what the server spent, not what it got.
measure() {
    local server=$1 shape=$2 connections=50 script=()
    case $shape in
        slow | slow-log) connections=4000 ;;
        pipelined) script=(-s benches/peer/pipeline.lua) ;;
    esac
    start_server "$server" "$shape"
    local before after
    before=$(cpu_ticks)
    wrk -t"$WRK_THREADS" -c"$connections" -d"$DURATION" --timeout 5s "${script[@]}" \
        "http://$addr/users/7" >"$work/wrk" 2>&1 || true
    after=$(cpu_ticks)
    stop_server
    if grep -q "Socket errors\|Non-2xx" "$work/wrk"; then
        echo "  ($server, $shape: $(grep 'Socket errors\|Non-2xx' "$work/wrk" | tr -s ' ' | tr '\n' ' '))" >&2
    fi
    local ticks_per_s
    ticks_per_s=$(getconf CLK_TCK)
    awk -v ticks=$((after - before)) -v hz="$ticks_per_s" '
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        END { if (requests > 0) printf "%.0f %.2f\n", rps, ticks / hz * 1e6 / requests }
    ' "$work/wrk"
}

declare -A best least
echo "wrk -t$WRK_THREADS, $DURATION per run, $ROUNDS rounds; $(nproc) cores; $(uname -sr)" >&2
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="looplab hyper"; else order="hyper looplab"; fi
    for shape in $SHAPES; do
        for server in $order; do
            # The hyper peer has no log: its slow-log run would repeat its slow one.
            if [ "$server" = hyper ] && [ "$shape" = slow-log ]; then continue; fi
            read -r rps cpu < <(measure "$server" "$shape") || true
            echo "round $round  $shape  $server  ${rps:-?} req/s  ${cpu:-?} µs CPU per request" >&2
            key="$server/$shape"
            if [ -n "$rps" ] && [ "${best[$key]:-0}" -lt "$rps" ]; then best[$key]=$rps; fi
            if [ -n "$cpu" ] && awk -v c="$cpu" -v b="${least[$key]:-}" 'BEGIN { exit !(b == "" || c < b) }'; then
                least[$key]=$cpu
            fi
        done
    done
done

echo
echo "| shape | looplab req/s | hyper req/s | ratio | looplab µs CPU/req | hyper µs CPU/req | ratio |"
echo "|---|---|---|---|---|---|---|"
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
    lc=${least[looplab/$shape]:-0}
    hc=${least[hyper/$peer]:-0}
    cpu_ratio=$(awk -v l="$lc" -v h="$hc" 'BEGIN { if (h > 0) printf "%.2f", l / h; else print "?" }')
    echo "| $shape | $l$note | $h | **$ratio** | $lc | $hc | $cpu_ratio |"
done
