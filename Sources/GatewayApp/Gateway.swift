import CentralSystem
import Foundation
import Logging
import MQTTBridge
import Mosquitto
import OCPPServer
import ServiceLifecycle

/// The gateway process: reads its configuration, then runs its services until SIGTERM or SIGINT.
public enum Gateway {
    /// Runs the gateway and returns the process exit code: 0 after a clean shutdown, 2 for a bad
    /// configuration, 1 when a service fails.
    ///
    /// - Parameter additionalServices: services to run beside the gateway's own, given its central system
    ///   (the interop test harness adds its command console this way).
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
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ocpp-gateway")

        let centralSystem: CentralSystem
        do {
            let store = try FileStateStore(directory: configuration.dataDirectory)
            centralSystem = try CentralSystem(configuration: configuration.centralSystem, store: store, logger: logger)
        } catch {
            logger.critical("Cannot use the data directory", metadata: ["error": "\(error)", "setting": "\(Settings.dataDir.name)"])
            return 1
        }
        let server = OCPPServer(configuration: configuration.server, centralSystem: centralSystem, logger: logger)
        var mqttConfiguration = configuration.mqtt
        mqttConfiguration.will = .init(topic: configuration.bridge.topics.bridgeState, payload: "offline", qos: 1, retain: true)
        let (transportEvents, transportContinuation) = AsyncStream<MQTTTransportEvent>.makeStream(bufferingPolicy: .unbounded)
        let mqtt: MosquittoClient
        do {
            mqtt = try MosquittoClient(configuration: mqttConfiguration, logger: logger) { event in
                transportContinuation.yield(MosquittoTransport.bridgeEvent(event))
            }
        } catch {
            logger.critical("Cannot set up the MQTT client: \(error)")
            return 1
        }
        let transport = MosquittoTransport(client: mqtt)
        var bridgeConfiguration = configuration.bridge
        bridgeConfiguration.info = configuration.publicInfo(clientID: mqttConfiguration.clientID)
        let bridge = MQTTBridge(
            configuration: bridgeConfiguration, centralSystem: centralSystem, transport: transport,
            transportEvents: transportEvents, logger: logger)
        logger.info("Starting", metadata: [
            "mqtt.broker": "\(mqttConfiguration.brokerDescription)", "mqtt.client_id": "\(mqttConfiguration.clientID)",
            "mqtt.base_path": "\(configuration.bridge.topics.basePath)",
            "mqtt.use_station_name": "\(configuration.bridge.topics.useStationName)",
        ])
        // Started in this order, stopped in reverse: chargers first, then the bridge publishes their last
        // state, then the MQTT client says offline and disconnects.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: mqtt), .init(service: bridge), .init(service: server)]
                    + additionalServices(centralSystem).map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
            centralSystem.finishEvents()
            logger.info("Stopped")
            return 0
        } catch {
            logger.critical("Gateway stopped: \(error)")
            return 1
        }
    }
}
