import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// One MQTT 3.1.1 connection on SwiftNIO, as a Service.
///
/// The client connects, and on any failure waits (exponential backoff with jitter) and connects again, for as long
/// as the service runs. Publishing and subscribing are safe from any thread. On graceful shutdown it publishes the
/// will's message itself (a clean disconnect does not trigger the last will), waits (at most five seconds) for
/// outstanding publishes to be acknowledged, and disconnects.
///
/// The protocol lives in ``MQTTSession``, a value this class keeps under its lock: the class and the connection's
/// channel handler only feed it events and carry out what it returns (write, deliver, tell, close).
///
/// Publishes are encoded into one buffer and written together: a burst of publishes from any thread costs one
/// write on the connection's event loop, and the acknowledgements of one read are answered in one write. (The
/// gateway used libmosquitto before, which cost about seven system calls per publish; docs/performance.md.)
///
/// QoS 1 and 2 messages published while the connection is down wait in the client and are sent after the reconnect;
/// messages in flight when the connection drops are sent again (with the DUP flag). QoS 0 messages published while
/// it is down are not taken (`publish` returns nil). A caller that keeps its messages itself and publishes again
/// what was not acknowledged (the bridge's outbox) publishes with `redeliver: false`: the client then does not keep
/// them past the connection they were sent on, and does not take them while the connection is down.
///
/// ```swift
/// let client = try MQTTClient(configuration: .init(clientID: "gw"), logger: logger) { event in
///     continuation.yield(event)
/// }
/// client.subscribe(["ocpp/+/cmd"])
/// try await client.run()
/// ```
public final class MQTTClient: Service, Sendable {
    public let configuration: MQTTClientConfiguration
    /// Told every connection change, acknowledgement and incoming message, in order, on the connection's event
    /// loop. It must not block.
    let onEvent: @Sendable (MQTTClientEvent) -> Void
    let logger: Logger
    let group: any EventLoopGroup
    let tlsContext: NIOSSLContext?
    let connect: Packet.Connect
    let state: Mutex<State>

    /// The largest packet taken from the broker; a bigger one closes the connection.
    static let maximumInboundPacket = 16 * 1024 * 1024

    static let connectedGauge = Gauge(label: "mqtt_connected")
    static let reconnects = Counter(label: "mqtt_reconnects_total")
    private static let publishes = Counter(label: "mqtt_publishes_total")
    static let unacknowledgedGauge = Gauge(label: "mqtt_unacknowledged_messages")

    /// The session and the I/O handles it is carried out on.
    struct State {
        var session: MQTTSession
        /// The open connection the session's `connection` describes (accepted or not); nil while there is none.
        var channel: (any Channel)?
        /// Shutdown waits for every publish to be acknowledged.
        var drainWaiters: [EventLoopPromise<Bool>] = []
        var loop: Task<Void, Never>?

        /// Shutdown's waiters, once nothing is left to acknowledge (or nothing can be).
        mutating func takeDrainWaiters() -> [EventLoopPromise<Bool>] {
            guard !drainWaiters.isEmpty, session.unacknowledged == 0 || !session.isConnected else { return [] }
            defer { drainWaiters = [] }
            return drainWaiters
        }
    }

    /// Creates the client; it connects once ``run()`` runs.
    /// - Throws: ``MQTTClientError`` when a TLS file cannot be used, or a setting cannot be said in MQTT 3.1.1
    ///   (a client id, user name, password or will longer than 65,535 bytes, a QoS other than 0, 1 or 2).
    public init(
        configuration: MQTTClientConfiguration, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onEvent: @escaping @Sendable (MQTTClientEvent) -> Void
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = eventLoopGroup
        self.onEvent = onEvent
        self.connect = try Self.connectPacket(configuration)
        self.tlsContext = try configuration.tls.map(Self.tlsContext)
        let keepAlive = TimeAmount.seconds(Int64(max(connect.keepAlive, 1)))
        self.state = Mutex(State(session: MQTTSession(keepAlive: keepAlive, connectTimeout: TimeAmount(configuration.connectTimeout))))
        // Exported from the start (at 0), not from their first change.
        Self.connectedGauge.record(0)
        Self.unacknowledgedGauge.record(0)
        Self.publishes.increment(by: 0)
        Self.reconnects.increment(by: 0)
    }

    /// Whether the broker has accepted the connection and it has not ended since.
    public var isConnected: Bool { state.withLock { $0.session.isConnected } }

    // MARK: Publishing and subscribing

    /// Publishes a message and returns its message id, or nil when it was not taken (QoS 0 while disconnected, or
    /// an invalid topic). A QoS 1 or 2 message published while disconnected waits for the reconnect, so it must not
    /// be published again.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Int32? {
        publish(topic: topic, payload: .bytes(payload), qos: qos, retain: retain)
    }

    /// Publishes `text` as the payload (its UTF-8), like ``publish(topic:payload:qos:retain:)``.
    @discardableResult
    public func publish(topic: String, text: String, qos: Int, retain: Bool, redeliver: Bool = true) -> Int32? {
        publish(topic: topic, payload: .text(text), qos: qos, retain: retain, redeliver: redeliver)
    }

    /// `redeliver: false` is for a caller that publishes again itself whatever the broker did not acknowledge
    /// before a disconnect: the message is not taken while the connection is down (nil), and one that is not
    /// acknowledged on the connection it went out on is dropped with that connection instead of being sent again
    /// (so the broker does not get it twice from the client's resend and the caller's). The client then keeps only
    /// its message id until the acknowledgement, not its topic and payload.
    @discardableResult
    public func publish(topic: String, payload: MQTTPayload, qos: Int, retain: Bool, redeliver: Bool = true) -> Int32? {
        guard (0...2).contains(qos), Self.isPublishable(topic) else {
            logger.warning("MQTT publish refused", metadata: ["mqtt.topic": "\(topic)", "mqtt.error": "invalid topic or QoS \(qos)"])
            return nil
        }
        guard payload.count <= Packet.maximumPayload(topic: topic, qos: UInt8(qos)) else {
            logger.warning("MQTT publish refused", metadata: ["mqtt.topic": "\(topic)", "mqtt.error": "a payload of \(payload.count) bytes"])
            return nil
        }
        let (token, target) = state.withLock { state -> (Int32?, (any Channel)?) in
            let (token, flush) = state.session.publish(topic: topic, payload: payload, qos: UInt8(qos), retain: retain, redeliver: redeliver)
            return (token, flush ? state.channel : nil)
        }
        if let target { scheduleFlush(target) }
        return token
    }

    /// A topic a PUBLISH may carry: not empty, at most 65,535 bytes, no wildcard and no NUL. Scans the string's
    /// bytes in place (its UTF-8 view one element at a time cost 1 % of the gateway's CPU at saturation).
    static func isPublishable(_ topic: String) -> Bool {
        var topic = topic
        return topic.withUTF8 { bytes in
            guard !bytes.isEmpty, bytes.count <= Int(UInt16.max) else { return false }
            for byte in bytes where byte == UInt8(ascii: "+") || byte == UInt8(ascii: "#") || byte == 0 {
                return false
            }
            return true
        }
    }

    /// Subscribes now (if connected) and after every reconnect. Filters that MQTT cannot carry (empty, longer than
    /// 65,535 bytes, a NUL) and a QoS other than 0, 1 or 2 are refused with a log line.
    public func subscribe(_ filters: [String], qos: Int = 1) {
        let valid = filters.filter { !$0.isEmpty && $0.utf8.count <= Int(UInt16.max) && !$0.utf8.contains(0) }
        guard (0...2).contains(qos), valid.count == filters.count else {
            logger.error("MQTT subscription refused", metadata: ["mqtt.filters": "\(filters)", "mqtt.error": "invalid filter or QoS \(qos)"])
            return
        }
        let target = state.withLock { state -> (any Channel)? in
            state.session.subscribe(filters, qos: UInt8(qos)) ? state.channel : nil
        }
        if let target { scheduleFlush(target) }
    }

    /// Has `channel` write what waits for it (after a publish or a subscribe). Called on another event loop (a
    /// charger's), the hand-over waits until that loop has handled the rest of its ready sockets: everything their
    /// messages publish meanwhile goes out in the same write, and the connection's loop is woken once for all of
    /// them instead of once per message (the wake-up, a system call on each side, cost more than the write at a
    /// few thousand messages a second).
    private func scheduleFlush(_ channel: any Channel) {
        let target = channel.eventLoop
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, current !== target {
            current.execute { target.execute { self.flush(channel) } }
        } else {
            target.execute { self.flush(channel) }
        }
    }

    /// Writes what waits for `channel`, in one write (on its event loop).
    func flush(_ channel: any Channel) {
        let write = state.withLock { state -> MQTTSession.Write? in
            guard state.channel === channel else { return nil }
            return state.session.takeWrite(now: .now())
        }
        guard let write else { return }
        if write.published > 0 { Self.publishes.increment(by: Int64(write.published)) }
        Self.unacknowledgedGauge.record(write.unacknowledged)
        guard !write.written.isEmpty else {
            channel.writeAndFlush(write.bytes, promise: nil)
            return
        }
        channel.writeAndFlush(write.bytes).whenSuccess { [onEvent] in
            onEvent(.published(messageIDs: write.written))
        }
    }
}
