import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization

/// Keeps the admin listener from holding connections, or file descriptors, without bound: at most
/// ``AdminLimits/connections`` at once (a new one closes the oldest, so a flood of half-sent requests cannot lock out
/// the health probes that come after it), a request must arrive whole within
/// ``AdminLimits/requestTimeout`` of the connection (or of the last response, for a kept-alive one), and a connection
/// idle for ``AdminLimits/idleTimeout`` is closed. Closings for these reasons are counted and logged at most once a
/// minute each. Before this, 3,000 half-sent requests stayed open for good and starved the chargers' listener.
struct AdminLimits: Sendable {
    var connections = 128
    var requestTimeout: TimeAmount = .seconds(10)
    var idleTimeout: TimeAmount = .seconds(60)
}

/// Tracks the admin listener's open connections, oldest first, and rate-limits the log lines of its closings.
final class AdminConnections: Sendable {
    let limits: AdminLimits
    private let open = Mutex<[(id: ObjectIdentifier, channel: any Channel, idle: Bool)]>([])
    private let log: ThrottledLog
    /// The gateway is stopping: connections close once their response is out, idle ones at once.
    private let stopping = Atomic<Bool>(false)

    init(limits: AdminLimits, logger: Logger) {
        self.limits = limits
        self.log = ThrottledLog(logger: logger)
    }

    /// Takes a new connection; when every place is taken, the oldest connection is closed to make room.
    func admit(_ channel: any Channel) {
        let evicted = open.withLock { open -> (any Channel)? in
            open.append((ObjectIdentifier(channel), channel, true))  // idle until its first request arrives
            return open.count > limits.connections ? open.removeFirst().channel : nil
        }
        channel.closeFuture.whenComplete { _ in
            self.open.withLock { open in open.removeAll { $0.id == ObjectIdentifier(channel) } }
        }
        guard let evicted else { return }
        closed(because: "too_many_connections", "Admin connection closed to make room: \(limits.connections) were open")
        evicted.close(promise: nil)
    }

    /// How many connections are open.
    var count: Int { open.withLock { $0.count } }

    /// Whether a connection waits for its next request (kept alive after a response) or not.
    func setIdle(_ channel: any Channel, _ idle: Bool) {
        open.withLock { open in
            if let index = open.firstIndex(where: { $0.id == ObjectIdentifier(channel) }) { open[index].idle = idle }
        }
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// The gateway stops: idle connections close now (a browser keeps them open for minutes, which held the stop up
    /// to the idle timeout), busy ones after their response.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        for channel in open.withLock({ $0.filter(\.idle).map(\.channel) }) { channel.close(promise: nil) }
    }

    /// Counts a closing and logs it, at most once a minute per reason (with how many there were since).
    func closed(because reason: String, _ message: Logger.Message) {
        Counter(label: "admin_connections_closed_total", dimensions: [("reason", reason)]).increment()
        log.warning(reason, message, countKey: "admin.closed_since_last_line")
    }
}

/// Logs a line per kind at most once a minute, with how many there were since the last line: a flood of refused
/// requests or closed connections costs a line a minute, not a line each.
final class ThrottledLog: Sendable {
    private let logger: Logger
    /// When each kind was last logged, and how many since.
    private let logged = Mutex<[String: (at: ContinuousClock.Instant, since: Int)]>([:])

    init(logger: Logger) {
        self.logger = logger
    }

    func warning(_ kind: String, _ message: @autoclosure () -> Logger.Message, metadata: Logger.Metadata = [:],
                 countKey: String = "admin.since_last_line") {
        let now = ContinuousClock.now
        let since = logged.withLock { logged -> Int? in
            let last = logged[kind]
            if let last, now - last.at < .seconds(60) {
                logged[kind]?.since += 1
                return nil
            }
            logged[kind] = (now, 0)
            return (last?.since ?? 0) + 1
        }
        guard let since else { return }
        var metadata = metadata
        metadata[countKey] = "\(since)"
        logger.warning(message(), metadata: metadata)
    }
}

/// Closes an admin connection whose request does not arrive whole in time, or that stays idle between requests.
/// Sits after the HTTP decoder: it sees request parts coming in and response parts going out.
final class AdminTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let connections: AdminConnections
    private var deadline: Scheduled<Void>?

    init(connections: AdminConnections) {
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, connections.limits.requestTimeout, reason: "request_timeout",
            "Admin connection closed: its request did not arrive whole in time")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            // The rest of the request is due within the request timeout of the connection or the last response; the
            // deadline armed then still runs.
            connections.setIdle(context.channel, false)
        case .end:
            deadline?.cancel()  // answering now
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            arm(context, connections.limits.idleTimeout, reason: "idle_timeout", "Admin connection closed: idle")
            connections.setIdle(context.channel, true)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount, reason: String, _ message: Logger.Message) {
        deadline?.cancel()
        let (loopBound, connections) = (context.loopBound, self.connections)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            connections.closed(because: reason, message)
            loopBound.value.close(promise: nil)
        }
    }
}
