import CentralSystem
import NIOCore
import OCPP

/// Answers a charger's CALLs on the connection's event loop, where the message arrived: decoding, the central
/// system's handling (including the MQTT bridge's, which makes the event durable) and the answer's write happen
/// without a hand-off to another thread. At 1,000 chargers those hand-offs were most of the cost of a message
/// (docs/performance.md).
///
/// It also owns the connection's life in the central system, without a task that lives as long as the connection
/// (its frames were the largest part of a connection's memory): a short task attaches the connection when the
/// handler is added, answers to the central system's own calls go to the station's session in short tasks, and once
/// the channel is closed a last one detaches it. These run one after another, in order. Messages that arrive before
/// the connection is attached wait here, in order, and nothing more is read from the socket until it is: a charger
/// cannot fill the gateway's memory before it has a session.
///
/// A charger that does not read its answers is not read either: once the answers waiting to be written pass the
/// channel's high water mark (``OCPPServer/unreadAnswersLimit``), the next read from the socket waits until they are
/// down to the low mark, so a charger that pipelines messages and never reads costs a bounded amount of memory (TCP
/// slows it down, as it should). That is logged once per connection, and a connection that stays stuck for
/// `stuckTimeout` is closed.
///
/// While the central system's ``IntakeGate`` is paused (a broker that is alive but slower than the chargers), the next
/// read from the socket waits until it opens again.
///
/// The events of the messages the loop reads in one tick are made durable together (``AnswerBatch``): an answer
/// whose message staged an event is held until the batch is committed, at the end of the tick, and every answer
/// after it waits behind it, so a charger's answers keep their order.
final class ChargerCallHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let centralSystem: CentralSystem
    private let station: String
    private let subprotocol: String?
    private let outcome: ConnectionOutcome
    private let tracker: ConnectionTracker
    private let batches: AnswerBatches
    /// The loop's batch, from `handlerAdded` on.
    private var batch: AnswerBatch?
    /// Answers waiting for the batch's commit, in order.
    private var held: [ByteBuffer] = []
    private var link: CentralSystem.Link?
    /// The attach, until it is done. Finished tasks are not kept: a task's memory (about 1.8 KiB) lives as long as
    /// its handle, and most connections sit idle for hours after their attach.
    private var attach: Task<CentralSystem.Link, Never>?
    /// The last answer to the central system's calls handed on, or the detach, until it is done: each waits for the
    /// one before (and answers come only once the attach is done; the detach waits for it too).
    private var lastWork: Task<Void, Never>?
    /// Counts the tasks put in ``lastWork``, so a finished one clears it only if no later one took its place.
    private var workNumber = 0
    private var context: ChannelHandlerContext?
    /// Messages that came before the link, in order (at most one read's worth: reading waits for the link).
    private var early: [ByteBuffer] = []
    private var unflushed = false
    /// A read was asked for before the link, while the charger left its answers unread, or while the intake gate was
    /// paused.
    private var readHeld = false
    /// Answers to the central system's calls handed to tasks and not yet delivered. The central system has at most
    /// one call outstanding per station, so more than a few means a charger sending answers nobody asked for: past
    /// ``maximumForwards`` they are dropped rather than queued without bound.
    private var forwards = 0
    static let maximumForwards = 16
    /// How long a charger may leave its answers unread (the channel not writable) before it is closed.
    private let stuckTimeout: TimeAmount
    /// Closes the connection when the answers stay unread; set while the channel is not writable.
    private var stuckDeadline: Scheduled<Void>?
    /// "Does not read its answers" was logged for this connection.
    private var loggedUnread = false

    /// The charger's `Authorization` header, for relay mode's `RELAY_AUTH=forward`.
    private let authorization: String?

    init(
        centralSystem: CentralSystem, station: String, subprotocol: String?, outcome: ConnectionOutcome,
        tracker: ConnectionTracker, batches: AnswerBatches, stuckTimeout: TimeAmount = .seconds(60), authorization: String? = nil
    ) {
        self.authorization = authorization
        self.stuckTimeout = stuckTimeout
        self.centralSystem = centralSystem
        self.station = station
        self.subprotocol = subprotocol
        self.outcome = outcome
        self.tracker = tracker
        self.batches = batches
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        batch = batches.batch(for: context.eventLoop)
        let channel = context.channel
        tracker.opened(channel)
        let remote = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        let info = ConnectionInfo(remoteAddress: remote, subprotocol: subprotocol, authorization: authorization)
        let connection = WebSocketConnection(channel: channel, outcome: outcome)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let (centralSystem, station) = (self.centralSystem, self.station)
        self.attach = Task {
            let link = await centralSystem.attach(station: station, connection: connection, info: info)
            eventLoop.execute { handler.value.attached(link) }
            return link
        }
        // The close future completes however the connection ends, also if it was closed before this handler came.
        channel.closeFuture.whenComplete { _ in handler.value.closed(channel) }
    }

    /// The channel is closed: detach the connection once the work before is done, then let the tracker know.
    private func closed(_ channel: any Channel) {
        let (link, attach) = (self.link, self.attach)
        guard link != nil || attach != nil else { return }
        let previous = lastWork
        workNumber += 1  // the detach takes the place of the last answer handed on
        let (centralSystem, outcome, tracker) = (self.centralSystem, self.outcome, self.tracker)
        lastWork = Task {
            await previous?.value
            var attached = link
            if attached == nil { attached = await attach?.value }
            if let attached { await centralSystem.detach(attached, reason: outcome.reason) }
            tracker.closed(channel)
        }
    }

    /// Hands an answer to one of the central system's calls to the station's session, after the work before.
    private func forward(_ frame: Frame, _ link: CentralSystem.Link, _ context: ChannelHandlerContext) {
        guard forwards < Self.maximumForwards else {
            link.logger.warning("Too many answers to deliver at once; dropped one")
            return
        }
        forwards += 1
        workNumber += 1
        let (previous, number) = (lastWork, workNumber)
        let centralSystem = self.centralSystem
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        lastWork = Task {
            await previous?.value
            await centralSystem.deliver(frame, on: link)
            eventLoop.execute { handler.value.forwarded(number) }
        }
    }

    /// Tasks whose handles this handler holds (for tests).
    var heldTasks: Int { (attach == nil ? 0 : 1) + (lastWork == nil ? 0 : 1) }

    /// An answer handed on by ``forward`` was delivered.
    private func forwarded(_ number: Int) {
        forwards -= 1
        if number == workNumber { lastWork = nil }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stuckDeadline?.cancel()
        stuckDeadline = nil
    }

    /// The answers waiting to be written passed the high water mark (the charger does not read them), or are back
    /// under the low one.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stuckDeadline?.cancel()
            stuckDeadline = nil
            resumeReading()
        } else if stuckDeadline == nil {
            if !loggedUnread, let link {
                loggedUnread = true
                link.logger.warning("The charger does not read its answers: reading from it paused until it does", metadata: [
                    "ocpp.unread_limit_bytes": "\(OCPPServer.unreadAnswersLimit.high)",
                ])
            }
            let (loopBound, outcome, timeout, logger) = (context.loopBound, self.outcome, stuckTimeout, link?.logger)
            stuckDeadline = context.eventLoop.scheduleTask(in: timeout) {
                let context = loopBound.value
                guard !context.channel.isWritable else { return }
                logger?.warning("Closing the connection: the charger left its answers unread", metadata: [
                    "ocpp.stuck_seconds": "\(timeout.nanoseconds / 1_000_000_000)",
                ])
                outcome.record(.timeout)
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// The connection is attached: messages are handled from now on, those that waited first.
    func attached(_ link: CentralSystem.Link) {
        self.link = link
        attach = nil
        guard let context else { return }
        let waiting = early
        early = []
        for message in waiting { handle(message, link, context) }
        flushIfNeeded(context)
        resumeReading()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard let link else {
            early.append(message)
            return
        }
        handle(message, link, context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The answers to one read's messages go out in one write.
        flushIfNeeded(context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard link != nil, context.channel.isWritable else {
            readHeld = true
            return
        }
        let intake = centralSystem.intake
        if intake.isOpen {
            context.read()
            return
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        if intake.admit(orWhenOpen: { eventLoop.execute { handler.value.resumeReading() } }) {
            context.read()
        } else {
            readHeld = true
        }
    }

    /// A read held back may go now (the link came, the answers were read, or the intake gate opened): asked for
    /// again, so the other conditions are checked too.
    private func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        read(context: context)
    }

    private func handle(_ message: ByteBuffer, _ link: CentralSystem.Link, _ context: ChannelHandlerContext) {
        let stagedBefore = batch?.durable.staged ?? 0
        let receipt = centralSystem.receiveSynchronously(message.readableBytesView, on: link, batch: batch?.durable)
        let staged = batch.map { $0.durable.staged != stagedBefore } ?? false
        if staged { batch?.commitAtTheEndOfTheTick() }
        switch receipt {
        case .handled(let reply?):
            let answer = ByteBuffer(bytes: reply)
            if let batch, staged || !held.isEmpty {
                // Not before the event is durable, and not before the answers held already.
                if held.isEmpty { batch.hold(self) }
                held.append(answer)
            } else {
                context.write(wrapOutboundOut(answer), promise: nil)
                unflushed = true
            }
        case .handled(nil):
            break
        case .forSession(let frame):
            forward(frame, link, context)
        case .relayed(let call, let ticket):
            relay(call, ticket, link, context)
        }
    }

    /// Relay mode: the upstream answers this message; its answer is written when it comes (the charger waits for it:
    /// one outstanding CALL), after any answers held for the batch.
    private func relay(_ call: Call, _ ticket: RelayTicket, _ link: CentralSystem.Link, _ context: ChannelHandlerContext) {
        let centralSystem = self.centralSystem
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            guard let reply = await centralSystem.relay(call, ticket: ticket, on: link) else { return }
            eventLoop.execute { handler.value.writeRelayed(ByteBuffer(bytes: reply)) }
        }
    }

    private func writeRelayed(_ answer: ByteBuffer) {
        guard let context else { return }
        if held.isEmpty {
            context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
        } else {
            held.append(answer)  // the batch's commit writes it after the answers before it
        }
    }

    /// The loop's batch is committed: the held answers go out.
    func committed() {
        let answers = held
        held = []
        guard let context, !answers.isEmpty else { return }
        for answer in answers { context.write(wrapOutboundOut(answer), promise: nil) }
        unflushed = false
        context.flush()
    }

    private func flushIfNeeded(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }
}
