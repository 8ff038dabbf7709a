import CentralSystem
import Foundation
import Logging
import NIOCore
import NIOSSL
import OCPP
import Synchronization

/// What goes up to the upstream, in the order it was handed over, from any thread: sent at once while connected,
/// kept (the gateway's own answered messages only, at most ``limit``, the oldest dropped first) while not.
final class UpstreamLine: Sendable {
    private let state = Mutex<(socket: UpstreamSocket?, waiting: [[UInt8]], dropped: Int)>((nil, [], 0))
    static let limit = 1000

    var isConnected: Bool { state.withLock { $0.socket != nil } }

    /// Sends a message the gateway answered itself, now or after the reconnect.
    func mirror(_ text: [UInt8]) {
        state.withLock { state in
            if let socket = state.socket {
                socket.send(text)
            } else {
                if state.waiting.count >= Self.limit {
                    state.waiting.removeFirst()
                    state.dropped += 1
                }
                state.waiting.append(text)
            }
        }
    }

    /// Sends a charger's message the upstream must answer; false when not connected (it is not kept: the charger,
    /// left without an answer, sends it again).
    func sendIfConnected(_ text: [UInt8]) -> Bool {
        state.withLock { state in
            guard let socket = state.socket else { return false }
            socket.send(text)
            return true
        }
    }

    /// The connection is up: what waited goes first, in order. Returns how many waited and how many were dropped.
    func connected(_ socket: UpstreamSocket) -> (sent: Int, dropped: Int) {
        state.withLock { state in
            for text in state.waiting { socket.send(text) }
            defer { state = (socket, [], 0) }
            return (state.waiting.count, state.dropped)
        }
    }

    func disconnected() -> UpstreamSocket? {
        state.withLock { state in
            defer { state.socket = nil }
            return state.socket
        }
    }
}

/// One charger's side of the relay: its upstream connection, the charger's messages waiting for the upstream's
/// answers, and the upstream's calls to the charger.
///
/// The connection opens when the charger connects and is made again, with waits doubling (half to all of each, at
/// most 30 s), while the charger stays. Messages wait for it up to the grace period; an upstream away longer closes
/// the charger (1013), whose own offline rules then keep its messages until it is back.
actor RelayStation {
    let station: String
    private let configuration: RelayConfiguration
    private let centralSystem: CentralSystem
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext?
    private let logger: Logger
    private let authorization: String?
    private let closeCharger: @Sendable () async -> Void

    /// Where the messages go, in order.
    nonisolated let line = UpstreamLine()
    private var attached = true
    /// The charger's messages sent upstream, by message id, waiting for the answer.
    private var answers: [String: CheckedContinuation<Frame?, Never>] = [:]
    /// Callers waiting for the connection (resumed with whether it came).
    private var connectionWaiters: [UUID: CheckedContinuation<Bool, Never>] = [:]
    private var downSince: ContinuousClock.Instant? = .now
    private var running: Task<Void, Never>?
    private var reading: Task<Void, Never>?
    /// The upstream's frames, taken one at a time in the order they came.
    private nonisolated let frames = AsyncStream<String>.makeStream()

    init(station: String, configuration: RelayConfiguration, centralSystem: CentralSystem, group: any EventLoopGroup,
         tls: NIOSSLContext?, logger: Logger, authorization: String?, closeCharger: @escaping @Sendable () async -> Void) {
        self.station = station
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.group = group
        self.tls = tls
        var logger = logger
        logger[metadataKey: "ocpp.station_id"] = "\(station)"
        self.logger = logger
        self.authorization = configuration.authorization(for: station, charger: authorization)
        self.closeCharger = closeCharger
    }

    /// Keeps the upstream connection up while the charger is attached.
    func start() {
        centralSystem.noteUpstream(UpstreamStatus(.connecting), station: station)
        running = Task { await self.keepConnected() }
        reading = Task {
            for await text in frames.stream { await self.received(text) }
        }
    }

    /// The charger left: the upstream connection closes, and everything waiting ends.
    func stop() {
        attached = false
        running?.cancel()
        frames.continuation.finish()
        line.disconnected()?.close()
        for waiter in answers.values { waiter.resume(returning: nil) }
        answers = [:]
        for waiter in connectionWaiters.values { waiter.resume(returning: false) }
        connectionWaiters = [:]
        centralSystem.noteUpstream(UpstreamStatus(.offline), station: station)
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
                if attached { centralSystem.noteUpstream(UpstreamStatus(.connecting, lastError: "\(error)"), station: station) }
            }
            guard attached, !Task.isCancelled else { return }
            if let downSince, ContinuousClock.now - downSince > configuration.offlineGrace {
                logger.warning("The upstream central system stayed away past RELAY_OFFLINE_GRACE: closing the charger, which keeps its messages until it reconnects", metadata: [
                    "relay.offline_grace_seconds": "\(configuration.offlineGrace.components.seconds)",
                ])
                attached = false
                centralSystem.noteUpstream(UpstreamStatus(.offline, lastError: "away for longer than RELAY_OFFLINE_GRACE; the charger was closed"),
                                           station: station)
                await closeCharger()
                return
            }
            let jittered = delay * Double.random(in: 0.5...1)
            try? await Task.sleep(for: jittered)
            delay = min(delay * 2, .seconds(30))
        }
    }

    private func connected(_ socket: UpstreamSocket) {
        let (sent, dropped) = line.connected(socket)
        downSince = nil
        logger.info("Connected to the upstream central system", metadata: [
            "relay.url": "\(configuration.upstream(for: station).url)", "relay.sent_after_connecting": "\(sent)", "relay.dropped_while_away": "\(dropped)",
        ])
        for waiter in connectionWaiters.values { waiter.resume(returning: true) }
        connectionWaiters = [:]
        centralSystem.noteUpstream(UpstreamStatus(.connected), station: station)
    }

    private func disconnected() {
        _ = line.disconnected()
        downSince = .now
        // Messages sent and not answered: their chargers get no answer and send them again.
        for waiter in answers.values { waiter.resume(returning: nil) }
        answers = [:]
        if attached {
            logger.warning("The upstream central system closed the connection; connecting again")
            centralSystem.noteUpstream(UpstreamStatus(.connecting, lastError: "the upstream closed the connection"), station: station)
        }
    }

    /// Sends a charger's message and waits for the upstream's answer (nil when none comes in time, or the upstream
    /// is away past the grace period).
    func forward(_ call: Call, text: [UInt8]) async -> Frame? {
        guard await waitForConnection() else { return nil }
        let id = call.messageID
        if let earlier = answers.removeValue(forKey: id) { earlier.resume(returning: nil) }  // a charger repeating an id
        let timeout = configuration.answerTimeout
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.answerTimedOut(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            answers[id] = continuation
            if !line.sendIfConnected(text) { answers.removeValue(forKey: id)?.resume(returning: nil) }
        }
    }

    private func answerTimedOut(_ id: String) {
        guard let waiter = answers.removeValue(forKey: id) else { return }
        logger.warning("The upstream central system did not answer in time", metadata: ["ocpp.message_id": "\(id)"])
        waiter.resume(returning: nil)
    }

    /// True once connected; false when the charger left or the grace period passed first.
    private func waitForConnection() async -> Bool {
        if line.isConnected { return true }
        guard attached else { return false }
        let id = UUID()
        let grace = configuration.offlineGrace
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: grace)) != nil else { return }
            await self?.connectionWaitEnded(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            connectionWaiters[id] = continuation
        }
    }

    private func connectionWaitEnded(_ id: UUID) {
        connectionWaiters.removeValue(forKey: id)?.resume(returning: false)
    }

    /// A frame from the upstream: an answer to a charger's message, or a call for the charger.
    private func received(_ text: String) {
        let frame: Frame
        do {
            frame = try FrameCodec.decode(Array(text.utf8))
        } catch {
            logger.warning("Malformed frame from the upstream central system", metadata: [
                "ocpp.error_code": "\(error.code)", "ocpp.error": "\(error.reason)",
            ])
            if let reply = error.reply { _ = line.sendIfConnected(Array(FrameCodec.encode(.callError(reply)))) }
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
            _ = line.sendIfConnected(Array(FrameCodec.encode(refusal)))
            return
        }
        let result = await centralSystem.sendRaw(action: call.action, payload: call.payload, to: station, fromUpstream: true)
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
        if let reply { _ = line.sendIfConnected(Array(FrameCodec.encode(reply))) }
    }
}
