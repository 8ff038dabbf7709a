#!/usr/bin/env bash
# Builds the gateway (release) and runs it with the settings from the environment and ./.env.
# Usage: ./scripts/run.sh        (stop it with Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

require_swift
swift build -c release --product ocpp-gateway
exec .build/release/ocpp-gateway "$@"
