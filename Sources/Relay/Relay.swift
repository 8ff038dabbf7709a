import CentralSystem
import Foundation
import Logging
import NIOCore
import NIOSSL
import OCPP
import Synchronization

/// Relay mode (`RELAY_URL`, docs/relay.md): every charger also has a connection to the upstream central system,
/// which answers the messages it is authoritative for; the gateway answers the rest, passes them on through a durable
/// queue, stands in for the upstream while it is away, and keeps publishing everything on MQTT.
public final class Relay: UpstreamRelay {
    private let configuration: RelayConfiguration
    private let centralSystem: CentralSystem
    private let store: any RelayStore
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let logger: Logger
    private let snoop: (@Sendable (_ station: String, _ text: [UInt8], _ outgoing: Bool) -> Void)?
    /// The connected chargers' relay sides: the primary's, and each secondary's.
    private let stations = Mutex<[String: (primary: RelayStation, secondaries: [RelayStation])]>([:])
    /// Every station's line to its primary, from its first connection on (what it keeps outlives a connection).
    private let lines = Mutex<[String: StationLine]>([:])
    /// The lines to the secondaries, by station and the secondary's URL.
    private let secondaryLines = Mutex<[String: [String: StationLine]]>([:])
    private let reporter = Mutex<Task<Void, Never>?>(nil)
    /// Who may control each shared station (made with the station's first connection that has secondaries).
    private let controls = Mutex<[String: StationControl]>([:])
    /// Where each station's secondaries stand (by station and the secondary's URL), and what `<S>/relay/secondaries`
    /// says now, by station.
    private let secondaryStates = Mutex<(states: [String: [String: UpstreamStatus]], published: [String: [SecondaryStatus]])>(([:], [:]))

    /// - Parameter snoop: with `RELAY_SNOOP`, gets every frame to (`outgoing`) and from the upstream.
    /// - Throws: when `RELAY_TLS_CA` cannot be read.
    public init(configuration: RelayConfiguration, centralSystem: CentralSystem, store: any RelayStore, group: any EventLoopGroup,
                logger: Logger, snoop: (@Sendable (_ station: String, _ text: [UInt8], _ outgoing: Bool) -> Void)? = nil) throws {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.store = store
        self.group = group
        self.logger = logger
        self.snoop = configuration.snoop ? snoop : nil
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

    /// Publishes every station's queue depth when it changed, once a second (one task for all stations).
    private func startReporting() {
        reporter.withLock { task in
            guard task == nil else { return }
            task = Task { [weak self] in
                while !Task.isCancelled, let self {
                    for (station, line) in self.lines.withLock({ $0 }) {
                        if let depth = line.queueReport() { self.centralSystem.noteUpstream(.queue(depth), station: station) }
                    }
                    for station in self.secondaryLines.withLock({ Array($0.keys) }) { self.publishSecondaries(of: station) }
                    for control in self.controls.withLock({ Array($0.values) }) { control.expire() }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    deinit {
        reporter.withLock { $0?.cancel() }
    }

    /// Keeps a secondary's connection state and publishes the station's secondaries.
    private func secondaryStatusHandler(station: String, name: String) -> @Sendable (UpstreamStatus) -> Void {
        { [weak self] status in
            guard let self else { return }
            secondaryStates.withLock { secondaries in
                var merged = status
                // A state without an error keeps the last one (as `<S>/relay/last_error` does).
                if merged.lastError == nil { merged.lastError = secondaries.states[station]?[name]?.lastError }
                secondaries.states[station, default: [:]][name] = merged
            }
            publishSecondaries(of: station)
        }
    }

    /// Publishes where each of the station's secondaries stands (`<S>/relay/secondaries`), when it changed since it was
    /// last published (a state change publishes at once; the relay's reporter catches the queue's changes every second).
    private func publishSecondaries(of station: String) {
        let lines = secondaryLines.withLock { $0[station] ?? [:] }
        let list = secondaryStates.withLock { secondaries -> [SecondaryStatus]? in
            let known = secondaries.states[station] ?? [:]
            let list = configuration.secondaries(for: station).map { backend in
                SecondaryStatus(url: backend.name, state: known[backend.name]?.state ?? .disabled, queued: lines[backend.name]?.queued ?? 0,
                                lastError: known[backend.name]?.lastError)
            }
            // Compared and noted under the lock: two publishers never send an older list after a newer one.
            guard secondaries.published[station] != list else { return nil }
            secondaries.published[station] = list
            return list
        }
        if let list { centralSystem.noteUpstream(.secondaries(list), station: station) }
    }

    /// The station's line to `backend`, made (from what the store kept) at its first connection.
    /// A line is made for one OCPP version: a charger that comes back speaking the other gets a new one, made from the
    /// store like the first.
    private func line(of station: String, to backend: RelayConfiguration.Backend, version: OCPPVersion) -> StationLine {
        func make() -> StationLine {
            var logger = self.logger
            logger[metadataKey: "ocpp.station_id"] = "\(station)"
            if !backend.isPrimary { logger[metadataKey: "relay.secondary"] = "\(backend.name)" }
            // A secondary's rows are kept under the station id and its URL.
            let key = backend.isPrimary ? station : "\(station)\u{1F}\(backend.name)"
            let backlog: RelayBacklog
            do {
                backlog = try store.relayBacklog(of: key)
            } catch {
                logger.error("Cannot read what was kept for the upstream; starting empty", metadata: ["error": "\(error)"])
                backlog = RelayBacklog()
            }
            if !backlog.messages.isEmpty {
                logger.info("Messages kept for the upstream from before", metadata: ["relay.queued": "\(backlog.messages.count)"])
            }
            let centralSystem = self.centralSystem
            return StationLine(station: key, backlog: backlog, store: store, limit: backend.queueLimit, idTags: backend.idTags,
                               logger: logger, version: version) { centralSystem.localVerdict($0, station: station) }
        }
        if backend.isPrimary {
            return lines.withLock { lines in
                if let line = lines[station], line.version == version { return line }
                let line = make()
                lines[station] = line
                return line
            }
        }
        return secondaryLines.withLock { lines in
            if let line = lines[station]?[backend.name], line.version == version { return line }
            let line = make()
            lines[station, default: [:]][backend.name] = line
            return line
        }
    }

    public func stationAttached(_ station: String, info: ConnectionInfo, close: @escaping @Sendable () async -> Void) {
        let snoop = self.snoop.map { snoop in { @Sendable (text: [UInt8], outgoing: Bool) in snoop(station, text, outgoing) } }
        let backends = configuration.secondaries(for: station)
        // Control is arbitrated where a station has more than one backend.
        let control = backends.isEmpty ? nil : controls.withLock { controls in
            if let control = controls[station] { return control }
            let rules = configuration.control
            let centralSystem = self.centralSystem
            let control = StationControl(rules: ControlArbiter.Rules(idle: rules.idle, preferred: rules.preferred, blocked: rules.blocked,
                                                                     minimumInterval: rules.minimumInterval)) { holder in
                centralSystem.noteUpstream(.control(holder: holder), station: station)
            }
            controls[station] = control
            return control
        }
        func connection(to backend: RelayConfiguration.Backend) -> RelayStation {
            RelayStation(station: station, line: line(of: station, to: backend, version: info.version), configuration: configuration, centralSystem: centralSystem,
                         group: group, tls: tls, logger: logger, backend: backend, snoop: backend.isPrimary ? snoop : nil,
                         secondaryStatus: backend.isPrimary ? nil : self.secondaryStatusHandler(station: station, name: backend.name),
                         control: control, closeCharger: close)
        }
        let (previous, current) = stations.withLock { stations in
            let previous = stations[station]
            // Made inside the lock: the lines serve the newest connection from here on.
            let current = (primary: connection(to: configuration.primary(for: station, charger: info.authorization)),
                           secondaries: backends.map(connection(to:)))
            stations[station] = current
            return (previous, current)
        }
        startReporting()
        Task {
            if let previous {
                await previous.primary.stop(detached: false)
                for secondary in previous.secondaries { await secondary.stop(detached: false) }
            }
            await current.primary.start()
            for secondary in current.secondaries { await secondary.start() }
        }
    }

    public func stationDetached(_ station: String) {
        guard let relayStations = stations.withLock({ $0.removeValue(forKey: station) }) else { return }
        Task {
            await relayStations.primary.stop(detached: true)
            for secondary in relayStations.secondaries { await secondary.stop(detached: true) }
        }
    }

    public func submit(_ call: Call, action: Action, station: String) -> RelayTicket? {
        stations.withLock { $0[station] }?.primary.line.submit(call, action: .v16(action))
    }

    public func mirror(_ call: Call, action: Action, station: String) {
        guard let relayStations = stations.withLock({ $0[station] }) else { return }
        if action == .statusNotification { controls.withLock { $0[station] }?.saw(call, action: action, answer: nil) }
        relayStations.primary.line.mirror(call, action: .v16(action))  // in order, on the caller's thread
        for secondary in relayStations.secondaries { secondary.line.mirror(call, action: .v16(action)) }
    }

    public func answered(_ call: Call, action: Action, answer: RawJSON, station: String) {
        controls.withLock { $0[station] }?.saw(call, action: action, answer: answer)
        let secondaries = stations.withLock { $0[station]?.secondaries } ?? []
        guard !secondaries.isEmpty else { return }
        // A start goes to each secondary with the id the charger got, which its own answer will be linked to.
        let transaction = action == .startTransaction ? answer.integer(at: ["transactionId"]) : nil
        for secondary in secondaries { secondary.line.mirror(call, action: .v16(action), localTransaction: transaction) }
    }

    public func submit201(_ call: Call, standIn: Frame, station: String) -> RelayTicket? {
        stations.withLock { $0[station] }?.primary.line.submit(call, action: .v201(call.action), standIn: standIn)
    }

    public func mirror201(_ call: Call, station: String) {
        guard let relayStations = stations.withLock({ $0[station] }) else { return }
        relayStations.primary.line.mirror(call, action: .v201(call.action))
        for secondary in relayStations.secondaries { secondary.line.mirror(call, action: .v201(call.action)) }
    }

    public func answered201(_ call: Call, station: String) {
        for secondary in stations.withLock({ $0[station]?.secondaries }) ?? [] { secondary.line.mirror(call, action: .v201(call.action)) }
    }

    public func transactionsChanged(station: String) {
        guard let relayStation = stations.withLock({ $0[station]?.primary }) else { return }
        Task { await relayStation.transactionsChanged() }
    }
}
