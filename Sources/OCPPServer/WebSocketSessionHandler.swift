import CentralSystem
import NIOCore
import NIOWebSocket
import Synchronization

/// Asks the session handler to close the WebSocket with a close frame.
struct CloseRequest: Sendable {
    var code: WebSocketErrorCode
    var reason: String
    var disconnectReason: DisconnectReason
}

/// How a connection ended, written by the channel handler and read by the connection's task.
final class ConnectionOutcome: Sendable {
    private let box = Mutex<DisconnectReason?>(nil)

    /// Records the first reason only: the cause, not its consequences.
    func record(_ reason: DisconnectReason) {
        box.withLock { if $0 == nil { $0 = reason } }
    }

    var reason: DisconnectReason { recorded ?? .connectionLost }

    /// The cause recorded so far, if any.
    var recorded: DisconnectReason? { box.withLock { $0 } }
}

/// The WebSocket protocol around OCPP: passes text messages on as bytes, answers pings, sends its own pings
/// and detects a dead peer, completes the close handshake, and refuses binary frames (1003) and messages over
/// the frame limit (1009). It is the only place that closes on protocol errors (NIO's automatic error handling
/// is off), so the recorded disconnect reason is the cause, not the closed socket that follows it.
///
/// A close it starts is a lingering one: it sends the close frame, ends its side of the TCP stream, and keeps
/// reading (and discarding) until the peer's close frame, the peer's end of the stream, or `closeTimeout`.
/// Closing the socket at once, while a charger is still sending (the rest of a message too large, say), makes
/// the kernel answer with a reset, and the charger may never read the close frame that says why.
final class WebSocketSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let pingInterval: TimeAmount?
    private let pingTimeout: TimeAmount
    private let closeTimeout: TimeAmount
    private let outcome: ConnectionOutcome
    private let intake: IntakeGate?
    private var pingTask: RepeatedTask?
    private var pongDeadline: Scheduled<Void>?
    private var closeDeadline: Scheduled<Void>?
    private var lastInbound = NIODeadline.now()
    private var closeSent = false

    /// - Parameters:
    ///   - closeTimeout: how long a close we started waits for the peer to end the connection.
    ///   - intake: while it is paused, nothing is read, so a missing pong says nothing about the peer.
    init(
        pingInterval: TimeAmount?, pingTimeout: TimeAmount, closeTimeout: TimeAmount = .seconds(3),
        outcome: ConnectionOutcome, intake: IntakeGate? = nil
    ) {
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.closeTimeout = closeTimeout
        self.outcome = outcome
        self.intake = intake
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let pingInterval, context.channel.isActive else { return }
        let loopBound = context.loopBound
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        pingTask = context.eventLoop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
            handler.value.sendPing(context: loopBound.value)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        outcome.record(.connectionLost)
        context.fireChannelInactive()
    }

    private func stopTimers() {
        pingTask?.cancel()
        pingTask = nil
        pongDeadline?.cancel()
        pongDeadline = nil
        closeDeadline?.cancel()
        closeDeadline = nil
    }

    private func sendPing(context: ChannelHandlerContext) {
        guard !closeSent, pongDeadline == nil else { return }
        let pingSentAt = NIODeadline.now()
        let pausesAtPing = intake?.pauseCount
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(string: "ka"))), promise: nil)
        let loopBound = context.loopBound
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        pongDeadline = context.eventLoop.scheduleTask(in: pingTimeout) {
            let handler = handler.value
            handler.pongDeadline = nil
            let readingWasPaused = handler.intake.map { !$0.isOpen || $0.pauseCount != pausesAtPing } ?? false
            if handler.lastInbound < pingSentAt && !readingWasPaused {
                // Nothing at all from the peer since the ping: it is gone, or it stopped reading its answers (then
                // nothing is read from it either). No close handshake with a dead peer.
                handler.outcome.record(.timeout)
                loopBound.value.close(promise: nil)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastInbound = .now()
        switch frame.opcode {
        case .text:
            // After our close frame, messages are dropped: they could not be answered, and a charger sends an
            // unanswered message again when it is back.
            guard !closeSent else { return }
            context.fireChannelRead(wrapInboundOut(frame.unmaskedPayload))
        case .binary:
            close(context: context, CloseRequest(code: .unacceptableData, reason: "OCPP-J uses text frames only", disconnectReason: .unsupportedData))
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var data = frame.unmaskedData
            let raw = data.readableBytes >= 2 ? data.getInteger(at: data.readerIndex, as: UInt16.self) : nil
            let code = data.readWebSocketErrorCode()
            let reason: DisconnectReason = switch code {
            case .normalClosure, nil: .normalClosure
            case .goingAway: .goingAway
            case .some(let other): .closed(code: UInt16(webSocketErrorCode: other))
            }
            outcome.record(reason)
            if closeSent {
                // The answer to our close: the handshake is complete.
                context.close(promise: nil)
            } else if data.readableBytes == 1 || raw.map({ !Self.mayBeSent($0) }) == true {
                // A one-byte payload, or a code no endpoint may send (1005, 1006, 1015, unassigned ones): not echoed,
                // answered with 1002 (RFC 6455 section 7.4).
                close(context: context, CloseRequest(code: .protocolError, reason: "invalid close code", disconnectReason: .protocolError))
            } else {
                // Complete the handshake with the peer's own code, then close.
                closeSent = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                if let code { echo.write(webSocketErrorCode: code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)))
                    .whenComplete { [loopBound = context.loopBound] _ in loopBound.value.close(promise: nil) }
            }
        default:
            // Reserved opcodes are refused before the frames are put together (``FrameConformance``).
            break
        }
    }

    /// Close codes an endpoint may send (RFC 6455 section 7.4): the registered ones meant for the wire, and those for
    /// libraries, frameworks and applications.
    static func mayBeSent(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: unwrapOutboundIn(data))), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let request = event as? CloseRequest else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        close(context: context, request)
        promise?.succeed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength,
            NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge,
            NIOWebSocketFrameAggregator.Error.tooManyFragments:
            close(context: context, CloseRequest(code: .messageTooLarge, reason: "message too large", disconnectReason: .messageTooLarge))
        case is NIOWebSocketError:
            close(context: context, CloseRequest(code: .protocolError, reason: "protocol error", disconnectReason: .protocolError))
        case is NIOWebSocketFrameAggregator.Error:
            close(context: context, CloseRequest(code: .protocolError, reason: "bad fragmentation", disconnectReason: .protocolError))
        case let violation as FrameConformance.Violation:
            close(context: context, CloseRequest(code: .protocolError, reason: violation.reason, disconnectReason: .protocolError))
        case is ByteToMessageDecoderError where closeSent:
            // The frame decoder stopped at the error we are closing for, and what the peer still sends cannot be
            // parsed: it is read and dropped while the close lingers.
            break
        default:
            outcome.record(.connectionLost)
            context.close(promise: nil)
        }
    }

    /// Sends a close frame, ends our side of the stream once it is written, and closes the connection when the
    /// peer has answered or ended its side, or after `closeTimeout`.
    private func close(context: ChannelHandlerContext, _ request: CloseRequest) {
        outcome.record(request.disconnectReason)
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + request.reason.utf8.count)
        data.write(webSocketErrorCode: request.code)
        data.writeString(String(request.reason.utf8.prefix(120)) ?? "")
        let loopBound = context.loopBound
        closeDeadline = context.eventLoop.scheduleTask(in: closeTimeout) { loopBound.value.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { written in
                let context = loopBound.value
                guard case .success = written else {
                    context.close(promise: nil)
                    return
                }
                // The end of our stream tells a peer that stopped reading frames (a broken one, say) that we are
                // done. The channel closes when the peer ends its side (NIO closes on end of input).
                context.close(mode: .output).whenFailure { _ in loopBound.value.close(promise: nil) }
            }
    }
}

/// Checks each frame as it arrives, before fragments are put together (which drops their mask and reserved bits):
/// RFC 6455 section 5 has a server fail the connection on an unmasked client frame, a reserved bit it did not
/// negotiate, or a reserved opcode. A violation goes down the pipeline as an error, which the session handler closes
/// with 1002 for; frames after it are dropped.
final class FrameConformance: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    struct Violation: Error {
        var reason: String
    }

    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        let violation: String? = if frame.maskKey == nil {
            "client frames must be masked"
        } else if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            "reserved bits set without an extension"
        } else if !Self.known.contains(frame.opcode) {
            "reserved opcode"
        } else {
            nil
        }
        guard let violation else {
            context.fireChannelRead(data)
            return
        }
        failed = true
        context.fireErrorCaught(Violation(reason: violation))
    }

    private static let known: [WebSocketOpcode] = [.continuation, .text, .binary, .connectionClose, .ping, .pong]
}
