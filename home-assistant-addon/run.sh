#!/usr/bin/env bash
# The add-on's entry point: maps the options (/data/options.json, written by the Supervisor from the form) to the
# gateway's environment (docs/configuration.md), finds the MQTT broker, and runs the gateway in its place.
#
# The broker: the options' mqtt_host when set; otherwise the Supervisor's MQTT service (the Mosquitto broker add-on,
# with the user name and password it made for this add-on). Neither: the add-on stops with a message saying so.
#
# For tests, three variables point elsewhere: ADDON_OPTIONS (the options file), SUPERVISOR_API (the Supervisor's
# address) and GATEWAY_BIN (what is run at the end).
set -euo pipefail

options="${ADDON_OPTIONS:-/data/options.json}"
supervisor="${SUPERVISOR_API:-http://supervisor}"
gateway="${GATEWAY_BIN:-/usr/local/bin/ocpp-gateway}"

log() { echo "[ocpp-gateway add-on] $*" >&2; }

# The option's value as text ("" when unset or null); lists and objects as JSON.
option() { jq -r --arg key "$1" '.[$key] // empty | if type == "array" or type == "object" then tojson else tostring end' "$options"; }
# A list option, comma-separated.
joined() { jq -r --arg key "$1" '(.[$key] // []) | map(tostring) | join(",")' "$options"; }
# A boolean option, `true` when unset (jq's `//` would take false for unset too).
boolean() { jq -r --arg key "$1" 'if .[$key] == null then true else .[$key] end' "$options"; }
# Exports NAME=value when the value is not empty.
export_set() { if [ -n "$2" ]; then export "$1=$2"; fi; }

[ -r "$options" ] || { log "cannot read the options ($options)"; exit 1; }

# Where the add-on keeps its things, and where it listens: chargers on 3000, the console on the Ingress port.
export DATA_DIR="${DATA_DIR:-/data}"
export LISTEN_ADDR=0.0.0.0 LISTEN_PORT=3000 ADMIN_ADDR=0.0.0.0 ADMIN_PORT=8099
# Home Assistant's Ingress proxy has logged the user in already: it needs no admin token.
export ADMIN_TRUSTED_ADDRESSES=172.30.32.2
# Logs go to the add-on's log page, which shows its own times.
export LOG_FORMAT=text ENV_FILE=

export AUTHORIZED_TAG_ID_LIST="$(jq -c '.authorized_tags // []' "$options")"
export_set MQTT_BASEPATH "$(option base_path)"
export MQTT_USESTATIONNAME="$(boolean use_station_names)"
export EXPECTED_CHARGE_POINTS="$(jq -c '.expected_stations // []' "$options")"
export_set OCPP_HEARTBEAT_INTERVAL "$(option heartbeat_interval)"
export HA_DISCOVERY="$(boolean home_assistant_discovery)"
export_set RELAY_URL "$(option relay_url)"
export_set RELAY_SECONDARY_URLS "$(joined secondary_urls)"
passwords="$(jq -c '(.station_passwords // []) | map({(.station): .password}) | add // empty' "$options")"
export_set OCPP_STATION_PASSWORDS "$passwords"
export_set OCPP_ALLOWED_STATIONS "$(joined allowed_stations)"
certificate="$(option tls_certificate)"
key="$(option tls_key)"
if [ -n "$certificate$key" ]; then
    [ -n "$certificate" ] && [ -n "$key" ] || { log "tls_certificate and tls_key go together (files in /ssl)"; exit 1; }
    # Names relative to Home Assistant's /ssl folder, as other add-ons take them.
    case "$certificate" in /*) ;; *) certificate="/ssl/$certificate" ;; esac
    case "$key" in /*) ;; *) key="/ssl/$key" ;; esac
    export OCPP_TLS_CERT="$certificate" OCPP_TLS_KEY="$key"
fi
export_set ADMIN_TOKEN "$(option admin_token)"
export_set LOG_LEVEL "$(option log_level)"

# The broker.
if [ -n "$(option mqtt_host)" ]; then
    export MQTT_HOSTNAME="$(option mqtt_host)"
    export_set MQTT_PORT "$(option mqtt_port)"
    export_set MQTT_USERNAME "$(option mqtt_username)"
    export_set MQTT_PASSWORD "$(option mqtt_password)"
    log "MQTT broker from the options: $MQTT_HOSTNAME:${MQTT_PORT:-1883}"
elif [ -n "${SUPERVISOR_TOKEN:-}" ] \
    && service="$(curl -fsS --max-time 10 -H "Authorization: Bearer $SUPERVISOR_TOKEN" "$supervisor/services/mqtt")"; then
    export MQTT_HOSTNAME="$(jq -r '.data.host' <<<"$service")"
    export MQTT_PORT="$(jq -r '.data.port' <<<"$service")"
    export_set MQTT_USERNAME "$(jq -r '.data.username // empty' <<<"$service")"
    export_set MQTT_PASSWORD "$(jq -r '.data.password // empty' <<<"$service")"
    if [ "$(jq -r '.data.ssl // false' <<<"$service")" = "true" ]; then
        export MQTT_TLS_CA=/etc/ssl/certs/ca-certificates.crt
    fi
    log "MQTT broker from Home Assistant's MQTT service: $MQTT_HOSTNAME:$MQTT_PORT"
else
    log "no MQTT broker: install and start the Mosquitto broker add-on, or set mqtt_host in the options"
    exit 1
fi

# Any other setting of docs/configuration.md, as NAME=value lines.
while IFS= read -r line; do
    [ -n "$line" ] || continue
    case "$line" in
        [A-Z]*=*) export "${line%%=*}=${line#*=}" ;;
        *) log "env_vars takes NAME=value, not: ${line%%=*}"; exit 1 ;;
    esac
done < <(jq -r '(.env_vars // [])[]' "$options")

exec "$gateway"
