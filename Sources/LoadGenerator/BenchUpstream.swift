import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import OCPP

/// A central system for the relay benchmark steps: it takes any station on any path (subprotocol `ocpp1.6`, or
/// `ocpp2.0.1` when that is what the gateway offers) and answers every CALL at once with a fixed answer, schema-valid
/// in the connection's version (BootNotification and Heartbeat answers have the same fields in both; Authorize's
/// differ; TransactionEvent's is `{}`), so that what is measured is the relaying gateway, not the upstream. Loopback
/// only.
public enum BenchUpstream {
    /// Listens on `host:port` until the process ends.
    public static func serve(host: String, port: Int) async throws {
        guard host == "127.0.0.1" || host == "::1" || host == "localhost" else {
            throw LoadError("the bench upstream listens on loopback addresses only")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 20,
                    shouldUpgrade: { channel, head in
                        // The charger's version, as a relaying gateway offers it.
                        var headers = HTTPHeaders()
                        headers.add(name: "Sec-WebSocket-Protocol", value: speaks201(head) ? "ocpp2.0.1" : "ocpp1.6")
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, head in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers(
                                NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: 1 << 20),
                                Answerer(v201: speaks201(head)))
                        }
                    })
                return channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: host, port: port).get()
        FileHandle.standardError.write(Data("ocpp-loadgen: bench upstream listening on \(host):\(port)\n".utf8))
        try await channel.closeFuture.get()
    }

    /// Whether the connection speaks OCPP 2.0.1: offered without 1.6.
    static func speaks201(_ head: HTTPRequestHead) -> Bool {
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }
        return !offered.contains("ocpp1.6") && offered.contains("ocpp2.0.1")
    }

    /// Answers each CALL; ignores the rest.
    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        private let v201: Bool
        private var transaction = 0

        init(v201: Bool) {
            self.v201 = v201
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                guard case .call(let call)? = try? FrameCodec.decode(Array(frame.unmaskedData.readableBytesView)) else { return }
                let payload: String
                switch call.action {
                case "BootNotification": payload = #"{"status":"Accepted","currentTime":"2027-01-01T00:00:00Z","interval":300}"#
                case "Heartbeat": payload = #"{"currentTime":"2027-01-01T00:00:00Z"}"#
                case "Authorize": payload = v201 ? #"{"idTokenInfo":{"status":"Accepted"}}"# : #"{"idTagInfo":{"status":"Accepted"}}"#
                case "StartTransaction":
                    transaction += 1
                    payload = #"{"transactionId":\#(transaction),"idTagInfo":{"status":"Accepted"}}"#
                default: payload = "{}"
                }
                let answer = FrameCodec.encode(.callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(payload.utf8)))))
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(bytes: answer))),
                                      promise: nil)
            case .ping:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
            case .connectionClose:
                context.close(promise: nil)
            default:
                break
            }
        }
    }
}
