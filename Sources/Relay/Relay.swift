import CentralSystem
import Logging
import NIOCore
import NIOSSL
import OCPP
import Synchronization

/// Relay mode (`RELAY_URL`, docs/relay.md): every charger also has a connection to the upstream central system,
/// which answers the messages it is authoritative for; the gateway answers the rest, passes them on, and keeps
/// publishing everything on MQTT.
public final class Relay: UpstreamRelay {
    private let configuration: RelayConfiguration
    private let centralSystem: CentralSystem
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let logger: Logger
    private let stations = Mutex<[String: RelayStation]>([:])

    /// - Throws: when `RELAY_TLS_CA` cannot be read.
    public init(configuration: RelayConfiguration, centralSystem: CentralSystem, group: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.group = group
        self.logger = logger
        if configuration.url.secure || configuration.stations.values.contains(where: { $0.url?.secure == true }) {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            if let ca = configuration.tlsCA {
                tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            }
            tls = try NIOSSLContext(configuration: tlsConfiguration)
        } else {
            tls = nil
        }
    }

    public func stationAttached(_ station: String, info: ConnectionInfo, close: @escaping @Sendable () async -> Void) {
        let relayStation = RelayStation(
            station: station, configuration: configuration, centralSystem: centralSystem, group: group, tls: tls,
            logger: logger, authorization: info.authorization, closeCharger: close)
        let previous = stations.withLock { stations in
            defer { stations[station] = relayStation }
            return stations[station]
        }
        Task {
            await previous?.stop()
            await relayStation.start()
        }
    }

    public func stationDetached(_ station: String) {
        guard let relayStation = stations.withLock({ $0.removeValue(forKey: station) }) else { return }
        Task { await relayStation.stop() }
    }

    public func forward(_ call: Call, text: [UInt8], station: String) async -> Frame? {
        guard let relayStation = stations.withLock({ $0[station] }) else { return nil }
        return await relayStation.forward(call, text: text)
    }

    public func mirror(_ text: [UInt8], station: String) {
        stations.withLock { $0[station] }?.line.mirror(text)  // in order, on the caller's thread
    }
}
