import CentralSystem
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// One station's WebSocket connection to the upstream central system, with the gateway in the charge point's role:
/// subprotocol `ocpp1.6` (`ocpp2.0.1` for a 2.0.1 charger: the upstream speaks the charger's version), masked text frames, a ping every 30 s, and a dead link (nothing at all for 60 s, not even a
/// pong) closed, so it is found within 90 s. Text messages go to `onText`; the close future says when it ended.
final class UpstreamSocket: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Connects and upgrades; throws when the upstream cannot be reached or refuses the upgrade (a 401, say).
    static func connect(
        to url: UpstreamURL, target: String, authorization: String?, tls: NIOSSLContext?, group: any EventLoopGroup,
        timeout: Duration, subprotocol: String = OCPPVersion.v16.rawValue, onText: @escaping @Sendable ([UInt8]) -> Void
    ) async throws -> UpstreamSocket {
        let (channel, upgraded) = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(max(1, timeout.components.seconds)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: url.host, port: url.port) { channel -> EventLoopFuture<(any Channel, EventLoopFuture<Bool>)> in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let isAddress = url.host.contains(":") || url.host.allSatisfy { $0.isNumber || $0 == "." }
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : url.host))
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: 1 << 20, enableAutomaticErrorHandling: true,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandlers(
                                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                                                                maxAccumulatedFrameSize: 1 << 20),
                                    UpstreamFrames(onText: onText))
                                return true
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: url.port == (url.secure ? 443 : 80) ? url.host : "\(url.host):\(url.port)")
                    headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
                    if let authorization { headers.add(name: "Authorization", value: authorization) }
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { false } })
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                    return (channel, upgraded)
                }
            }
        let accepted: Bool
        do {
            accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { try await upgraded.get() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw Failure(description: "no WebSocket upgrade within \(timeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            channel.close(promise: nil)
            throw Failure(description: "the WebSocket upgrade failed: \(error)")
        }
        guard accepted else {
            channel.close(promise: nil)
            throw Failure(description: "the upstream refused the WebSocket upgrade (wrong URL or credentials?)")
        }
        return UpstreamSocket(channel: channel)
    }

    /// Sends one text message.
    func send(_ text: [UInt8]) {
        let channel = self.channel
        channel.eventLoop.execute {
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: channel.allocator.buffer(bytes: text))
            channel.writeAndFlush(frame, promise: nil)
        }
    }

    /// Closes with 1000 (or 1001 when the gateway is going away) and ends the connection.
    func close() {
        let channel = self.channel
        channel.eventLoop.execute {
            var data = channel.allocator.buffer(capacity: 2)
            data.write(webSocketErrorCode: .normalClosure)
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data))
                .whenComplete { _ in channel.close(promise: nil) }
        }
    }

    var closeFuture: EventLoopFuture<Void> { channel.closeFuture }
}

/// Text frames in, pings answered, our own pings out, and a link silent for 60 s closed.
final class UpstreamFrames: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let onText: @Sendable ([UInt8]) -> Void
    private var lastHeard = NIODeadline.now()
    private var pinger: RepeatedTask?
    static let pingInterval: TimeAmount = .seconds(30)
    static let silenceLimit: TimeAmount = .seconds(60)

    init(onText: @escaping @Sendable ([UInt8]) -> Void) {
        self.onText = onText
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = context.loopBound
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.pingInterval, delay: Self.pingInterval) { _ in
            let context = loopBound.value
            if NIODeadline.now() - handler.value.lastHeard > Self.silenceLimit {
                context.close(promise: nil)  // a dead link: no pong, nothing at all
                return
            }
            let ping = WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: context.channel.allocator.buffer(string: "relay"))
            context.writeAndFlush(handler.value.wrapOutboundOut(ping), promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pinger?.cancel()
        pinger = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastHeard = .now()
        switch frame.opcode {
        case .text:
            onText(Array(frame.unmaskedData.readableBytesView))  // decoded once, by the frame codec
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break  // pongs; binary frames are not OCPP-J and are ignored
        }
    }
}
