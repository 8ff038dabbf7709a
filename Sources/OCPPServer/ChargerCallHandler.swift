import CentralSystem
import NIOCore

/// Answers a charger's CALLs on the connection's event loop, where the message arrived: decoding, the central
/// system's handling (including the MQTT bridge's, which makes the event durable) and the answer's write happen
/// without a hand-off to another thread. At 1,000 chargers those hand-offs were most of the cost of a message
/// (docs/performance.md).
///
/// Answers to the central system's own calls pass on to the connection's task, which waits for the station's
/// session. Messages that arrive before the connection is attached to the central system wait here, in order.
///
/// While the central system's ``IntakeGate`` is paused (the broker falls behind), the next read from the socket
/// waits until it opens again.
final class ChargerCallHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let centralSystem: CentralSystem
    private var link: CentralSystem.Link?
    private var context: ChannelHandlerContext?
    /// Messages that came before the link, in order.
    private var early: [ByteBuffer] = []
    private var unflushed = false
    /// A read was asked for while the intake gate was paused.
    private var readHeld = false

    init(centralSystem: CentralSystem) {
        self.centralSystem = centralSystem
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// The connection is attached: messages are handled from now on, those that waited first.
    func attached(_ link: CentralSystem.Link) {
        self.link = link
        guard let context else { return }
        let waiting = early
        early = []
        for message in waiting { handle(message, link, context) }
        flushIfNeeded(context)
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

    private func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    private func handle(_ message: ByteBuffer, _ link: CentralSystem.Link, _ context: ChannelHandlerContext) {
        switch centralSystem.receiveSynchronously(message.readableBytesView, on: link) {
        case .handled(let reply?):
            context.write(wrapOutboundOut(ByteBuffer(bytes: reply)), promise: nil)
            unflushed = true
        case .handled(nil):
            break
        case .forSession:
            context.fireChannelRead(wrapInboundOut(message))
        }
    }

    private func flushIfNeeded(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }
}
