// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ocpp-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ocpp-gateway", targets: ["ocpp-gateway"]),
        .executable(name: "ocpp-loadgen", targets: ["ocpp-loadgen"]),
        .library(name: "OCPP", targets: ["OCPP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // OCPP-J 1.6: frames, CallError codes, typed messages. No I/O.
        .target(name: "OCPP"),
        // The central system: sessions, authorization, transactions, commands, events. No sockets, no MQTT.
        .target(
            name: "CentralSystem",
            dependencies: [
                "OCPP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The charger-facing WebSocket listener on SwiftNIO.
        .target(
            name: "OCPPServer",
            dependencies: [
                "OCPP",
                "CentralSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The store: SQLite (Debian libsqlite3-dev) under DATA_DIR.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "Store", dependencies: ["CSQLite", "OCPP", "CentralSystem", "MQTTBridge", "Relay"]),
        // MQTT 3.1.1 client on SwiftNIO (TCP, TLS, a Unix socket or WebSocket): one connection, publishes in batches.
        .target(
            name: "MQTT",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The MQTT contract: topics, state publishing, commands. Talks to MQTT through a small protocol.
        .target(
            name: "MQTTBridge",
            dependencies: [
                "OCPP",
                "CentralSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Relay mode: the upstream central system's connections, routing between it, the charger and the gateway.
        .target(
            name: "Relay",
            dependencies: [
                "OCPP",
                "CentralSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Configuration, logging set-up and service wiring.
        .target(
            name: "GatewayApp",
            dependencies: [
                "OCPP",
                "CentralSystem",
                "OCPPServer",
                "MQTT",
                "MQTTBridge",
                "Store",
                "Relay",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "ocpp-gateway", dependencies: ["GatewayApp"]),
        // The gateway plus a JSON-lines console on stdin/stdout, for the interop tests. Not shipped.
        .executableTarget(
            name: "ocpp-test-harness",
            dependencies: [
                "GatewayApp", "CentralSystem", "OCPP",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The load generator (docs/performance.md): simulated chargers plus an MQTT probe. Not shipped.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "OCPP", "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "ocpp-loadgen", dependencies: ["LoadGenerator"]),

        // What several test targets share: in-memory stores behind the modules' small protocols, a seeded random source.
        .target(name: "TestSupport", dependencies: ["CentralSystem", "MQTTBridge"], path: "Tests/TestSupport"),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "OCPP"]),
        .testTarget(
            name: "MQTTTests",
            dependencies: [
                "MQTT", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "OCPPTests", dependencies: ["OCPP", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CentralSystemTests", dependencies: ["CentralSystem", "OCPP", "TestSupport"]),
        .testTarget(name: "RelayTests", dependencies: ["Relay", "CentralSystem", "OCPP", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "OCPPServerTests",
            dependencies: [
                "OCPPServer", "CentralSystem", "OCPP", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "GatewayAppTests", dependencies: ["GatewayApp"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "CentralSystem", "MQTTBridge", "Relay", "OCPP", "TestSupport"]),
        .testTarget(name: "MQTTBridgeTests", dependencies: ["MQTTBridge", "CentralSystem", "OCPP", "TestSupport"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
