#!/usr/bin/env bash
# Builds the libFuzzer targets (frame decoder, message decoders, MQTT command parser, MQTT packet decoder and session)
# with AddressSanitizer and
# runs each for the given number of seconds (default 60), starting from the seed corpora in Fuzz/corpus.
# New inputs go to .build-fuzz/corpus/<target>; crashes to .build-fuzz/crash-*. Usage: ./scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build-fuzz
mkdir -p "$out/src"

# The targets are compiled with swiftc as one module, so the sources' imports of our own modules are dropped.
build() {
    local name=$1; shift
    local dir="$out/src/$name"
    rm -rf "$dir" && mkdir -p "$dir"
    for file in "$@"; do sed -E '/^import (OCPP|CentralSystem|Logging|Metrics)$/d' "$file" > "$dir/$(basename "$file")"; done
    echo "== Building $name"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz$name" "$dir"/*.swift -o "$out/$name" 2> "$out/$name.build.log" \
        || { cat "$out/$name.build.log" >&2; exit 1; }
}

build frame Sources/OCPP/*.swift Fuzz/FrameFuzz.swift
build payload Sources/OCPP/*.swift Fuzz/PayloadFuzz.swift
build command Sources/OCPP/*.swift Sources/MQTTBridge/Command.swift Sources/MQTTBridge/CommandResultCode.swift \
    Sources/MQTTBridge/JSONValue.swift Fuzz/CommandFuzz.swift

# The MQTT target needs NIOCore (ByteBuffer): it is built as a small package of its own beside the sources it
# tests, with the package mirror's swift-nio.
mqtt_package() {
    local dir="$out/mqtt-package"
    mkdir -p "$dir/Sources/FuzzMQTT"
    rm -f "$dir/Sources/FuzzMQTT"/*.swift
    cp Sources/MQTT/Packet.swift Sources/MQTT/PacketTable.swift Sources/MQTT/MQTTSession*.swift Sources/MQTT/MQTTTypes.swift \
        Fuzz/MQTTPacketFuzz.swift "$dir/Sources/FuzzMQTT/"
    nio=$(sed -nE 's/.*swift-nio.git", from: "([0-9.]+)".*/\1/p' Package.swift)
    cat > "$dir/Package.swift" <<PACKAGE
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "FuzzMQTT",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "$nio")],
    targets: [.executableTarget(name: "FuzzMQTT", dependencies: [.product(name: "NIOCore", package: "swift-nio")])]
)
PACKAGE
    echo "== Building mqtt"
    (cd "$dir" && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library) > "$out/mqtt.build.log" 2>&1 \
        || { cat "$out/mqtt.build.log" >&2; exit 1; }
    cp "$dir/.build/release/FuzzMQTT" "$out/mqtt"
}
mqtt_package

status=0
for name in frame payload command mqtt; do
    mkdir -p "$out/corpus/$name"
    echo "== Fuzzing $name for ${seconds}s"
    if ! "$out/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crash-$name-" "$out/corpus/$name" "Fuzz/corpus/$name" 2> "$out/$name.log"; then
        status=1
        echo "!! $name found a failure; see $out/$name.log and $out/crash-$name-*" >&2
    fi
    grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov:" "$out/$name.log" | tail -3
done
exit $status
