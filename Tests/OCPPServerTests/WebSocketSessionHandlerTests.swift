import CentralSystem
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import OCPPServer

/// The close the gateway starts: a close frame, the end of our stream, and a linger until the charger answers,
/// ends its stream, or the close timeout passes.
@Suite(.timeLimit(.minutes(1))) struct WebSocketSessionHandlerTests {
    /// Stands in for the socket's half-close, which `EmbeddedChannel` does not have (it closes entirely).
    final class HalfClose: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var outputClosed = false

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            guard mode == .output else { return context.close(mode: mode, promise: promise) }
            outputClosed = true
            promise?.succeed()
        }
    }

    /// The messages the session handler passes on.
    final class Messages: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var texts: [String] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            texts.append(String(buffer: unwrapInboundIn(data)))
        }
    }

    struct Session {
        let channel = EmbeddedChannel()
        let halfClose = HalfClose()
        let messages = Messages()
        let outcome = ConnectionOutcome()

        init() throws {
            try channel.pipeline.syncOperations.addHandlers(
                halfClose,
                WebSocketSessionHandler(pingInterval: nil, pingTimeout: .seconds(20), closeTimeout: .seconds(3), outcome: outcome),
                messages)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3000)).wait()
        }

        /// Starts a close for a message too large and returns the close frame written.
        func closeForTooLarge() throws -> WebSocketFrame? {
            channel.pipeline.triggerUserOutboundEvent(
                CloseRequest(code: .messageTooLarge, reason: "message too large", disconnectReason: .messageTooLarge),
                promise: nil)
            return try channel.readOutbound(as: WebSocketFrame.self)
        }

        func receive(_ opcode: WebSocketOpcode, _ text: String = "") throws {
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: opcode, data: ByteBuffer(string: text)))
        }
    }

    @Test func theCloseFrameEndsOurStreamAndThePeersAnswerClosesTheConnection() throws {
        let session = try Session()
        var frame = try #require(try session.closeForTooLarge())
        #expect(frame.opcode == .connectionClose)
        #expect(frame.data.readWebSocketErrorCode() == .messageTooLarge)
        #expect(session.halfClose.outputClosed)
        #expect(session.channel.isActive)

        try session.receive(.text, #"[2,"late","Heartbeat",{}]"#)
        #expect(session.messages.texts.isEmpty, "a message after our close frame is dropped")
        #expect(session.channel.isActive)

        var answer = ByteBuffer()
        answer.write(webSocketErrorCode: .messageTooLarge)
        try session.channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer))
        #expect(!session.channel.isActive)
        #expect(session.outcome.reason == .messageTooLarge)
    }

    @Test func aPeerThatNeverAnswersIsClosedAfterTheCloseTimeout() throws {
        let session = try Session()
        _ = try session.closeForTooLarge()
        session.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2_999))
        #expect(session.channel.isActive)
        session.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!session.channel.isActive)
        #expect(session.outcome.reason == .messageTooLarge)
    }

    @Test func whatTheDecoderCannotParseAfterTheErrorIsDroppedWhileTheCloseLingers() throws {
        let session = try Session()
        _ = try session.closeForTooLarge()
        session.channel.pipeline.fireErrorCaught(
            ByteToMessageDecoderError.dataReceivedInErrorState(NIOWebSocketError.invalidFrameLength, ByteBuffer(string: "rest")))
        #expect(session.channel.isActive)
        #expect(session.outcome.reason == .messageTooLarge)
    }

    @Test func aSocketErrorWhileTheCloseLingersClosesAtOnce() throws {
        let session = try Session()
        _ = try session.closeForTooLarge()
        struct ConnectionReset: Error {}
        session.channel.pipeline.fireErrorCaught(ConnectionReset())
        #expect(!session.channel.isActive)
    }

    @Test func messagesPassOnUntilACloseStarts() throws {
        let session = try Session()
        try session.receive(.text, "[]")
        #expect(session.messages.texts == ["[]"])
    }

    /// Issue 19: RFC 6455 has a server fail the connection on an unmasked frame, reserved bits or a reserved opcode,
    /// and not echo a close code no endpoint may send; all were accepted. Each now closes with 1002.
    @Test(arguments: ["unmasked", "rsv1", "opcode 3", "close 1005", "close 999", "close 5000", "close one byte"])
    func protocolViolationsCloseWith1002(_ violation: String) throws {
        let channel = EmbeddedChannel()
        let outcome = ConnectionOutcome()
        try channel.pipeline.syncOperations.addHandlers(
            FrameConformance(),
            WebSocketSessionHandler(pingInterval: nil, pingTimeout: .seconds(20), closeTimeout: .seconds(3), outcome: outcome))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3000)).wait()
        let mask: WebSocketMaskingKey = [1, 2, 3, 4]
        func close(_ payload: [UInt8]) -> WebSocketFrame {
            var data = ByteBuffer(bytes: payload)
            data.webSocketMask(mask)
            return WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: mask, data: data)
        }
        let frame: WebSocketFrame = switch violation {
        case "unmasked": WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "[]"))
        case "rsv1": WebSocketFrame(fin: true, rsv1: true, opcode: .text, maskKey: mask, data: ByteBuffer(string: "[]"))
        case "opcode 3": WebSocketFrame(fin: true, opcode: WebSocketOpcode(encodedWebSocketOpcode: 3)!, maskKey: mask, data: ByteBuffer())
        case "close 1005": close([0x03, 0xED])
        case "close 999": close([0x03, 0xE7])
        case "close 5000": close([0x13, 0x88])
        default: close([0x03])
        }
        try channel.writeInbound(frame)
        let answer = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(answer.opcode == .connectionClose)
        var data = answer.unmaskedData
        #expect(data.readInteger(as: UInt16.self) == 1002)
        #expect(outcome.reason == .protocolError || violation.hasPrefix("close"))
        _ = try? channel.finish()
    }

    @Test func aValidCloseCodeIsEchoed() throws {
        let session = try Session()
        var data = ByteBuffer()
        data.writeInteger(UInt16(4000))
        try session.channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        var echoed = try #require(try session.channel.readOutbound(as: WebSocketFrame.self)).unmaskedData
        #expect(echoed.readInteger(as: UInt16.self) == 4000)
    }
}
