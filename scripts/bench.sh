#!/usr/bin/env bash
# The performance ladder of docs/performance.md. For each step it starts a fresh mosquitto and the release-built
# gateway on loopback ports, runs ocpp-loadgen against them, and at the end writes a results table.
#
# Usage: ./scripts/bench.sh [STEP...]     (no step: the whole ladder, about 9 minutes)
#   light       10 chargers, 1 MeterValues/s each, 30 s       (MeterValues -> MQTT latency at light load)
#   commands    10 chargers, 500 MQTT commands one at a time  (command latency)
#   c1 c100 c1000 c5000   N chargers, 1 MeterValues/s each    (c5000: the fleet target; c1000 and c5000 start
#               metering 10 s after the last charger is ready, once the connects' discovery configs are out)
#   c10000      10,000 chargers, 1 MeterValues/s each, settling 20 s (issue 25's target; not in the default ladder)
#   idle10000   10,000 connected idle chargers                (memory per charger)
#   saturation  200 chargers sending back to back, 30 s       (the ceiling)
#   c5000-both saturation-both   the same with MQTT_CONNECTOR_1_TOPICS=true: connector 1's topics twice, flat and under
#               connector/1 (18 publications per MeterValues, not 9), the default layout before 0.9.0
#   relay1000   c1000 with every charger relayed (RELAY_URL) to a local upstream central system that answers at once
#               (ocpp-loadgen --serve-upstream): compare its CPU per MeterValues with c1000's
#   relay1000-2sec   relay1000 with two secondary central systems as well (RELAY_SECONDARY_URLS)
#   relay1000-v201   relay1000 with OCPP 2.0.1 chargers (the upstream speaks 2.0.1 too)
#   c1000-console    c1000 with the web console open: one event stream (/api/events) reading the live state
#   c1000-v201  c1000 with OCPP 2.0.1 chargers (readings in TransactionEvent; issue 24): compare with c1000
#   c1000-steady, c1000-steady-skip   c1000 with current and voltage holding still (--steady), without and with
#               MQTT_SKIP_UNCHANGED=true: what skipping unchanged readings saves the gateway and the broker
# Results go to bench-results/<time>/ (one JSON per step, results.md with the table). Not part of the test suite.
# GATEWAY_ENV="NAME=value ..." adds settings to every step's gateway (MQTT_CONNECTOR_1_TOPICS=false for an older build's
# one-copy layout, say).
# GATEWAY_BIN=path runs another gateway binary (an older build, to compare) with the same load generator.
# PERF_AFTER=S PERF_SECONDS=N records a profile of the gateway (perf record -e cpu-clock -g) for N seconds, starting S
# seconds after the step's gateway started (into the metering window), to bench-results/<time>/<step>.perf.data.
# BROKER_TCP_NODELAY=true starts mosquitto with set_tcp_nodelay true (Nagle off on its side; its default is false,
# which is what the ladder runs since the eighth round).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

require_swift
apt_install libsqlite3-dev pkg-config mosquitto
swift build -c release --product ocpp-gateway
swift build -c release --product ocpp-loadgen
bin=.build/release
gateway_bin="${GATEWAY_BIN:-$bin/ocpp-gateway}"

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(light commands c1 c100 c1000 c5000 idle10000 saturation c5000-both saturation-both relay1000 relay1000-2sec)
out="bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
work=$(mktemp -d)
broker_pid="" gateway_pid="" upstream_pids=() after_start=""
gateway_env=()  # extra settings for the gateway of one step
cleanup() {  # stops the gateway and the broker; reports a gateway that did not stop cleanly
    if [ -n "$gateway_pid" ] && kill -TERM "$gateway_pid" 2>/dev/null; then
        local status=0
        wait "$gateway_pid" 2>/dev/null || status=$?
        if [ "$status" -ne 0 ]; then
            echo "   (the gateway exited with status $status; its last lines:)"
            tail -n 5 "$work/gateway.log" | sed 's/^/   | /'
        fi
    fi
    if [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null; then wait "$broker_pid" 2>/dev/null || true; fi
    for pid in "${upstream_pids[@]}"; do
        if kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
    done
    gateway_pid="" broker_pid="" upstream_pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT
# 10,000 chargers need 10,000 sockets in the gateway and as many in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 10500 ] || echo "warning: only $(ulimit -n) file descriptors; idle10000 needs more than 10,000" >&2

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {  # PORT PID NAME
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { echo "error: $3 exited" >&2; return 1; }
        sleep 0.1
    done
    echo "error: $3 did not listen on $1" >&2
    return 1
}

start() {  # a fresh broker and gateway
    mqtt_port=$(free_port) ocpp_port=$(free_port)
    rm -rf "$work/data" && mkdir -p "$work/data"
    {
        echo "listener $mqtt_port 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
        [ "${BROKER_TCP_NODELAY:-false}" = true ] && echo "set_tcp_nodelay true"
        # The load generator subscribes to every energy publish: let the broker queue them rather than drop them.
        echo "max_queued_messages 1000000"
        [ "$(id -u)" -eq 0 ] && echo "user root"
    } > "$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
    broker_pid=$!
    wait_for_port "$mqtt_port" "$broker_pid" mosquitto
    LISTEN_ADDR=127.0.0.1 LISTEN_PORT=$ocpp_port ADMIN_ADDR=127.0.0.1 ADMIN_PORT=0 \
        MQTT_HOSTNAME=127.0.0.1 MQTT_PORT=$mqtt_port MQTT_USESTATIONNAME=true \
        AUTHORIZED_TAG_ID_LIST='["LOADGEN"]' DATA_DIR="$work/data" LOG_LEVEL=warning \
        env ${GATEWAY_ENV:-} "${gateway_env[@]}" "$gateway_bin" > "$work/gateway.log" 2>&1 &
    gateway_pid=$!
    wait_for_port "$ocpp_port" "$gateway_pid" ocpp-gateway
    if [ -n "${after_start:-}" ]; then $after_start; fi
}

watch_console() {  # ADMIN_PORT: reads the console's event stream, as an open browser tab does, until the step ends
    wait_for_port "$1" "$gateway_pid" "the admin listener"
    curl -sN "http://127.0.0.1:$1/api/events" > "$work/events.log" &
    upstream_pids+=($!)  # stopped with the step's other helpers
}

start_upstream() {  # starts an upstream central system that answers at once; sets upstream_url
    local port
    port=$(free_port)
    "$bin/ocpp-loadgen" --serve-upstream "127.0.0.1:$port" > /dev/null 2>> "$work/upstream.log" &
    upstream_pids+=($!)
    wait_for_port "$port" "$!" "the bench upstream"
    upstream_url="ws://127.0.0.1:$port"
}

loadgen() {  # STEP ARGS...
    local step=$1
    shift
    echo "== $step: ocpp-loadgen $*"
    start
    if [ -n "${PERF_SECONDS:-}" ]; then
        # A delay into the metering window, not a synchronisation: the profile is an aid, not a measurement.
        (sleep "${PERF_AFTER:-30}" && perf record -q -e cpu-clock -F 999 -g -p "$gateway_pid" -o "$out/$step.perf.data" \
            -- sleep "$PERF_SECONDS" > /dev/null 2>&1) &
    fi
    "$bin/ocpp-loadgen" --gateway "127.0.0.1:$ocpp_port" --mqtt "127.0.0.1:$mqtt_port" \
        --gateway-pid "$gateway_pid" --broker-pid "$broker_pid" --json "$out/$step.json" "$@" \
        || echo "   ($step was not clean: see the failures above)"
    cleanup
}

for step in "${steps[@]}"; do
    case "$step" in
        light) loadgen light --chargers 10 --rate 1 --duration 30 ;;
        commands) loadgen commands --mode command --chargers 10 --commands 500 ;;
        c1) loadgen c1 --chargers 1 --rate 1 --duration 30 ;;
        c100) loadgen c100 --chargers 100 --rate 1 --duration 30 ;;
        c1000) loadgen c1000 --chargers 1000 --rate 1 --duration 30 --settle 10 ;;
        c5000) loadgen c5000 --chargers 5000 --rate 1 --duration 60 --settle 10 ;;
        c10000) loadgen c10000 --chargers 10000 --rate 1 --duration 60 --settle 20 ;;
        c5000-both)
            gateway_env=(MQTT_CONNECTOR_1_TOPICS=true)
            loadgen c5000-both --chargers 5000 --rate 1 --duration 60 --settle 10
            gateway_env=() ;;
        saturation-both)
            gateway_env=(MQTT_CONNECTOR_1_TOPICS=true)
            loadgen saturation-both --chargers 200 --rate 0 --duration 30
            gateway_env=() ;;
        idle10000) loadgen idle10000 --mode idle --chargers 10000 --duration 15 ;;
        saturation) loadgen saturation --chargers 200 --rate 0 --duration 30 ;;
        relay1000)
            start_upstream
            gateway_env=(RELAY_URL="$upstream_url/ocpp" RELAY_AUTH=none)
            loadgen relay1000 --chargers 1000 --rate 1 --duration 30 --settle 10
            gateway_env=() ;;
        relay1000-2sec)
            start_upstream; primary_url=$upstream_url
            start_upstream; first_secondary=$upstream_url
            start_upstream
            gateway_env=(RELAY_URL="$primary_url/ocpp" RELAY_AUTH=none RELAY_SECONDARY_URLS="$first_secondary/a,$upstream_url/b")
            loadgen relay1000-2sec --chargers 1000 --rate 1 --duration 30 --settle 10
            gateway_env=() ;;
        c1000-v201) loadgen c1000-v201 --chargers 1000 --rate 1 --duration 30 --settle 10 --ocpp 2.0.1 ;;
        relay1000-v201)
            start_upstream
            gateway_env=(RELAY_URL="$upstream_url/ocpp" RELAY_AUTH=none)
            loadgen relay1000-v201 --chargers 1000 --rate 1 --duration 30 --settle 10 --ocpp 2.0.1
            gateway_env=() ;;
        c1000-steady) loadgen c1000-steady --chargers 1000 --rate 1 --duration 30 --settle 10 --steady ;;
        c1000-steady-skip)
            gateway_env=(MQTT_SKIP_UNCHANGED=true)
            loadgen c1000-steady-skip --chargers 1000 --rate 1 --duration 30 --settle 10 --steady
            gateway_env=() ;;
        c1000-console)
            admin_port=$(free_port)
            gateway_env=(ADMIN_PORT="$admin_port")
            after_start="watch_console $admin_port"
            loadgen c1000-console --chargers 1000 --rate 1 --duration 30 --settle 10
            after_start="" gateway_env=() ;;
        *) echo "error: unknown step $step" >&2; exit 2 ;;
    esac
done

python3 - "$out" <<'PY'
import json, os, platform, sys
out = sys.argv[1]
rows = []
def us(summary, key):
    return f"{summary[key]:.0f}" if summary and summary.get("count") else "-"
for name in sorted(os.listdir(out)):
    if not name.endswith(".json"):
        continue
    r = json.load(open(os.path.join(out, name)))
    rows.append("| {} | {} | {} | {} | {} | {} | {} / {} | {} / {} / {} | {} | {} | {} | {} |".format(
        name[:-5], r["chargers"], r["meter_values_answered"], f'{r["achieved_per_s"]:.0f}', r["lost"],
        r["call_errors"] + r["connect_failures"] + r["disconnects"] + r["commands_failed"],
        us(r["meter_values_rtt"], "p50_us"), us(r["meter_values_rtt"], "p99_us"),
        us(r["meter_values_to_mqtt"], "p50_us"), us(r["meter_values_to_mqtt"], "p99_us"), us(r["meter_values_to_mqtt"], "max_us"),
        r.get("cpu_us_per_meter_values") or "-", r.get("rss_kib_per_charger") or "-",
        us(r["command_to_charger"], "p50_us"), us(r["command_round_trip"], "p50_us")))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
table = "\n".join([
    f"Machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}", "",
    "| step | chargers | MeterValues | per s | lost | errors | RTT p50 / p99 µs | to MQTT p50 / p99 / max µs | gateway CPU µs per MeterValues | RSS KiB per charger | cmd -> charger p50 µs | cmd -> result p50 µs |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows])
open(os.path.join(out, "results.md"), "w").write(table + "\n")
print(table)
PY
echo "Results: $out/results.md"
