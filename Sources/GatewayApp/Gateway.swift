import CentralSystem
import Foundation
import Logging
import MQTTBridge
import Metrics
import MQTT
import NIOPosix
import OCPPServer
import Relay
import Prometheus
import ServiceLifecycle
import Synchronization
import Store

/// The gateway process: reads its configuration, then runs its services until SIGTERM or SIGINT.
public enum Gateway {
    /// Runs the gateway and returns the process exit code: 0 after a clean shutdown, 2 for a bad
    /// configuration, 1 when a service fails.
    ///
    /// - Parameter additionalServices: services to run beside the gateway's own, given its central system
    ///   (the interop test harness adds its command console this way).
    /// `ocpp-gateway check-config`: loads the configuration as ``run(environment:additionalServices:)`` does, and
    /// prints the error that would stop the start, or that it is good (exit code 2 or 0).
    public static func checkConfiguration(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        do {
            let configuration = try GatewayConfiguration.load(environment: environment,
                                                              workingDirectory: FileManager.default.currentDirectoryPath)
            print("ocpp-gateway \(gatewayVersion): the configuration is good (\(configuration.relay == nil ? "standalone" : "relay mode"))")
            return 0
        } catch {
            FileHandle.standardError.write(Data("ocpp-gateway: configuration error: \(error)\n".utf8))
            return 2
        }
    }

    public static func run(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        additionalServices: @Sendable (CentralSystem) -> [any Service] = { _ in [] }
    ) async -> Int32 {
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(
                environment: environment, workingDirectory: FileManager.default.currentDirectoryPath)
        } catch {
            FileHandle.standardError.write(Data("ocpp-gateway: configuration error: \(error)\n".utf8))
            return 2
        }
        guard let output = makeLogOutput(configuration.logging) else { return 2 }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { _ in GatewayLogHandler(output: output, logLevel: level) }
        let logger = Logger(label: "ocpp-gateway")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        Gauge(label: "ocpp_gateway_build_info", dimensions: [("version", gatewayVersion)]).record(1)
        let signals = ShutdownSignals.install(logger: logger)

        let centralSystem: CentralSystem
        let store: SQLiteStore
        do {
            store = try SQLiteStore(directory: configuration.dataDirectory)
            centralSystem = try CentralSystem(configuration: configuration.centralSystem, store: store, logger: logger)
        } catch {
            logger.critical("Cannot use the data directory", metadata: ["error": "\(error)", "setting": "\(Settings.dataDir.name)"])
            return 1
        }
        // The gateway's own loops, as many as EVENT_LOOP_THREADS says; nothing here uses NIO's shared group.
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads)
        let code = await serve(configuration: configuration, centralSystem: centralSystem, store: store, eventLoops: eventLoops,
                               registry: registry, signals: signals, logger: logger, additionalServices: additionalServices)
        try? await eventLoops.shutdownGracefully()
        return code
    }

    /// Runs the services on `eventLoops` until a signal stops them; returns the exit code.
    private static func serve(
        configuration: GatewayConfiguration, centralSystem: CentralSystem, store: SQLiteStore, eventLoops: MultiThreadedEventLoopGroup,
        registry: PrometheusCollectorRegistry, signals: ShutdownSignals, logger: Logger,
        additionalServices: @Sendable (CentralSystem) -> [any Service]
    ) async -> Int32 {
        let server = OCPPServer(configuration: configuration.server, centralSystem: centralSystem, logger: logger,
                                eventLoopGroup: eventLoops)
        var mqttConfiguration = configuration.mqtt
        if mqttConfiguration.clientID.isEmpty {
            mqttConfiguration.clientID = InstallationIdentity.clientID(dataDirectory: configuration.dataDirectory)
        }
        mqttConfiguration.will = .init(topic: configuration.bridge.topics.bridgeState, payload: "offline", qos: 1, retain: true)
        let (transportEvents, transportContinuation) = AsyncStream<MQTTTransportEvent>.makeStream(bufferingPolicy: .unbounded)
        // Acknowledgements go straight to the bridge on the MQTT connection's event loop (those of one read together:
        // a task wake-up would cost more than the acknowledgements themselves); everything else through the stream, in order.
        let acknowledgements = Mutex<MQTTBridge?>(nil)
        let mqtt: MQTTClient
        do {
            mqtt = try MQTTClient(configuration: mqttConfiguration, logger: logger, eventLoopGroup: eventLoops) { event in
                if case .published(let messageIDs) = event, let bridge = acknowledgements.withLock({ $0 }) {
                    bridge.acknowledged(messageIDs: messageIDs)
                } else {
                    transportContinuation.yield(MQTTClientTransport.bridgeEvent(event))
                }
            }
        } catch {
            logger.critical("Cannot set up the MQTT client: \(error)")
            return 1
        }
        var bridgeConfiguration = configuration.bridge
        bridgeConfiguration.info = configuration.publicInfo(clientID: mqttConfiguration.clientID)
        let bridge = MQTTBridge(
            configuration: bridgeConfiguration, centralSystem: centralSystem, outbox: store, commands: store,
            transport: MQTTClientTransport(client: mqtt),
            transportEvents: transportEvents, logger: logger)
        acknowledgements.withLock { $0 = bridge }
        if let relayConfiguration = configuration.relay {
            do {
                centralSystem.setRelay(try Relay(configuration: relayConfiguration, centralSystem: centralSystem, store: store, group: eventLoops, logger: logger,
                                                  snoop: bridge.snoop))
            } catch {
                logger.critical("Cannot set up relay mode", metadata: ["error": "\(error)", "setting": "\(Settings.relayTLSCA.name)"])
                return 1
            }
            logger.info("Relay mode: every charger is relayed to the upstream central system", metadata: [
                "relay.url": "\(relayConfiguration.url)", "relay.secondaries": "\(relayConfiguration.secondaries.map(\.url))",
            ])
            if !relayConfiguration.ignoredStationsFileKeys.isEmpty {
                logger.warning("RELAY_STATIONS_FILE is the mirroring proxy's config.json: these keys of it mean nothing here and are ignored", metadata: [
                    "relay.ignored_keys": "\(relayConfiguration.ignoredStationsFileKeys.joined(separator: ","))",
                ])
            }
        }
        let api = AdminAPI(
            centralSystem: centralSystem, server: server, bridge: bridge, registry: registry,
            dataDirectory: configuration.dataDirectory, readyRequiresMQTT: configuration.admin.readyRequiresMQTT,
            eventLoops: eventLoops,
            access: AdminAccess(token: configuration.admin.token, host: configuration.admin.host,
                                trustedAddresses: configuration.admin.trustedAddresses),
            prices: configuration.admin.prices,
            about: .init(version: gatewayVersion, broker: mqttConfiguration.brokerDescription),
            refusals: ThrottledLog(logger: logger))
        if configuration.admin.token == nil, !api.access.isLoopbackOnly {
            logger.warning("The admin listener has no ADMIN_TOKEN: it serves only /healthz, /readyz and /metrics (the console and /api/* answer 403); set ADMIN_TOKEN (or ADMIN_TOKEN_FILE), or ADMIN_ADDR=127.0.0.1", metadata: [
                "admin.address": "\(configuration.admin.host)",
                "admin.trusted_addresses": "\(configuration.admin.trustedAddresses.sorted().joined(separator: ","))",
            ])
        } else {
            logger.info("Web console", metadata: [
                "admin.console": "http://\(configuration.admin.host == "0.0.0.0" ? "<this host>" : configuration.admin.host):\(configuration.admin.port)/",
                "admin.token_required": "\(configuration.admin.token != nil)",
            ])
        }
        let admin = AdminServer(host: configuration.admin.host, port: configuration.admin.port, group: eventLoops,
                                logger: logger) { request in
            await api.respond(request)
        }
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        if let descriptors, descriptors < configuration.server.maxStations + 1024 {
            logger.warning("Too few file descriptors for OCPP_MAX_STATIONS chargers: raise the limit (ulimit -n, systemd LimitNOFILE, docker --ulimit nofile) or lower OCPP_MAX_STATIONS", metadata: [
                "gateway.file_descriptors": "\(descriptors)", "ocpp.max_stations": "\(configuration.server.maxStations)",
            ])
        }
        logger.info("Starting", metadata: [
            "gateway.version": "\(gatewayVersion)",
            "mqtt.broker": "\(mqttConfiguration.brokerDescription)", "mqtt.client_id": "\(mqttConfiguration.clientID)",
            "mqtt.base_path": "\(configuration.bridge.topics.basePath)",
            "mqtt.use_station_name": "\(configuration.bridge.topics.useStationName)",
            "mqtt.connector_1_topics": "\(configuration.bridge.topics.connectorOneTopics.rawValue)",
            "gateway.event_loop_threads": "\(configuration.eventLoopThreads)",
            "gateway.file_descriptors": "\(descriptors.map(String.init) ?? "unknown")",
            "ocpp.versions": "\(configuration.server.versions.map(\.rawValue).joined(separator: ","))",
        ])
        if configuration.server.versions.contains(.v201), configuration.server.access.passwords == nil,
           configuration.server.tls?.settings.clientCAFile == nil {
            // OCPP 2.0.1 has no security profile 0: a 2.0.1 charger expects at least a password (profile 1).
            logger.warning("OCPP 2.0.1 chargers may connect without a password, which 2.0.1's security profiles do not allow: set OCPP_STATION_PASSWORDS (profile 1 or 2) or a client CA (profile 3), or leave ocpp2.0.1 out of OCPP_VERSIONS", metadata: [
                "ocpp.versions": "\(configuration.server.versions.map(\.rawValue).joined(separator: ","))",
            ])
        }
        // Started in this order, stopped in reverse: chargers first (closed with 1001), then the bridge publishes
        // their last state, then the MQTT client says offline and disconnects; the admin API answers to the end
        // (/readyz says 503 as soon as the charger listener closes).
        var services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: StoreCheckpoints(store: store, logger: logger)), .init(service: admin), .init(service: mqtt),
             .init(service: bridge), .init(service: server)]
        if let tls = configuration.server.tls {
            services.append(.init(service: CertificateReloader(provider: tls, interval: .seconds(30), logger: logger)))
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: services + additionalServices(centralSystem).map { .init(service: $0) },
            logger: logger)  // SIGTERM and SIGINT: ShutdownSignals triggers the graceful shutdown
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        do {
            let group = ServiceGroup(configuration: groupConfiguration)
            signals.attach(group)
            try await group.run()
            centralSystem.finishEvents()
            StoreCheckpoints.checkpoint(store, logger: logger)
            logger.info("Stopped")
            return 0
        } catch {
            StoreCheckpoints.checkpoint(store, logger: logger)
            logger.critical("Gateway stopped: \(error)")
            return 1
        }
    }

    private static func makeLogOutput(_ logging: GatewayConfiguration.LoggingConfiguration) -> LogOutput? {
        guard let path = logging.file else { return LogOutput(format: logging.format, file: nil) }
        do {
            return LogOutput(format: logging.format, file: try RotatingFile(path: path, maxSize: logging.maxSize, backups: logging.backups))
        } catch {
            FileHandle.standardError.write(Data(
                "ocpp-gateway: configuration error: LOG_FILE='\(path)' is invalid: expected a writable file (\(error.localizedDescription))\n".utf8))
            return nil
        }
    }
}
