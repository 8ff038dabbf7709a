import NIOCore
import NIOHTTP1
import NIOWebSocket

/// MQTT over WebSocket (MQTT 3.1.1, section 6): the connection's pipeline makes the HTTP upgrade with subprotocol
/// `mqtt`, then carries the MQTT bytes in binary frames (``WebSocketBytes``) to the same ``ConnectionHandler`` as
/// TCP. A refused upgrade, or none within the connect timeout, fails the attempt like a refused TCP connect.
enum WebSocketTransport {
    /// Adds the upgrade to `channel`'s pipeline; the connection's handler (`makeConnection`) joins it once the broker
    /// accepts the upgrade.
    static func configure(
        _ channel: any Channel, configuration: MQTTClientConfiguration, outcome: ConnectionOutcome,
        makeConnection: @escaping @Sendable () -> ConnectionHandler
    ) throws {
        let upgraded = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
            maxFrameSize: MQTTClient.maximumInboundPacket + 16, enableAutomaticErrorHandling: true,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    upgraded.value = true
                    try channel.pipeline.syncOperations.addHandler(WebSocketBytes(outcome: outcome))
                    return true
                }
            })
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(configuration.host):\(configuration.port)")
        headers.add(name: "Sec-WebSocket-Protocol", value: "mqtt")
        for (name, value) in configuration.webSocket.headers.sorted(by: { $0.key < $1.key }) { headers.replaceOrAdd(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: configuration.webSocket.path, headers: headers)
        let upgrade = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
            upgradeRequestHead: head, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { false } })
        let result = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: upgrade))
        result.whenComplete { result in
            switch result {
            case .success(true):
                // Once the upgrade's handlers are gone (they hold back writes while upgrading): CONNECT can go.
                do {
                    try channel.pipeline.syncOperations.addHandler(makeConnection())
                } catch {
                    outcome.fail(error)
                    channel.close(promise: nil)
                }
                return
            case .success(false):
                outcome.fail(ConnectionFailure(description: "the broker's WebSocket endpoint (\(configuration.webSocket.path)) did not accept the upgrade"))
            case .failure(let error):
                outcome.fail(ConnectionFailure(description: "the WebSocket upgrade failed: \(error)"))
            }
            channel.close(promise: nil)
        }
        let timeout = TimeAmount(configuration.connectTimeout)
        channel.eventLoop.scheduleTask(in: timeout) {
            guard !upgraded.value, channel.isActive else { return }
            outcome.fail(ConnectionFailure(description: "no WebSocket upgrade from the broker within \(timeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
    }
}

/// MQTT bytes in WebSocket binary frames: what comes in is the frames' payload, what goes out one masked binary frame
/// per write. Pings are answered; a text frame, which MQTT forbids, closes the connection, as does the broker's close.
final class WebSocketBytes: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private let outcome: ConnectionOutcome

    init(outcome: ConnectionOutcome) {
        self.outcome = outcome
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            context.close(promise: nil)
        default:
            outcome.fail(ConnectionFailure(description: "the broker sent a WebSocket \(frame.opcode) frame; MQTT uses binary frames"))
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }
}
