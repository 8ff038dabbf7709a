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
    private let authorization: String?
    private let closeCharger: @Sendable () async -> Void
    private let snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?

    /// The station's messages for the upstream (it outlives this connection).
    nonisolated let line: StationLine
    private let generation: UInt64
    private var socket: UpstreamSocket?
    private var attached = true
    /// Messages sent upstream (the pump's, one at a time), by the gateway's message id, waiting for the answer.
    private var answers: [String: CheckedContinuation<Frame?, Never>] = [:]
    private var sent: UInt64 = 0
    private var running: Task<Void, Never>?
    private var reading: Task<Void, Never>?
    private var pumping: Task<Void, Never>?
    private var grace: Task<Void, Never>?
    private var reporting: Task<Void, Never>?
    private var reportedQueue: Int?
    /// The upstream's frames, taken one at a time in the order they came.
    private nonisolated let frames = AsyncStream<String>.makeStream()

    init(station: String, line: StationLine, configuration: RelayConfiguration, centralSystem: CentralSystem,
         group: any EventLoopGroup, tls: NIOSSLContext?, logger: Logger, authorization: String?,
         snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?, closeCharger: @escaping @Sendable () async -> Void) {
        self.station = station
        self.line = line
        self.generation = line.open()
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.group = group
        self.tls = tls
        var logger = logger
        logger[metadataKey: "ocpp.station_id"] = "\(station)"
        self.logger = logger
        self.authorization = configuration.authorization(for: station, charger: authorization)
        self.snoop = snoop
        self.closeCharger = closeCharger
    }

    /// Keeps the upstream connection up while the charger is attached.
    func start() {
        centralSystem.noteUpstream(UpstreamStatus(.connecting), station: station)
        startGraceTimer()
        running = Task { await self.keepConnected() }
        reading = Task {
            for await text in frames.stream { await self.received(text) }
        }
        reporting = Task {
            while !Task.isCancelled {
                await self.reportQueue()
                try? await Task.sleep(for: .seconds(1))
            }
        }
        transactionsChanged()
    }

    /// The charger left: the upstream connection closes, and everything waiting ends; returns once the pump has
    /// stopped (so the next connection's pump never runs beside it).
    func stop(detached: Bool) async {
        attached = false
        running?.cancel()
        grace?.cancel()
        reporting?.cancel()
        frames.continuation.finish()
        line.close(generation)
        socket?.close()
        socket = nil
        for waiter in answers.values { waiter.resume(returning: nil) }
        answers = [:]
        await pumping?.value
        await reportQueue()
        if detached { centralSystem.noteUpstream(UpstreamStatus(.disabled), station: station) }
    }

    private func keepConnected() async {
        var delay = Duration.milliseconds(500)
        while attached, !Task.isCancelled {
            do {
                let (url, target) = configuration.upstream(for: station)
                let socket = try await UpstreamSocket.connect(
                    to: url, target: target, authorization: authorization, tls: url.secure ? tls : nil, group: group,
                    timeout: .seconds(10)) { [frames] text in frames.continuation.yield(text) }
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
                    "relay.url": "\(configuration.upstream(for: station).url)", "error": "\(error)",
                ])
                if attached {
                    let away = line.link == .away
                    centralSystem.noteUpstream(UpstreamStatus(away ? .offline : .connecting, lastError: "\(error)"), station: station)
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
            "relay.url": "\(configuration.upstream(for: station).url)", "relay.queued": "\(line.queued)",
        ])
        centralSystem.noteUpstream(UpstreamStatus(.connected), station: station)
        let previous = pumping
        pumping = Task {
            await previous?.value
            await self.pump()
        }
    }

    private func disconnected() {
        socket = nil
        line.linkDown(generation)
        // The message in flight gets no answer: a charger's own is sent again by the charger, a kept one by the pump.
        for waiter in answers.values { waiter.resume(returning: nil) }
        answers = [:]
        guard attached else { return }
        logger.warning("The upstream central system closed the connection; connecting again")
        centralSystem.noteUpstream(UpstreamStatus(.connecting, lastError: "the upstream closed the connection"), station: station)
        startGraceTimer()
    }

    /// After `RELAY_OFFLINE_GRACE` without the upstream: answer in its place, or close the charger.
    private func startGraceTimer() {
        grace?.cancel()
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
            centralSystem.noteUpstream(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the gateway answers in its place"),
                                       station: station)
        case .close:
            logger.warning("The upstream central system stayed away past RELAY_OFFLINE_GRACE: closing the charger, which keeps its messages until it reconnects", metadata: [
                "relay.offline_grace_seconds": "\(configuration.offlineGrace.components.seconds)",
            ])
            attached = false
            running?.cancel()
            centralSystem.noteUpstream(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the charger was closed"),
                                       station: station)
            await closeCharger()
        }
    }

    /// Sends the line to the upstream while connected: first the boot it is owed, then each message in order, one
    /// at a time.
    private func pump() async {
        while attached, socket != nil {
            if let boot = line.owedBoot() {
                logger.info("Sending the upstream a BootNotification before what it missed", metadata: ["relay.queued": "\(line.queued)"])
                let answer = await exchange(Array(FrameCodec.encode(.call(Call(messageID: nextMessageID(), action: Action.bootNotification.rawValue, payload: boot)))))
                guard socket != nil else { return }
                if let wait = line.bootAnswered(answer) {
                    logger.warning("The upstream did not accept the BootNotification; trying again", metadata: ["relay.retry_seconds": "\(wait.components.seconds)"])
                    try? await Task.sleep(for: wait)
                }
                continue
            }
            guard let entry = await line.next(generation) else { return }
            let answer = await exchange(line.frame(for: entry, messageID: nextMessageID()))
            if line.complete(entry.id, answer: answer).transactionsChanged { transactionsChanged() }
        }
    }

    private func nextMessageID() -> String {
        sent += 1
        return "relay-\(sent)"
    }

    /// Sends one frame and waits for its answer: nil when none comes within `OCPP_CALL_TIMEOUT` or the link drops.
    private func exchange(_ text: [UInt8]) async -> Frame? {
        guard let socket, case .call(let call)? = try? FrameCodec.decode(text) else { return nil }
        let id = call.messageID
        let timeout = configuration.answerTimeout
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.answerTimedOut(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            answers[id] = continuation
            send(text, on: socket)
        }
    }

    private func send(_ text: [UInt8], on socket: UpstreamSocket) {
        snoop?(text, true)
        socket.send(text)
    }

    private func answerTimedOut(_ id: String) {
        guard let waiter = answers.removeValue(forKey: id) else { return }
        logger.warning("The upstream central system did not answer in time", metadata: ["ocpp.message_id": "\(id)"])
        waiter.resume(returning: nil)
    }

    /// Publishes the queue's depth when it changed (once a second at most).
    private func reportQueue() {
        let depth = line.queued
        guard depth != reportedQueue else { return }
        reportedQueue = depth
        centralSystem.noteUpstream(.queue(depth), station: station)
    }

    /// Publishes the station's open transactions with their two ids.
    func transactionsChanged() {
        let transactions = centralSystem.openTransactions(of: station).map {
            LinkedTransaction(connectorId: $0.connectorId, local: $0.id, upstream: line.upstreamTransaction(for: $0.id))
        }
        centralSystem.noteUpstream(.transactions(transactions), station: station)
    }

    /// A frame from the upstream: an answer to a message sent, or a call for the charger.
    private func received(_ text: String) {
        snoop?(Array(text.utf8), false)
        let frame: Frame
        do {
            frame = try FrameCodec.decode(Array(text.utf8))
        } catch {
            logger.warning("Malformed frame from the upstream central system", metadata: [
                "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)",
            ])
            if let refusal = error.reply { reply(.callError(refusal)) }
            return
        }
        switch frame {
        case .callResult(let result):
            answers.removeValue(forKey: result.messageID)?.resume(returning: frame)  // a late or unknown one is dropped
        case .callError(let error):
            answers.removeValue(forKey: error.messageID)?.resume(returning: frame)
        case .call(let call):
            Task { await self.callCharger(call) }
        }
    }

    /// Answers one of the upstream's calls.
    private func reply(_ frame: Frame) {
        guard let socket else { return }
        send(Array(FrameCodec.encode(frame)), on: socket)
    }

    /// The answer to an upstream call the charger must not get, and why: an action `RELAY_DENIED_ACTIONS` names, a
    /// control call while the owner's override is on, or an Operative for a charger the gateway made Inoperative.
    private func refusal(of call: Call) -> (Frame, String)? {
        if configuration.deniedActions.contains(call.action) {
            let frame = UpstreamOverride.refusal(for: call) ?? .callError(CallError(
                messageID: call.messageID, code: .notSupported, description: "\(call.action) is not relayed to this charger"))
            return (frame, "RELAY_DENIED_ACTIONS")
        }
        if centralSystem.upstreamOverride(station), let frame = UpstreamOverride.refusal(for: call) {
            return (frame, "the owner's override is on")
        }
        if call.action == Action.changeAvailability.rawValue, centralSystem.isLocallyInoperative(station),
            let request = try? call.decodePayload(as: ChangeAvailabilityRequest.self), request.type == .operative {
            return (.callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(#"{"status":"Rejected"}"#.utf8)))),
                    "the charger was made Inoperative locally")
        }
        return nil
    }

    /// An upstream call goes to the charger through its session (one outstanding call, the gateway's own message id,
    /// in turn with MQTT commands), and the charger's answer back upstream under the upstream's id.
    private func callCharger(_ call: Call) async {
        if let (refusal, why) = refusal(of: call) {
            logger.notice("Refused the upstream's call", metadata: ["ocpp.action": "\(call.action.prefix(64))", "relay.why": "\(why)"])
            reply(refusal)
            return
        }
        let result = await centralSystem.sendRaw(action: call.action, payload: translatedDown(call), to: station, fromUpstream: true)
        if call.action == Action.clearChargingProfile.rawValue, case .success(let answer) = result,
            (try? PayloadCoding.decode(ClearChargingProfileResponse.self, from: answer))?.status == .accepted {
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
            .callError(CallError(messageID: call.messageID, code: .formationViolation, description: error.message))
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
