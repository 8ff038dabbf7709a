import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Opens simulated chargers' WebSocket connections (`ws://host:port/<station>`, subprotocol ocpp1.6, or ocpp2.0.1 for 2.0.1 chargers).
struct ChargerConnector: Sendable {
    var host: String
    var port: Int
    var group: any EventLoopGroup
    var plan: ChargerPlan
    var run: RunState

    /// Connects one charger; the future completes when the TCP connection is up (the handshake follows).
    func connect(index: Int, stationID: String) -> EventLoopFuture<Void> {
        let host = host, port = port, plan = plan, run = run
        return ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let charger = SimulatedCharger(index: index, stationID: stationID, plan: plan, run: run)
                        try channel.pipeline.syncOperations.addHandler(
                            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: 1 << 20))
                        try channel.pipeline.syncOperations.addHandler(charger)
                        run.register(NIOLoopBound(charger, eventLoop: channel.eventLoop))
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let request = UpgradeRequest(host: host, port: port, path: "/" + stationID, run: run,
                                                 subprotocol: plan.v201 ? "ocpp2.0.1" : "ocpp1.6")
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: UpgradeRequest.name, promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(request, name: UpgradeRequest.name)
                }
            }
            .connect(host: host, port: port)
            .map { _ in }
    }
}

/// Writes the upgrade request when the connection opens; reports a refused upgrade.
private final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    static let name = "loadgen.upgrade-request"

    let host: String
    let port: Int
    let path: String
    let run: RunState
    let subprotocol: String
    private var failed = false

    init(host: String, port: Int, path: String, run: RunState, subprotocol: String) {
        self.subprotocol = subprotocol
        self.host = host
        self.port = port
        self.path = path
        self.run = run
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only a response that did not upgrade reaches this handler.
        if case .head(let head) = unwrapInboundIn(data), !failed {
            failed = true
            run.connectFailures.add(1, ordering: .relaxed)
            run.fail("\(path): the gateway refused the upgrade: \(head.status.code) \(head.status.reasonPhrase)")
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !failed {
            failed = true
            run.connectFailures.add(1, ordering: .relaxed)
            run.fail("\(path): upgrade failed: \(error)")
        }
        context.close(promise: nil)
    }
}
