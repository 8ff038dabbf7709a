#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// One connection to the broker, as a channel handler: it decodes the broker's packets and hands them to the
/// client (which feeds them to its ``MQTTSession``), ticks the session's timers once a second, and closes the
/// connection when the session says so. The protocol itself is in the session.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let client: MQTTClient
    private let outcome: ConnectionOutcome
    /// Bytes of a packet not yet whole.
    private var received: ByteBuffer?
    /// The packets of the current read (kept to reuse its storage).
    private var packets: [Packet.Inbound] = []
    private var timer: RepeatedTask?
    private var started = false
    /// Messages the broker acknowledged in the current read.
    private var acknowledged: [Int32] = []
    /// Whether the socket takes `TCP_QUICKACK` (a TCP socket on Linux; not a Unix domain socket).
    private var quickAcknowledgements = true

    init(client: MQTTClient, outcome: ConnectionOutcome) {
        self.client = client
        self.outcome = outcome
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    /// Over WebSocket the handler joins the pipeline after the upgrade, on a connection already active.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    /// The connection is open: it becomes the session's, CONNECT goes out, the timer starts. Once.
    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard client.opened(context.channel) else {
            context.close(promise: nil)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let (handler, context) = bound.value
            if let reason = handler.client.tick(context.channel) { handler.close(context: context, reason) }
        }
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil {
            received = bytes
        } else {
            received!.writeBuffer(&bytes)
        }
        var failure: String?
        do {
            while let packet = try Packet.read(from: &received!, maximumLength: MQTTClient.maximumInboundPacket) {
                packets.append(packet)
            }
        } catch {
            // The packets before the broken one still count.
            failure = "the broker sent \(error)"
        }
        let read = client.received(packets, on: context.channel)
        packets.removeAll(keepingCapacity: true)
        acknowledged += read.acknowledged
        if read.accepted { outcome.accept() }
        if let reason = read.close {
            close(context: context, reason)
            return
        }
        if let failure {
            close(context: context, .failure(failure))
            return
        }
        if received!.readableBytes == 0 {
            received = nil
        } else {
            received!.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.readComplete(on: context.channel, acknowledged: acknowledged)
        acknowledged.removeAll(keepingCapacity: true)
        acknowledgeIfFewOwed(context: context)
        context.fireChannelReadComplete()
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

    private func close(context: ChannelHandlerContext, _ reason: MQTTSession.CloseReason) {
        switch reason {
        case .refused(let code):
            outcome.fail(ConnectionFailure(description: "refused: \(Packet.connackDescription(code))", logged: true))
        case .failure(let description):
            outcome.fail(ConnectionFailure(description: description))
        }
        context.close(promise: nil)
    }
}
