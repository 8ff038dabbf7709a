#!/usr/bin/env bash
# Runs every test: the Swift unit tests, then the interop tests that drive the built gateway with the
# Python `ocpp` package as a charge point against real mosquitto brokers the tests start on loopback ports.
# Installs what they need first (Debian packages, a Python venv). Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

require_swift
apt_install libsqlite3-dev pkg-config mosquitto mosquitto-clients jq chromium chromium-driver
python_venv Tests/Interop/requirements.txt

echo "== Building"
swift build
echo "== Swift tests"
swift test
echo "== Interop tests (Python ocpp charge point against the gateway)"
.venv/bin/python -m pytest -p no:cacheprovider Tests/Interop
