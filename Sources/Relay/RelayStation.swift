import CentralSystem
import Foundation
import Logging
import NIOCore
import NIOSSL
import OCPP
import Synchronization

/// One charger connection's side of the relay: its upstream connection, the pump that sends the station's line to
/// the upstream one message at a time, and the upstream's calls to the charger.
///
/// The connection opens when the charger connects and is made again, with waits doubling (half to all of each, at
/// most 30 s), while the charger stays. An upstream away past the grace period gets the gateway to answer in its place
/// (`RELAY_OFFLINE_MODE=local`, the line keeps what it has not seen) or closes the charger (`close`: its own offline
/// rules keep its messages until it is back).
actor RelayStation {
    let station: String
    private let configuration: RelayConfiguration
    private let centralSystem: CentralSystem
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let logger: Logger
    /// The central system this connection goes to: the station's primary upstream, or one of its secondaries.
    private let backend: RelayConfiguration.Backend
    private let closeCharger: @Sendable () async -> Void
    private let snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?
    /// A secondary's connection state, for the relay to publish.
    private let secondaryStatus: (@Sendable (UpstreamStatus) -> Void)?
    /// Who may control the station now, shared with its other backends' connections.
    private let control: StationControl?

    /// The station's messages for the upstream (it outlives this connection).
    nonisolated let line: StationLine
    private let generation: UInt64
    private var socket: UpstreamSocket?
    private var attached = true
    /// The pump of the connection up now (read from the connection's event loop, where answers arrive).
    private nonisolated let pump = Mutex<UpstreamPump?>(nil)
    private var running: Task<Void, Never>?
    private var grace: Task<Void, Never>?
    private var calling: Task<Void, Never>?
    /// The upstream's calls for the charger, taken in the order they came.
    private nonisolated let calls = AsyncStream<Call>.makeStream()

    init(station: String, line: StationLine, configuration: RelayConfiguration, centralSystem: CentralSystem,
         group: any EventLoopGroup, tls: NIOSSLContext?, logger: Logger, backend: RelayConfiguration.Backend,
         snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?, secondaryStatus: (@Sendable (UpstreamStatus) -> Void)? = nil,
         control: StationControl? = nil, closeCharger: @escaping @Sendable () async -> Void) {
        self.secondaryStatus = secondaryStatus
        self.control = control
        self.station = station
        self.line = line
        self.generation = line.open()
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.group = group
        self.tls = tls
        var logger = logger
        logger[metadataKey: "ocpp.station_id"] = "\(station)"
        if !backend.isPrimary { logger[metadataKey: "relay.secondary"] = "\(backend.url)" }
        self.logger = logger
        self.backend = backend
        self.snoop = snoop
        self.closeCharger = closeCharger
    }

    /// Keeps the upstream connection up while the charger is attached.
    func start() {
        if line.link == .away {
            note(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the gateway answers in its place"),
                                       station: station)
        } else {
            note(UpstreamStatus(.connecting), station: station)
            startGraceTimer()
        }
        running = Task { await self.keepConnected() }
        calling = Task {
            for await call in calls.stream { self.take(call) }
        }
        transactionsChanged()
    }

    /// The charger left: the upstream connection closes, and everything waiting ends; the pump has stopped when this
    /// returns (so the next connection's pump never runs beside it).
    func stop(detached: Bool) async {
        attached = false
        running?.cancel()
        grace?.cancel()
        calls.continuation.finish()
        pump.withLock { $0.take() }?.stop()
        line.close(generation)
        socket?.close()
        socket = nil
        reportQueue()
        if detached { note(UpstreamStatus(.disabled), station: station) }
    }

    private func keepConnected() async {
        var delay = Duration.milliseconds(500)
        while attached, !Task.isCancelled {
            do {
                let socket = try await UpstreamSocket.connect(
                    to: backend.url, target: backend.target, authorization: backend.authorization, tls: backend.url.secure ? tls : nil, group: group,
                    timeout: .seconds(10), subprotocol: line.version.rawValue) { [weak self] text in self?.received(text) }
                guard attached else {
                    socket.close()
                    return
                }
                connected(socket)
                delay = .milliseconds(500)
                try? await socket.closeFuture.get()
                disconnected()
            } catch {
                logger.warning("Cannot reach the upstream central system", metadata: [
                    "relay.url": "\(backend.url)", "error": "\(error)",
                ])
                if attached {
                    let away = line.link == .away
                    note(UpstreamStatus(away ? .offline : .connecting, lastError: "\(error)"), station: station)
                }
            }
            guard attached, !Task.isCancelled else { return }
            let jittered = min(delay, configuration.reconnectMaxDelay) * Double.random(in: 0.5...1)
            try? await Task.sleep(for: jittered)
            delay = min(delay * 2, configuration.reconnectMaxDelay)
        }
    }

    private func connected(_ socket: UpstreamSocket) {
        self.socket = socket
        grace?.cancel()
        line.linkUp(generation)
        logger.info("Connected to the upstream central system", metadata: [
            "relay.url": "\(backend.url)", "relay.queued": "\(line.queued)",
        ])
        note(UpstreamStatus(.connected), station: station)
        let pump = UpstreamPump(line: line, generation: generation, socket: socket, answerTimeout: configuration.answerTimeout,
                                logger: logger, snoop: snoop) { [weak self] in
            Task { await self?.transactionsChanged() }
        }
        self.pump.withLock { $0 = pump }
        pump.start()
    }

    private func disconnected() {
        socket = nil
        line.linkDown(generation)
        // The message in flight gets no answer: a charger's own is sent again by the charger, a kept one by the pump.
        pump.withLock { $0.take() }?.stop()
        guard attached else { return }
        logger.warning("The upstream central system closed the connection; connecting again")
        note(UpstreamStatus(.connecting, lastError: "the upstream closed the connection"), station: station)
        startGraceTimer()
    }

    /// After `RELAY_OFFLINE_GRACE` without the upstream: answer in its place, or close the charger.
    private func startGraceTimer() {
        grace?.cancel()
        guard backend.isPrimary else { return }  // a secondary never answers the charger: nothing waits for it
        let period = configuration.offlineGrace
        grace = Task {
            guard (try? await Task.sleep(for: period)) != nil else { return }
            await self.graceEnded()
        }
    }

    private func graceEnded() async {
        guard attached, socket == nil else { return }
        switch configuration.offlineMode {
        case .local:
            logger.warning("The upstream central system stayed away past RELAY_OFFLINE_GRACE: answering in its place, and keeping what it has not seen for it", metadata: [
                "relay.offline_grace_seconds": "\(configuration.offlineGrace.components.seconds)",
            ])
            line.goAway(generation)
            note(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the gateway answers in its place"),
                                       station: station)
        case .close:
            logger.warning("The upstream central system stayed away past RELAY_OFFLINE_GRACE: closing the charger, which keeps its messages until it reconnects", metadata: [
                "relay.offline_grace_seconds": "\(configuration.offlineGrace.components.seconds)",
            ])
            attached = false
            running?.cancel()
            note(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the charger was closed"),
                                       station: station)
            await closeCharger()
        }
    }

    /// Publishes the queue's depth if it changed since it was last published.
    func reportQueue() {
        if let depth = line.queueReport() { note(.queue(depth), station: station) }
    }

    /// Publishes where this connection stands on MQTT: the primary's on `<S>/relay/*`, a secondary's through the relay
    /// (`<S>/relay/secondaries`, with the station's other secondaries).
    private func note(_ status: UpstreamStatus, station: String) {
        if backend.isPrimary {
            centralSystem.noteUpstream(status, station: station)
        } else {
            secondaryStatus?(status)
        }
    }

    private func note(_ detail: UpstreamDetail, station: String) {
        if backend.isPrimary { centralSystem.noteUpstream(detail, station: station) }
    }

    /// Publishes the station's open transactions with their two ids.
    func transactionsChanged() {
        let transactions = centralSystem.openTransactions(of: station).map {
            LinkedTransaction(connectorId: $0.connectorId, local: $0.id, upstream: line.upstreamTransaction(for: $0.id))
        }
        note(.transactions(transactions), station: station)
    }

    /// A frame from the upstream, on its connection's event loop: an answer goes to the pump at once, a call to the
    /// charger through the actor.
    private nonisolated func received(_ bytes: [UInt8]) {
        snoop?(bytes, false)
        let frame: Frame
        do {
            frame = try FrameCodec.decode(bytes)
        } catch {
            logger.warning("Malformed frame from the upstream central system", metadata: [
                "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)",
            ])
            if let refusal = error.reply { Task { await self.reply(.callError(refusal)) } }
            return
        }
        switch frame {
        case .callResult(let result):
            pump.withLock { $0 }?.answered(frame, id: result.messageID)  // a late or unknown one is dropped
        case .callError(let error):
            pump.withLock { $0 }?.answered(frame, id: error.messageID)
        case .call(let call):
            calls.continuation.yield(call)
        }
    }

    /// Starts an upstream call towards the charger; calls start in the order they came, and run side by side (the
    /// charger's session sends them one at a time).
    private func take(_ call: Call) {
        Task { await self.callCharger(call) }
    }

    /// Answers one of the upstream's calls.
    private func reply(_ frame: Frame) {
        guard let socket else { return }
        let text = Array(FrameCodec.encode(frame))
        snoop?(text, true)
        socket.send(text)
    }

    /// The configuration key a ChangeConfiguration changes (rights and denials may name one key).
    private func configurationKey(of call: Call) -> String? {
        call.action == Action.changeConfiguration.rawValue ? call.payload.string(at: ["key"]) : nil
    }

    /// The answer to an upstream call the charger must not get, and why: an action `RELAY_DENIED_ACTIONS` names, a
    /// control call while the owner's override is on, or an Operative for a charger the gateway made Inoperative.
    private func refusal(of call: Call) -> (Frame, String)? {
        if let secondary = backend.secondary, !secondary.forwards(call.action, key: configurationKey(of: call)) {
            let frame = UpstreamOverride.refusal(for: call, version: line.version) ?? .callError(CallError(
                messageID: call.messageID, code: .notSupported, description: "\(call.action) from this central system does not reach the charger"))
            return (frame, "the secondary's rights")
        }
        if backend.isPrimary, configuration.denies(call.action, key: configurationKey(of: call)) {
            let frame = UpstreamOverride.refusal(for: call, version: line.version) ?? .callError(CallError(
                messageID: call.messageID, code: .notSupported, description: "\(call.action) is not relayed to this charger"))
            return (frame, "RELAY_DENIED_ACTIONS")
        }
        if centralSystem.upstreamOverride(station), let frame = UpstreamOverride.refusal(for: call, version: line.version) {
            return (frame, "the owner's override is on")
        }
        if call.action == Action.changeAvailability.rawValue, centralSystem.isLocallyInoperative(station),
            line.version == .v201 ? call.payload.string(at: ["operationalStatus"]) == "Operative" && call.payload.integer(at: ["evse", "id"]) == nil
                : (try? call.decodePayload(as: ChangeAvailabilityRequest.self))?.type == .operative {
            return (.callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(#"{"status":"Rejected"}"#.utf8)))),
                    "the charger was made Inoperative locally")
        }
        return nil
    }

    /// An upstream call goes to the charger through its session (one outstanding call, the gateway's own message id,
    /// in turn with MQTT commands), and the charger's answer back upstream under the upstream's id.
    private func callCharger(_ call: Call) async {
        // The `answer` right: the gateway says yes itself; the charger never sees the call.
        if let secondary = backend.secondary, secondary.right(for: call.action, key: configurationKey(of: call)) == .answer,
            let accepted = RelayConfiguration.answerable[call.action] {
            if call.action == Action.remoteStartTransaction.rawValue, let tag = call.payload.string(at: ["idTag"]) {
                line.answeredRemoteStart(tag: tag)
            }
            logger.info("Answered a secondary's call in the charger's place (its rights)", metadata: ["ocpp.action": "\(call.action)"])
            reply(.callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(accepted.utf8)))))
            return
        }
        if let (refusal, why) = refusal(of: call) {
            logger.notice("Refused the upstream's call", metadata: ["ocpp.action": "\(call.action.prefix(64))", "relay.why": "\(why)"])
            centralSystem.noteUpstream(.refused(backend: backend.label, action: String(call.action.prefix(64)), reason: why, holder: nil), station: station)
            reply(refusal)
            return
        }
        if let control, ControlArbiter.controlActions.contains(call.action),
            case .refused(let reason, let holder) = control.request(call.action, from: backend.label) {
            logger.notice("Refused a backend's control call", metadata: ["ocpp.action": "\(call.action)", "relay.why": "\(reason)"])
            centralSystem.noteUpstream(.refused(backend: backend.label, action: call.action, reason: reason, holder: holder), station: station)
            reply(UpstreamOverride.refusal(for: call, version: line.version) ?? .callError(CallError(messageID: call.messageID, code: .notSupported, description: reason)))
            return
        }
        let result = await centralSystem.sendRaw(action: call.action, payload: translatedDown(call), to: station, fromUpstream: true,
                                                 provider: backend.label)
        if call.action == Action.remoteStartTransaction.rawValue || call.action == "RequestStartTransaction" {
            var accepted = false
            if case .success(let answer) = result { accepted = answer.string(at: ["status"]) == "Accepted" }
            if !accepted { control?.remoteStartDeclined() }
        }
        if call.action == Action.clearChargingProfile.rawValue, case .success(let answer) = result, answer.string(at: ["status"]) == "Accepted" {
            centralSystem.upstreamClearedProfiles(station: station)
        }
        let reply: Frame? = switch result {
        case .success(let payload):
            .callResult(CallResult(messageID: call.messageID, payload: payload))
        case .failure(let error) where error.kind == .callError:
            .callError(CallError(messageID: call.messageID, code: error.callError?.code ?? .genericError,
                                 description: error.callError?.description ?? error.message,
                                 details: error.callError?.details ?? .emptyObject))
        case .failure(let error) where error.kind == .invalidRequest:
            .callError(CallError(messageID: call.messageID, code: line.version == .v201 ? .formatViolation : .formationViolation,
                                 description: error.message))
        case .failure:
            nil  // no answer from the charger (gone, or silent): the upstream's own timeout says so
        }
        if let reply { self.reply(reply) }
    }

    /// An upstream call's payload with the charger's transaction id where the upstream names one it gave a start the
    /// gateway answered in its place (RemoteStopTransaction, a TxProfile's SetChargingProfile).
    private func translatedDown(_ call: Call) -> RawJSON {
        if call.action == Action.remoteStartTransaction.rawValue, let tag = call.payload.string(at: ["idTag"]),
            let local = line.idTags.first(where: { $0.value.caseInsensitiveCompare(tag) == .orderedSame })?.key,
            let rewritten = call.payload.replacingString(at: ["idTag"], with: local) {
            return rewritten
        }
        let path: [String] = switch Action(rawValue: call.action) {
        case .remoteStopTransaction: ["transactionId"]
        case .setChargingProfile: ["csChargingProfiles", "transactionId"]
        default: []
        }
        guard !path.isEmpty, let upstream = call.payload.integer(at: path), let local = line.localTransaction(for: upstream),
            let translated = call.payload.replacingInteger(at: path, with: local)
        else { return call.payload }
        logger.info("The upstream's call names its id of a transaction the gateway started in its place: the charger gets its own", metadata: [
            "ocpp.action": "\(call.action)", "relay.upstream_transaction_id": "\(upstream)", "ocpp.transaction_id": "\(local)",
        ])
        return translated
    }
}
