import CentralSystem
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// Asks the session handler to close the WebSocket with a close frame.
struct CloseRequest: Sendable {
    var code: WebSocketErrorCode
    var reason: String
    var disconnectReason: DisconnectReason
}

/// How a connection ended, written by the channel handler and read by the connection's task.
final class ConnectionOutcome: Sendable {
    private let box = NIOLockedValueBox<DisconnectReason?>(nil)

    /// Records the first reason only: the cause, not its consequences.
    func record(_ reason: DisconnectReason) {
        box.withLockedValue { if $0 == nil { $0 = reason } }
    }

    var reason: DisconnectReason { box.withLockedValue { $0 } ?? .connectionLost }
}

/// The WebSocket protocol around OCPP: passes text messages on as bytes, answers pings, sends its own pings
/// and detects a dead peer, completes the close handshake, and refuses binary frames (1003) and messages over
/// the frame limit (1009). It is the only place that closes on protocol errors (NIO's automatic error handling
/// is off), so the recorded disconnect reason is the cause, not the closed socket that follows it.
final class WebSocketSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let pingInterval: TimeAmount?
    private let pingTimeout: TimeAmount
    private let outcome: ConnectionOutcome
    private let intake: IntakeGate?
    private var pingTask: RepeatedTask?
    private var pongDeadline: Scheduled<Void>?
    private var lastInbound = NIODeadline.now()
    private var closeSent = false

    /// - Parameter intake: while it is paused, nothing is read, so a missing pong says nothing about the peer.
    init(pingInterval: TimeAmount?, pingTimeout: TimeAmount, outcome: ConnectionOutcome, intake: IntakeGate? = nil) {
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
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
                // Nothing at all from the peer since the ping: it is gone. No close handshake with a dead peer.
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
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .binary:
            close(context: context, CloseRequest(code: .unacceptableData, reason: "OCPP-J uses text frames only", disconnectReason: .unsupportedData))
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode()
            let reason: DisconnectReason = switch code {
            case .normalClosure, nil: .normalClosure
            case .goingAway: .goingAway
            case .some(let other): .closed(code: UInt16(webSocketErrorCode: other))
            }
            outcome.record(reason)
            if closeSent {
                context.close(promise: nil)
            } else {
                // Complete the handshake with the peer's own code, then close.
                closeSent = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                if let code { echo.write(webSocketErrorCode: code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)))
                    .whenComplete { [loopBound = context.loopBound] _ in loopBound.value.close(promise: nil) }
            }
        default:
            break
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
        default:
            outcome.record(.connectionLost)
            context.close(promise: nil)
        }
    }

    /// Sends a close frame and closes the connection once it is written.
    private func close(context: ChannelHandlerContext, _ request: CloseRequest) {
        outcome.record(request.disconnectReason)
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2 + request.reason.utf8.count)
        data.write(webSocketErrorCode: request.code)
        data.writeString(String(request.reason.utf8.prefix(120)) ?? "")
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { [loopBound = context.loopBound] _ in loopBound.value.close(promise: nil) }
    }
}
