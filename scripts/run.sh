#!/usr/bin/env bash
# Builds the gateway (release) and runs it with the settings from the environment and ./.env (or $ENV_FILE).
# When no broker is configured (MQTT_HOSTNAME unset in both), it first starts a local mosquitto on 127.0.0.1,
# on MQTT_PORT (1883) or, if that is taken, a free port, and stops it again when the gateway stops. Without ADMIN_ADDR
# and an admin token, the admin listener (and its web console) is put on 127.0.0.1.
# Usage: ./scripts/run.sh [ARGS]   (stop it with Ctrl-C: the gateway closes its chargers, says offline, and only then
# does the local broker stop). GATEWAY_BIN=path runs that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if [ -z "${GATEWAY_BIN:-}" ]; then
    require_swift
    apt_install libsqlite3-dev pkg-config
    swift build -c release --product ocpp-gateway
fi
gateway_bin="${GATEWAY_BIN:-.build/release/ocpp-gateway}"

env_file="${ENV_FILE:-.env}"
configured() { [ -n "${!1:-}" ] || grep -qE "^[[:space:]]*(export[[:space:]]+)?$1=.+" "$env_file" 2>/dev/null; }

broker_pid=""
if ! configured MQTT_HOSTNAME; then
    apt_install mosquitto mosquitto-clients
    port="${MQTT_PORT:-1883}"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    mkdir -p .run
    {
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence true"
        echo "persistence_location $PWD/.run/"
        [ "$(id -u)" -eq 0 ] && echo "user root"
    } > .run/mosquitto.conf
    # In a process group of its own, like the gateway below: Ctrl-C reaches only this script, which stops the
    # gateway (one signal: a second one would end it at once) and then the broker.
    setsid mosquitto -c .run/mosquitto.conf > .run/mosquitto.log 2>&1 &
    broker_pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$broker_pid" 2>/dev/null || { echo "error: mosquitto did not start:" >&2; cat .run/mosquitto.log >&2; exit 1; }
        sleep 0.1
    done
    export MQTT_HOSTNAME=127.0.0.1 MQTT_PORT="$port"
    echo "Started a local MQTT broker on 127.0.0.1:$port. Watch it with:"
    echo "  mosquitto_sub -h 127.0.0.1 -p $port -t '#' -v"
fi

# The web console: without a token it is served on a loopback listener only, so a try-out on this machine gets it there.
if ! configured ADMIN_ADDR && ! configured ADMIN_TOKEN && ! configured ADMIN_TOKEN_FILE; then
    export ADMIN_ADDR=127.0.0.1
    echo "The web console: http://127.0.0.1:${ADMIN_PORT:-8080}/ (this machine only; set ADMIN_TOKEN to open it to others)"
fi

setsid "$gateway_bin" "$@" &
gateway_pid=$!
interrupted=""
trap 'interrupted=1; kill -TERM "$gateway_pid" 2>/dev/null || true' INT TERM
status=0
wait "$gateway_pid" || status=$?
# A signal interrupts the first wait; wait again for the gateway's own clean shutdown and its exit status.
if [ -n "$interrupted" ]; then status=0; wait "$gateway_pid" || status=$?; fi
if [ -n "$broker_pid" ]; then kill -TERM "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
exit "$status"
