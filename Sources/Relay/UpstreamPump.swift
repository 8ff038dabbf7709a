import CentralSystem
import Foundation
import Logging
import NIOCore
import OCPP
import Synchronization

/// Sends a station's line to the upstream over one connection: first the BootNotification the upstream is owed, then
/// each message in order, one at a time (OCPP-J section 4.1.1), each under a message id of the gateway's, and takes the
/// answers. Driven from whichever thread has news (a message taken in on the charger's connection, an answer or a
/// timeout on the upstream's) without a task hop: each step is short, under its own lock, and the line's.
final class UpstreamPump: Sendable {
    private struct State {
        /// The message sent and not answered yet: its id, the line's entry (nil for the owed boot), its timeout.
        var inFlight: (id: String, entry: UInt64?, timeout: Scheduled<Void>)?
        var sent: UInt64 = 0
        /// Waiting before the owed boot goes again (the upstream did not accept it).
        var bootRetry: Scheduled<Void>?
        var stopped = false
    }

    private let state = Mutex(State())
    private let line: StationLine
    private let generation: UInt64
    private let socket: UpstreamSocket
    private let answerTimeout: TimeAmount
    private let logger: Logger
    private let snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?
    private let transactionsChanged: @Sendable () -> Void

    init(line: StationLine, generation: UInt64, socket: UpstreamSocket, answerTimeout: Duration, logger: Logger,
         snoop: (@Sendable (_ text: [UInt8], _ outgoing: Bool) -> Void)?, transactionsChanged: @escaping @Sendable () -> Void) {
        self.line = line
        self.generation = generation
        self.socket = socket
        let parts = answerTimeout.components
        self.answerTimeout = .seconds(parts.seconds) + .nanoseconds(parts.attoseconds / 1_000_000_000)
        self.logger = logger
        self.snoop = snoop
        self.transactionsChanged = transactionsChanged
    }

    /// Starts sending (the line wakes the pump when a message arrives while it is idle).
    func start() {
        line.setWaker(generation) { [weak self] in self?.kick() }
        kick()
    }

    /// Sends the next message if none is in flight.
    func kick() {
        let text = state.withLock { state -> [UInt8]? in
            guard !state.stopped, state.inFlight == nil, state.bootRetry == nil else { return nil }
            if let boot = line.owedBoot() {
                let id = nextID(&state)
                state.inFlight = (id, nil, scheduleTimeout(id))
                logger.info("Sending the upstream a BootNotification before what it missed", metadata: ["relay.queued": "\(line.queued)"])
                return Array(FrameCodec.encode(.call(Call(messageID: id, action: Action.bootNotification.rawValue, payload: boot))))
            }
            guard let entry = line.take(generation) else { return nil }
            let id = nextID(&state)
            state.inFlight = (id, entry.id, scheduleTimeout(id))
            return line.frame(for: entry, messageID: id)
        }
        guard let text else { return }
        snoop?(text, true)
        socket.send(text)
    }

    /// An answer from the upstream (a CALLRESULT or CALLERROR); false when it answers nothing in flight (a late or
    /// unknown one, dropped).
    @discardableResult
    func answered(_ frame: Frame, id: String) -> Bool {
        guard let sent = takeInFlight(id) else { return false }
        finish(sent, answer: frame)
        return true
    }

    /// The connection ended: the message in flight gets no answer (a charger's own is sent again by the charger, a
    /// kept one by the next connection's pump).
    func stop() {
        let sent = state.withLock { state -> (id: String, entry: UInt64?, timeout: Scheduled<Void>)? in
            state.stopped = true
            state.bootRetry?.cancel()
            state.bootRetry = nil
            defer { state.inFlight = nil }
            return state.inFlight
        }
        line.setWaker(generation, nil)
        guard let sent else { return }
        sent.timeout.cancel()
        if let entry = sent.entry { _ = line.complete(entry, answer: nil) }
    }

    private func takeInFlight(_ id: String) -> (id: String, entry: UInt64?, timeout: Scheduled<Void>)? {
        state.withLock { state in
            guard let sent = state.inFlight, sent.id == id else { return nil }
            state.inFlight = nil
            return sent
        }
    }

    private func finish(_ sent: (id: String, entry: UInt64?, timeout: Scheduled<Void>), answer: Frame?) {
        sent.timeout.cancel()
        if let entry = sent.entry {
            if line.complete(entry, answer: answer).transactionsChanged { transactionsChanged() }
        } else if let wait = line.bootAnswered(answer) {
            logger.warning("The upstream did not accept the BootNotification; trying again", metadata: ["relay.retry_seconds": "\(wait.components.seconds)"])
            let retry = socket.channel.eventLoop.scheduleTask(in: .seconds(wait.components.seconds)) { [weak self] in
                guard let self else { return }
                state.withLock { $0.bootRetry = nil }
                kick()
            }
            let stopped = state.withLock { state -> Bool in
                if !state.stopped { state.bootRetry = retry }
                return state.stopped
            }
            if stopped { retry.cancel() }
            return
        }
        kick()
    }

    private func nextID(_ state: inout State) -> String {
        state.sent += 1
        return "relay-\(state.sent)"
    }

    private func scheduleTimeout(_ id: String) -> Scheduled<Void> {
        socket.channel.eventLoop.scheduleTask(in: answerTimeout) { [weak self] in
            guard let self, let sent = takeInFlight(id) else { return }
            logger.warning("The upstream central system did not answer in time", metadata: ["ocpp.message_id": "\(id)"])
            finish(sent, answer: nil)
        }
    }
}
