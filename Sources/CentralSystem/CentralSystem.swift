import Foundation
import Logging
import Metrics
import OCPP
import Synchronization

/// The OCPP 1.6 central system: answers every charger, keeps transactions and authorization, and sends
/// commands to chargers. Transport-independent: the WebSocket server attaches connections and hands it frames.
///
/// ```swift
/// let central = try CentralSystem(configuration: .init(authorizedTags: ["TAG1"]), store: store, logger: logger)
/// let link = await central.attach(station: "CP1", connection: socket, info: info)
/// if let reply = await central.receive(text, on: link) { try await socket.send(reply) }
/// let answer = try await central.send(ResetRequest(type: .soft), to: "CP1").get()
/// ```
public final class CentralSystem: Sendable {
    let configuration: CentralSystemConfiguration
    let store: any StateStore
    let logger: Logger
    let now: @Sendable () -> Date
    private let broadcaster = EventBroadcaster()
    /// Closed by the MQTT bridge while it cannot keep what transaction-related messages publish (its outbox is full,
    /// or its store cannot write): those messages go unanswered meanwhile, and chargers send them again.
    public let durability = DurabilityGate()
    /// Paused by the MQTT bridge while a broker that is alive takes less than the chargers send; connections stop
    /// reading from chargers meanwhile, so they send at the broker's pace.
    public let intake = IntakeGate()
    let state: Mutex<State>
    /// The last save of a station's state failed (logged once per episode).
    let saveFailing = Atomic(false)
    /// "Refusing new stations" was logged, and no new station has been remembered since.
    let knownStationsFullLogged = Atomic(false)
    /// Relay mode: what runs when the upstream cleared a charger's profiles (``setProfilesClearedHandler(_:)``).
    let profilesCleared = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// Held while a station's upstream status is read and emitted, so two threads' statuses (the upstream's loop
    /// noting a change, the charger's announcing the station) reach the sink in the order they were noted: the last
    /// one published is the current one. Taken before `state`, never under it.
    let upstreamEmission = Mutex(())
    /// Relay mode's upstream (``setRelay(_:)``), and whether there is one: read without the lock on every message.
    let relayHolder = Mutex<(any UpstreamRelay)?>(nil)
    let relaying = Atomic(false)
    /// OCPP 2.0.1: the next `remoteStartId` and report `requestId`; started from the clock, so ids stay unique across
    /// restarts in practice.
    let nextRequestID201 = Atomic<Int>((Int(Date().timeIntervalSince1970) % 1_000_000) * 1_000)

    /// The counters of answered charger messages, by action, made once: making one per message went through the
    /// metrics factory's lock and its dictionary every time.
    let answeredCounters: [String: Counter] = OCPPMetrics.receivedCounters(outcome: "ok")

    struct State {
        var persisted: PersistedState
        var sessions: [String: StationSession] = [:]
        /// The connected stations, with the identity of their current connection.
        var connected: [String: (connection: ObjectIdentifier, info: ConnectionInfo)] = [:]
        /// Tasks waiting for a station to connect.
        var connectionWaiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
        /// Tags of accepted RemoteStartTransaction calls, by station, with when they stop being accepted.
        /// Accepted remote starts by station and id tag (lower case): until when, and who asked.
        var remoteStartTags: [String: [String: RemoteStart]] = [:]
        /// The revision of the last save made (``StateSave/revision``).
        var revision: UInt64 = 0
        /// Relay mode: where each station's upstream connection stands, last said.
        var upstream: [String: UpstreamStatus] = [:]
        /// Relay mode: the stations whose owner overrides the upstream's control calls.
        var upstreamOverrides: Set<String> = []
        /// Relay mode: the stations the gateway itself made Inoperative (the upstream's Operative is refused).
        var localInoperative: Set<String> = []
        /// OCPP 2.0.1 stations' transactions, for the order of their events.
        var transactions201: [String: Transactions201] = [:]
        /// OCPP 2.0.1: reports asked for (GetBaseReport, for get_configuration), by station and request id.
        var reports201: [String: [Int: ReportAssembly201]] = [:]

        /// A save of the records named, as they are now, with the next revision. Made under the lock, written to
        /// the store after it (the store is never called with the lock held).
        mutating func save(stations: [String] = [], transactions: [Int] = [], lastTransactionID: Bool = false) -> StateSave {
            revision += 1
            return StateSave(
                revision: revision, stations: stations.map { StateSave.Station(id: $0, record: persisted.stations[$0]) },
                transactions: transactions.map { StateSave.ActiveTransaction(id: $0, transaction: persisted.activeTransactions[$0]) },
                lastTransactionID: lastTransactionID ? persisted.lastTransactionID : nil)
        }
    }

    /// Creates the central system and loads what `store` kept.
    ///
    /// - Parameter now: the clock for timestamps in answers (tests pass a fixed one).
    /// - Throws: ``StateStoreError`` when the store cannot be read.
    public init(
        configuration: CentralSystemConfiguration, store: any StateStore, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.now = now
        var loaded = State(persisted: try store.load())
        for transaction in loaded.persisted.transactions201.values {
            loaded.transactions201[transaction.station, default: Transactions201()].open[transaction.id] = transaction
        }
        loaded.persisted.transactions201 = [:]  // kept in `transactions201` from here on
        self.state = Mutex(loaded)
        self.forgottenAtStart = store.forgottenStations
        if !forgottenAtStart.isEmpty {
            logger.notice("Forgot the stations an earlier version kept from a handshake alone", metadata: [
                "ocpp.forgotten_stations": "\(forgottenAtStart.count)",
            ])
        }
    }

    /// The stations the store forgot when it was opened (an upgrade from a version that remembered stations from
    /// their handshake): the bridge clears what it announced for them on MQTT.
    public let forgottenAtStart: [String]

    /// A new stream of every event from now on. Each subscriber gets every event, in order.
    public func events() -> AsyncStream<CentralSystemEvent> {
        broadcaster.subscribe()
    }

    /// Sets the one durable sink (the MQTT bridge), or removes it with `nil`. It receives every event before
    /// anything else happens, charger messages before their answer (see ``DurableEventSink``). Without a sink,
    /// answers do not wait for anything.
    public func setDurableSink(_ sink: (any DurableEventSink)?) {
        broadcaster.setSink(sink)
    }

    /// Ends every event stream and removes the durable sink (at shutdown).
    public func finishEvents() {
        broadcaster.finish()
    }

    func emit(_ event: CentralSystemEvent, into batch: DurableBatch? = nil) {
        broadcaster.emit(event, into: batch)
    }

    // MARK: Connections

    /// A charger's connection, as returned by ``attach(station:connection:info:)``.
    public struct Link: Sendable {
        public let station: String
        let session: StationSession
        let connection: any OCPPConnection
        let info: ConnectionInfo
        /// The OCPP version the connection speaks.
        public let version: OCPPVersion
        /// Set once the station is remembered and its connection announced (``announce(_:batch:)``).
        let announced: Announced
        /// A logger with the station's metadata.
        public let logger: Logger
    }

    /// Whether a connection has been announced; read without a lock on every message.
    final class Announced: Sendable {
        private let flag: Atomic<Bool>
        init(_ value: Bool) { flag = Atomic(value) }
        var value: Bool { flag.load(ordering: .acquiring) }
        func set() { flag.store(true, ordering: .releasing) }
    }

    /// Makes `connection` the station's connection. An earlier connection of the same station is closed
    /// (1000, "replaced") and its calls continue on the new one.
    ///
    /// A station the gateway knows is announced (a `.connected` event) at once. A new one is remembered, listed and
    /// announced only with its first message (``announce(_:batch:)``): a connection that never sends one leaves
    /// nothing behind.
    public func attach(station: String, connection: any OCPPConnection, info: ConnectionInfo) async -> Link {
        let (session, known) = state.withLock { state -> (StationSession, Bool) in
            state.connected[station] = (ObjectIdentifier(connection), info)
            let known = state.persisted.stations[station] != nil
            if let existing = state.sessions[station] { return (existing, known) }
            let session = StationSession(station: station, callTimeout: configuration.callTimeout, logger: stationLogger(station))
            state.sessions[station] = session
            return (session, known)
        }
        let previous = await session.attach(connection)
        upstreamRelay?.stationAttached(station, info: info) { [weak connection] in
            _ = await connection?.close(because: .upstreamUnavailable)
        }
        var logger = stationLogger(station)
        logger[metadataKey: "ocpp.remote_address"] = "\(info.remoteAddress)"
        if let previous {
            logger.info("Station connected again; closing its previous connection")
            let reason = await previous.close(because: .replaced)
            emit(.disconnected(station: station, reason: reason))
        } else {
            logger.info("Station connected", metadata: [
                "ocpp.subprotocol": "\(info.subprotocol ?? "none")", "ocpp.known_station": "\(known)",
            ])
        }
        if known { emit(.connected(station: station, info: info)) }
        updateConnectedGauge()
        for waiter in state.withLock({ $0.connectionWaiters.removeValue(forKey: station) ?? [:] }).values {
            waiter.resume()
        }
        return Link(station: station, session: session, connection: connection, info: info, version: info.version,
                    announced: Announced(known), logger: logger)
    }


    /// Ends a connection. Nothing happens if it was already replaced by a newer one.
    public func detach(_ link: Link, reason: DisconnectReason) async {
        guard await link.session.detach(link.connection) else { return }
        state.withLock { state in
            // A newer connection of the station may have registered meanwhile; leave it.
            if state.connected[link.station]?.connection == ObjectIdentifier(link.connection) {
                state.connected.removeValue(forKey: link.station)
            }
        }
        updateConnectedGauge()
        upstreamRelay?.stationDetached(link.station)
        link.logger.info("Station disconnected", metadata: ["ocpp.disconnect_reason": "\(reason)"])
        // A connection that never sent a message was never announced, and leaves nothing behind.
        guard link.announced.value else { return }
        let moment = now()
        remember(link.station) { $0.lastSeen = moment }
        emit(.disconnected(station: link.station, reason: reason))
    }

    /// Returns when `station` is connected, or after `timeout`, or when the task is cancelled; says whether it is connected.
    @discardableResult
    public func waitForConnection(of station: String, upTo timeout: Duration) async -> Bool {
        if state.withLock({ $0.connected[station] != nil }) { return true }
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let connected = self.state.withLock { state -> Bool in
                            if state.connected[station] != nil || Task.isCancelled { return true }
                            state.connectionWaiters[station, default: [:]][id] = continuation
                            return false
                        }
                        if connected { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.connectionWaiters[station]?.removeValue(forKey: id) }?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return state.withLock { $0.connected[station] != nil }
    }

    /// The stations connected now, with their connection facts.
    public var connectedStations: [String: ConnectionInfo] {
        state.withLock { $0.connected.mapValues(\.info) }
    }

    // MARK: Frames from chargers

    /// What ``receiveSynchronously(_:on:)`` did with a message.
    public enum Receipt: Sendable {
        /// Handled: send this frame back, if there is one.
        case handled(reply: Data?)
        /// An answer to one of the central system's own calls: hand it to ``deliver(_:on:)``, which waits for
        /// the station's session.
        case forSession(Frame)
        /// Relay mode: a message the upstream answers, handed to it. ``relay(_:ticket:on:)`` waits for the answer.
        case relayed(Call, ticket: RelayTicket)
    }

    /// Handles one text message from a charger; returns the frame to send back, if any.
    public func receive(_ text: some Collection<UInt8>, on link: Link) async -> Data? {
        switch receiveSynchronously(text, on: link) {
        case .handled(let reply):
            return reply
        case .forSession(let frame):
            await deliver(frame, on: link)
            return nil
        case .relayed(let call, let ticket):
            return await relay(call, ticket: ticket, on: link)
        }
    }

    /// Hands a charger's answer to one of the central system's calls (a `.forSession` receipt) to its session.
    public func deliver(_ frame: Frame, on link: Link) async {
        await link.session.receive(frame)
    }

    /// Handles one text message from a charger without suspending, on the caller's thread (the connection's event
    /// loop): CALLs are answered, malformed frames get their CallError. Answers to the central system's own
    /// calls are left to ``receive(_:on:)``.
    ///
    /// Without a batch, the message's event is durable when this returns. With one, it may only be staged: then
    /// `batch.staged` has moved, and the answer must wait for `batch.commit()`.
    public func receiveSynchronously(_ text: some Collection<UInt8>, on link: Link, batch: DurableBatch? = nil) -> Receipt {
        if link.version == .v201 { return receive201(text, on: link, batch: batch) }
        let frame: Frame
        do {
            frame = try FrameCodec.decode(text)
        } catch {
            // The frame's text is not logged: it may hold an RFID tag.
            OCPPMetrics.received(action: "malformed", outcome: "error")
            if error.reply != nil { OCPPMetrics.callError(error.code.rawValue, direction: "sent") }
            link.logger.warning("Malformed frame", metadata: [
                "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)", "ocpp.frame_size": "\(text.count)",
            ])
            return .handled(reply: error.reply.map { FrameCodec.encode(.callError($0)) })
        }
        switch frame {
        case .call(let call):
            if !link.announced.value, !announce(link, batch: batch) {
                OCPPMetrics.received(action: "unknown_station", outcome: "error")
                OCPPMetrics.callError(CallErrorCode.genericError.rawValue, direction: "sent")
                return .handled(reply: FrameCodec.encode(.callError(CallError(
                    messageID: call.messageID, code: .genericError,
                    description: "the central system remembers \(configuration.maxKnownStations) stations already and takes no new one"))))
            }
            let action = Action(rawValue: call.action)
            let relay = action == nil ? nil : upstreamRelay  // one atomic load when not relaying
            if let action, let relay, Self.relayedActions.contains(action) {
                return submit(call, action: action, to: relay, on: link)
            }
            guard let answer = handle(call, action: action, station: link.station, logger: link.logger, batch: batch) else {
                OCPPMetrics.received(action: action?.rawValue ?? "unknown", outcome: "unanswered")
                return .handled(reply: nil)
            }
            if let action, let relay, action.initiator != .centralSystem, case .callResult = answer {
                relay.mirror(call, action: action, station: link.station)  // durable before the charger's answer
            }
            let known = action?.rawValue ?? "unknown"
            if case .callError(let error) = answer {
                OCPPMetrics.received(action: known, outcome: "error")
                OCPPMetrics.callError(error.code.rawValue, direction: "sent")
            } else {
                if let counter = answeredCounters[known] {
                    counter.increment()
                } else {
                    OCPPMetrics.received(action: known, outcome: "ok")
                }
            }
            return .handled(reply: FrameCodec.encode(answer))
        case .callResult, .callError:
            return .forSession(frame)
        }
    }

    // MARK: Commands to chargers

    /// Sends a CALL to a station and waits for its answer (at most the call timeout once it is sent).
    /// Calls to one station go one at a time, in order; stations do not wait for each other.
    public func send<Request: OCPPRequest>(_ request: Request, to station: String) async -> Result<Request.Response, CommandError> {
        let payload: RawJSON
        do {
            payload = try PayloadCoding.encode(request)
        } catch {
            return .failure(CommandError(.invalidRequest, error.reason))
        }
        let result = await sendRaw(action: Request.action.rawValue, payload: payload, to: station)
        switch result {
        case .failure(let error):
            return .failure(error)
        case .success(let raw):
            do {
                return .success(try PayloadCoding.decode(Request.Response.self, from: raw))
            } catch {
                return .failure(CommandError(.invalidResponse, "\(error.code): \(error.reason)"))
            }
        }
    }

    /// Sends a CALL with an already encoded payload and returns the raw answer.
    public func sendRaw(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError> {
        await sendRaw(action: action, payload: payload, to: station, fromUpstream: false)
    }

    /// The same, saying whose call it is.
    /// - Parameters:
    ///   - fromUpstream: relay mode: the call is a central system's the gateway relays, not the gateway's own.
    ///   - provider: relay mode: which of them (`primary`, a secondary's name), for the transactions it starts.
    public func sendRaw(action: String, payload: RawJSON, to station: String, fromUpstream: Bool,
                        provider: String? = nil) async -> Result<RawJSON, CommandError> {
        guard let session = state.withLock({ $0.sessions[station] }) else {
            return .failure(.notConnected(station))
        }
        if !fromUpstream, version(of: station) == .v201 {
            return await sendTranslated201(action: action, payload: payload, to: station, session: session)
        }
        let started = ContinuousClock.now
        let result = await session.call(action: action, payload: payload)
        OCPPMetrics.sent(action: action, result: result, after: ContinuousClock.now - started)
        if action == Action.remoteStartTransaction.rawValue, case .success(let answer) = result {
            noteRemoteStart(request: payload, answer: answer, station: station, provider: provider ?? (fromUpstream ? "primary" : "mqtt"))
        }
        if action == "RequestStartTransaction", case .success(let answer) = result {
            // An upstream's 2.0.1 remote start: its token is accepted here too (while the upstream is away).
            noteRemoteStart201(request: payload, answer: answer, station: station, provider: provider ?? "primary")
        }
        if !fromUpstream, action == Action.changeAvailability.rawValue, case .success(let answer) = result {
            noteLocalAvailability(request: payload, answer: answer, station: station)
        }
        return result
    }



    /// Remembers the id tag of an accepted remote start, so the charger's Authorize and StartTransaction for it succeed.
    private func noteRemoteStart(request: RawJSON, answer: RawJSON, station: String, provider: String) {
        guard let start = try? PayloadCoding.decode(RemoteStartTransactionRequest.self, from: request),
            let response = try? PayloadCoding.decode(RemoteStartTransactionResponse.self, from: answer),
            response.status == .accepted
        else { return }
        let until = now().addingTimeInterval(configuration.remoteStartAuthorizationWindow.seconds)
        state.withLock { $0.remoteStartTags[station, default: [:]][start.idTag.value.lowercased()] = RemoteStart(until: until, provider: provider) }
    }

    private func updateConnectedGauge() {
        OCPPMetrics.connectedStations.record(state.withLock { $0.connected.count })
    }

    func stationLogger(_ station: String) -> Logger {
        var logger = logger
        logger[metadataKey: "ocpp.station_id"] = "\(station)"
        return logger
    }
}

/// An accepted remote start: until when its tag is authorized, and who asked (``Transaction/provider``).
struct RemoteStart: Sendable {
    var until: Date
    var provider: String
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
