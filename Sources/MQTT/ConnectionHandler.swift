#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// One connection to the broker: sends CONNECT, reads packets, keeps the connection alive, and hands everything
/// after the CONNACK to the client.
///
/// Keep-alive as in libmosquitto: when nothing was read or nothing was written for the keep-alive interval, a
/// PINGREQ goes out; a broker that does not answer it within another interval is taken as gone and the connection
/// is closed.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let client: MQTTClient
    private let connect: Packet.Connect
    private let outcome: ConnectionOutcome
    private let keepAlive: TimeAmount
    private let connectTimeout: TimeAmount
    /// Bytes of a packet not yet whole.
    private var received: ByteBuffer?
    private var accepted = false
    private var activeSince = NIODeadline.now()
    private var lastRead = NIODeadline.now()
    private var lastWrite = NIODeadline.now()
    private var pingSent: NIODeadline?
    private var timer: RepeatedTask?
    /// Messages the broker acknowledged in the current read.
    private var acknowledged: [Int32] = []
    /// Whether the socket takes `TCP_QUICKACK` (a TCP socket on Linux; not a Unix domain socket).
    private var quickAcknowledgements = true

    init(client: MQTTClient, connect: Packet.Connect, connectTimeout: TimeAmount, outcome: ConnectionOutcome) {
        self.client = client
        self.connectTimeout = connectTimeout
        self.connect = connect
        self.outcome = outcome
        self.keepAlive = .seconds(Int64(max(connect.keepAlive, 1)))
    }

    func channelActive(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        activeSince = now
        lastRead = now
        lastWrite = now
        var buffer = context.channel.allocator.buffer(capacity: 64)
        Packet.writeConnect(connect, to: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let (handler, context) = bound.value
            handler.tick(context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        client.closed(context.channel, failure: outcome.result.failure)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.fail(error)
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastWrite = .now()
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        do {
            while let packet = try Packet.read(from: &received!, maximumLength: MQTTClient.maximumInboundPacket) {
                handle(packet, context: context)
            }
        } catch {
            fail(context: context, "the broker sent \(error)")
            return
        }
        if received!.readableBytes == 0 {
            received = nil
        } else {
            received!.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if accepted {
            client.readComplete(on: context.channel, acknowledged: acknowledged)
            acknowledged.removeAll(keepingCapacity: true)
        }
        acknowledgeIfFewOwed(context: context)
        context.fireChannelReadComplete()
    }

    private func handle(_ packet: Packet.Inbound, context: ChannelHandlerContext) {
        switch packet {
        case .connack(_, let code) where !accepted:
            guard code == 0 else {
                client.logger.error("MQTT broker refused the connection", metadata: [
                    "mqtt.broker": "\(client.configuration.brokerDescription)", "mqtt.error": "\(Packet.connackDescription(code))",
                ])
                outcome.fail(ConnectionFailure(description: "refused: \(Packet.connackDescription(code))", logged: true))
                context.close(promise: nil)
                return
            }
            accepted = true
            outcome.accept()
            client.accepted(context.channel)
        case .connack:
            fail(context: context, "the broker sent a second CONNACK")
        case _ where !accepted:
            fail(context: context, "the broker sent a packet before its CONNACK")
        case .pingresp:
            pingSent = nil
        default:
            if let token = client.received(packet, on: context.channel) { acknowledged.append(token) }
        }
    }

    private func tick(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        guard accepted else {
            if now - activeSince >= connectTimeout {
                fail(context: context, "no CONNACK from the broker within \(connectTimeout.nanoseconds / 1_000_000_000) s")
            }
            return
        }
        if let pingSent {
            if now - pingSent >= keepAlive {
                fail(context: context, "the broker did not answer a keep-alive ping within \(connect.keepAlive) s")
            }
        } else if now - lastRead >= keepAlive || now - lastWrite >= keepAlive {
            var buffer = context.channel.allocator.buffer(capacity: 2)
            Packet.writeEmpty(.pingreq, to: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            pingSent = now
        }
    }

    /// While few replies are owed (``quickAcknowledgementLimit``: a command's result, a quiet charger's state), has
    /// the kernel acknowledge what the broker sent at once, not after its delayed-acknowledgement timer (40 ms on
    /// Linux). Mosquitto keeps Nagle's algorithm on by default (`set_tcp_nodelay false`): while a packet of its to us
    /// is unacknowledged it holds the next ones, and its PUBACKs are not answered by anything of ours the
    /// acknowledgement could ride on. A command published right after another one's result waited 30-40 ms behind
    /// the result's PUBACKs.
    ///
    /// With more owed the gateway is busy, its writes carry the acknowledgement soon enough, and the PUBACKs the
    /// broker holds meanwhile are what batches them: acknowledging every read at once with up to 64 owed cost 340
    /// instead of 220 µs of CPU per MeterValues at 1,000 chargers (docs/performance.md). Linux leaves
    /// quick-acknowledgement mode by itself, so it is set for each such read.
    private func acknowledgeIfFewOwed(context: ChannelHandlerContext) {
        #if canImport(Glibc)
        guard quickAcknowledgements, client.awaitedReplies(on: context.channel) <= Self.quickAcknowledgementLimit,
            let options = context.channel.syncOptions
        else { return }
        do {
            try options.setOption(ChannelOptions.tcpOption(.init(rawValue: TCP_QUICKACK)), value: 1)
        } catch {
            // Not a TCP socket (a Unix domain socket has no delayed acknowledgements), or closed meanwhile.
            quickAcknowledgements = false
        }
        #endif
    }

    static let quickAcknowledgementLimit = 8

    private func fail(context: ChannelHandlerContext, _ description: String) {
        outcome.fail(ConnectionFailure(description: description))
        context.close(promise: nil)
    }
}
