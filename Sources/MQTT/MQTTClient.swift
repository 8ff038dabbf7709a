import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// What happens on the MQTT connection.
public enum MQTTClientEvent: Sendable {
    /// Connected (the broker accepted us); subscriptions have been renewed.
    case connected
    /// The connection ended; the client reconnects by itself.
    case disconnected(reason: String)
    /// A message arrived on a subscribed topic. `retained` is set for messages the broker kept from earlier.
    case message(topic: String, payload: [UInt8], retained: Bool)
    /// The broker acknowledged the messages with these ids (QoS 1 or 2; those of one read together), or these
    /// QoS 0 messages were written.
    case published(messageIDs: [Int32])
}

/// A message's payload: bytes, or text published as its UTF-8. Text is kept as the string it is (a reference to
/// its storage) until it is written, so a caller that keeps the same text (the bridge's outbox) does not have it
/// copied into an array per publish.
public enum MQTTPayload: Sendable {
    case bytes([UInt8])
    case text(String)

    /// The length in bytes.
    var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .text(let text): text.utf8.count
        }
    }
}

/// A setting the client cannot use (a TLS file that does not load, say).
public struct MQTTClientError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// One MQTT 3.1.1 connection on SwiftNIO, as a Service.
///
/// The client connects, and on any failure waits (exponential backoff) and connects again, for as long as the
/// service runs. Publishing and subscribing are safe from any thread. On graceful shutdown it publishes the will's
/// message itself (a clean disconnect does not trigger the last will), waits (at most five seconds) for outstanding
/// publishes to be acknowledged, and disconnects.
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
    private let group: any EventLoopGroup
    private let tlsContext: NIOSSLContext?
    private let state = Mutex(State())

    /// The largest packet taken from the broker; a bigger one closes the connection.
    static let maximumInboundPacket = 16 * 1024 * 1024

    private static let connectedGauge = Gauge(label: "mqtt_connected")
    private static let reconnects = Counter(label: "mqtt_reconnects_total")
    private static let publishes = Counter(label: "mqtt_publishes_total")
    private static let unacknowledgedGauge = Gauge(label: "mqtt_unacknowledged_messages")

    /// A QoS 1 or 2 message until the broker has acknowledged it.
    struct Outgoing {
        /// What `publish` returned, and the order in which messages are sent again after a reconnect.
        var token: Int32
        var order: UInt64
        /// Empty once a message published with `redeliver: false` is sent (``awaitingAcknowledgement(token:qos:packetID:)``).
        var topic: String
        var payload: MQTTPayload
        var qos: UInt8
        var retain: Bool
        /// Sent again after a reconnect (`publish`'s `redeliver`).
        var redeliver = true
        /// Its packet id on the current connection.
        var packetID: UInt16 = 0
        /// Sent before, on this or an earlier connection: a resend carries the DUP flag.
        var sent = false
        /// QoS 2: the broker's PUBREC came and PUBREL was sent; PUBCOMP ends it.
        var released = false

        /// What is kept of a message published with `redeliver: false` once it is sent: its acknowledgement is
        /// waited for, nothing of it is sent again.
        static func awaitingAcknowledgement(token: Int32, qos: UInt8, packetID: UInt16) -> Outgoing {
            Outgoing(token: token, order: 0, topic: "", payload: .bytes([]), qos: qos, retain: false, redeliver: false,
                     packetID: packetID, sent: true)
        }
    }

    struct State {
        /// Filters and their QoS, in the order they were first subscribed.
        var subscriptions: [(filter: String, qos: UInt8)] = []
        /// The connection the broker accepted; nil while there is none.
        var channel: (any Channel)?
        /// A connection not (yet) accepted, so a stop can close it.
        var connecting: (any Channel)?
        /// Packets for `channel`, written by the next flush.
        var outgoing: ByteBuffer?
        var flushScheduled = false
        /// QoS 0 messages in `outgoing`: they count as published once written.
        var writtenOnFlush: [Int32] = []
        var publishedSinceFlush = 0
        var nextToken: Int32 = 1
        var nextOrder: UInt64 = 0
        var nextPacketID: UInt16 = 1
        /// QoS 1 and 2 messages not yet sent on this connection, oldest first.
        var waiting = CircularBuffer<Outgoing>()
        var inFlight = PacketTable<Outgoing>()
        /// Packet ids of SUBSCRIBEs not yet acknowledged (not to be reused meanwhile).
        var subscribing: Set<UInt16> = []
        /// Packet ids of QoS 2 messages received and not yet released by the broker (delivered once).
        var receivedExactlyOnce: Set<UInt16> = []
        /// Shutdown waits for every publish to be acknowledged.
        var drainWaiters: [EventLoopPromise<Bool>] = []
        var stopping = false
        var everConnected = false
        var loop: Task<Void, Never>?

        var unacknowledged: Int { inFlight.count + waiting.count }

        mutating func takeToken() -> Int32 {
            defer { nextToken = nextToken == .max ? 1 : nextToken + 1 }
            return nextToken
        }

        mutating func encode(_ body: (inout ByteBuffer) -> Void) {
            if outgoing == nil { outgoing = ByteBuffer() }
            body(&outgoing!)
        }

        mutating func freePacketID() -> UInt16? {
            guard inFlight.count + subscribing.count + receivedExactlyOnce.count < Int(UInt16.max) else { return nil }
            while true {
                let id = nextPacketID
                nextPacketID = id == .max ? 1 : id + 1
                if inFlight[id] == nil && (subscribing.isEmpty || !subscribing.contains(id)) { return id }
            }
        }

        /// Puts waiting messages on the wire, oldest first, while connected and packet ids are free.
        mutating func sendWaiting() {
            guard channel != nil else { return }
            while !waiting.isEmpty, let id = freePacketID() {
                var message = waiting.removeFirst()
                message.packetID = id
                encodeSend(message)
                message.sent = true
                if message.redeliver {
                    inFlight.insert(id, consume message)
                } else {
                    inFlight.insert(id, .awaitingAcknowledgement(token: message.token, qos: message.qos, packetID: id))
                }
            }
        }

        mutating func encodeSend(_ message: Outgoing) {
            encode { buffer in
                if message.released {
                    Packet.writeAcknowledgement(.pubrel, packetID: message.packetID, to: &buffer)
                } else {
                    Packet.writePublish(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                                        duplicate: message.sent, packetID: message.packetID, to: &buffer)
                }
            }
        }

        /// The connection to flush, when there is something to write and no flush is on its way.
        mutating func flushTarget() -> (any Channel)? {
            guard let channel, outgoing != nil, !flushScheduled else { return nil }
            flushScheduled = true
            return channel
        }

        /// Shutdown's waiters, once nothing is left to acknowledge (or nothing can be).
        mutating func takeDrainWaiters() -> [EventLoopPromise<Bool>] {
            guard !drainWaiters.isEmpty, unacknowledged == 0 || channel == nil else { return [] }
            defer { drainWaiters = [] }
            return drainWaiters
        }
    }

    /// Creates the client; it connects once ``run()`` runs.
    /// - Throws: ``MQTTClientError`` when a TLS file cannot be used.
    public init(
        configuration: MQTTClientConfiguration, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onEvent: @escaping @Sendable (MQTTClientEvent) -> Void
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = eventLoopGroup
        self.onEvent = onEvent
        // Exported from the start (at 0), not from their first change.
        Self.connectedGauge.record(0)
        Self.unacknowledgedGauge.record(0)
        Self.publishes.increment(by: 0)
        Self.reconnects.increment(by: 0)
        if let tls = configuration.tls {
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.minimumTLSVersion = .tlsv12
            do {
                settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tls.caFile))
                if let certificate = tls.certificateFile, let key = tls.keyFile {
                    settings.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                    settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                }
                if tls.insecure { settings.certificateVerification = .noHostnameVerification }
                tlsContext = try NIOSSLContext(configuration: settings)
            } catch {
                throw MQTTClientError("cannot use the TLS files: \(error)")
            }
        } else {
            tlsContext = nil
        }
    }

    /// Whether the broker has accepted the connection and it has not ended since.
    public var isConnected: Bool { state.withLock { $0.channel != nil } }

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
        let (token, target) = state.withLock { state -> (Int32?, (any Channel)?) in
            if qos == 0 {
                guard state.channel != nil else { return (nil, nil) }
                let token = state.takeToken()
                state.encode { Packet.writePublish(topic: topic, payload: payload, qos: 0, retain: retain, duplicate: false, packetID: nil, to: &$0) }
                state.writtenOnFlush.append(token)
                state.publishedSinceFlush += 1
                return (token, state.flushTarget())
            }
            guard redeliver || state.channel != nil else { return (nil, nil) }
            let token = state.takeToken()
            state.publishedSinceFlush += 1
            if !redeliver, state.waiting.isEmpty, let id = state.freePacketID() {
                // Straight into the connection's buffer: the topic and payload are not kept.
                state.encode {
                    Packet.writePublish(topic: topic, payload: payload, qos: UInt8(qos), retain: retain, duplicate: false, packetID: id, to: &$0)
                }
                state.inFlight.insert(id, .awaitingAcknowledgement(token: token, qos: UInt8(qos), packetID: id))
                return (token, state.flushTarget())
            }
            state.waiting.append(Outgoing(token: token, order: state.nextOrder, topic: topic, payload: payload, qos: UInt8(qos), retain: retain,
                                          redeliver: redeliver))
            state.nextOrder += 1
            state.sendWaiting()
            return (token, state.flushTarget())
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

    /// Subscribes now (if connected) and after every reconnect.
    public func subscribe(_ filters: [String], qos: Int = 1) {
        let target = state.withLock { state -> (any Channel)? in
            var added: [(filter: String, qos: UInt8)] = []
            for filter in filters where !state.subscriptions.contains(where: { $0.filter == filter }) {
                added.append((filter, UInt8(qos)))
            }
            state.subscriptions += added
            guard state.channel != nil, !added.isEmpty, let id = state.freePacketID() else { return nil }
            state.subscribing.insert(id)
            state.encode { Packet.writeSubscribe(packetID: id, filters: added, to: &$0) }
            return state.flushTarget()
        }
        if let target { scheduleFlush(target) }
    }

    /// Writes what waits for `channel`, in one write (on its event loop).
    func flush(_ channel: any Channel) {
        let (bytes, written, published, waiting) = state.withLock { state -> (ByteBuffer?, [Int32], Int, Int) in
            guard state.channel === channel else { return (nil, [], 0, 0) }
            state.flushScheduled = false
            defer {
                state.outgoing = nil
                state.writtenOnFlush = []
                state.publishedSinceFlush = 0
            }
            return (state.outgoing, state.writtenOnFlush, state.publishedSinceFlush, state.unacknowledged)
        }
        guard let bytes else { return }
        if published > 0 { Self.publishes.increment(by: Int64(published)) }
        Self.unacknowledgedGauge.record(waiting)
        guard !written.isEmpty else {
            channel.writeAndFlush(bytes, promise: nil)
            return
        }
        channel.writeAndFlush(bytes).whenSuccess { [onEvent] in
            onEvent(.published(messageIDs: written))
        }
    }

    // MARK: From the connection (on its event loop)

    /// The broker accepted `channel`: subscribe, send what waits, tell the owner.
    func accepted(_ channel: any Channel) {
        let again = state.withLock { state in
            state.channel = channel
            state.connecting = nil
            state.flushScheduled = false
            if !state.subscriptions.isEmpty, let id = state.freePacketID() {
                state.subscribing.insert(id)
                let filters = state.subscriptions
                state.encode { Packet.writeSubscribe(packetID: id, filters: filters, to: &$0) }
            }
            state.sendWaiting()
            defer { state.everConnected = true }
            return state.everConnected
        }
        flush(channel)
        Self.connectedGauge.record(1)
        if again { Self.reconnects.increment() }
        logger.info("MQTT connected", metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.client_id": "\(configuration.clientID)"])
        onEvent(.connected)
    }

    /// `channel` closed; if it was the accepted connection, what was in flight waits for the next one.
    func closed(_ channel: any Channel, failure: (any Error)?) {
        let (wasConnected, stopping, waiters) = state.withLock { state in
            if state.connecting === channel { state.connecting = nil }
            guard state.channel === channel else { return (false, state.stopping, [EventLoopPromise<Bool>]()) }
            state.channel = nil
            state.outgoing = nil
            state.writtenOnFlush = []
            state.flushScheduled = false
            state.subscribing = []
            state.receivedExactlyOnce = []
            // Messages published with `redeliver: false` go with the connection; their publisher sends them again.
            let resend = state.inFlight.values.filter(\.redeliver).sorted { $0.order < $1.order }
            state.inFlight.removeAll()
            var waiting = CircularBuffer(resend)
            waiting.append(contentsOf: state.waiting.lazy.filter(\.redeliver))
            state.waiting = waiting
            return (true, state.stopping, state.takeDrainWaiters())
        }
        for waiter in waiters { waiter.succeed(false) }
        guard wasConnected else { return }
        // In the same words as a failure to connect.
        let reason = failure.map(describe) ?? (stopping ? "client disconnected" : "the broker closed the connection")
        Self.connectedGauge.record(0)
        logger.log(level: stopping ? .info : .warning, "MQTT disconnected",
                   metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.reason": "\(reason)"])
        onEvent(.disconnected(reason: reason))
    }

    /// A packet from the broker after its CONNACK. Returns the message id `publish` gave a message the packet
    /// completes (PUBACK, PUBCOMP): the handler tells them together after the read.
    func received(_ packet: Packet.Inbound, on channel: any Channel) -> Int32? {
        switch packet {
        case .publish(let message):
            var deliver = true
            state.withLock { state in
                guard let id = message.packetID else { return }
                if message.qos == 1 {
                    state.encode { Packet.writeAcknowledgement(.puback, packetID: id, to: &$0) }
                } else {
                    deliver = state.receivedExactlyOnce.insert(id).inserted
                    state.encode { Packet.writeAcknowledgement(.pubrec, packetID: id, to: &$0) }
                }
            }
            if deliver { onEvent(.message(topic: message.topic, payload: message.payload, retained: message.retain)) }
            return nil
        case .pubrel(let id):
            state.withLock { state in
                state.receivedExactlyOnce.remove(id)
                state.encode { Packet.writeAcknowledgement(.pubcomp, packetID: id, to: &$0) }
            }
            return nil
        case .puback(let id), .pubcomp(let id):
            let expected: UInt8 = if case .puback = packet { 1 } else { 2 }
            let (token, waiters) = state.withLock { state -> (Int32?, [EventLoopPromise<Bool>]) in
                guard let message = state.inFlight.remove(id) else { return (nil, []) }
                guard message.qos == expected else {
                    // A PUBACK for a QoS 2 message or a PUBCOMP for a QoS 1 one: not ours to end.
                    state.inFlight.insert(id, message)
                    return (nil, [])
                }
                state.sendWaiting()
                return (message.token, state.takeDrainWaiters())
            }
            for waiter in waiters { waiter.succeed(true) }
            return token
        case .pubrec(let id):
            state.withLock { state in
                guard var message = state.inFlight[id], message.qos == 2 else { return }
                message.released = true
                state.inFlight[id] = message
                state.encodeSend(message)
            }
            return nil
        case .suback(let id, let codes):
            state.withLock { _ = $0.subscribing.remove(id) }
            if codes.contains(0x80) {
                logger.error("MQTT broker refused a subscription (check its ACL)", metadata: ["mqtt.broker": "\(configuration.brokerDescription)"])
            }
            return nil
        case .connack, .pingresp:
            return nil
        }
    }

    /// How many replies the broker owes on `channel`: an acknowledgement for every message in flight and every
    /// subscription not yet acknowledged.
    func awaitedReplies(on channel: any Channel) -> Int {
        state.withLock { state in state.channel === channel ? state.inFlight.count + state.subscribing.count : 0 }
    }

    /// After a read: tells the messages the broker acknowledged in it, then writes what the read produced (and
    /// anything else waiting) in one write.
    func readComplete(on channel: any Channel, acknowledged: [Int32]) {
        if !acknowledged.isEmpty { onEvent(.published(messageIDs: acknowledged)) }
        let (pending, unacknowledged) = state.withLock { state -> (Bool, Int) in
            (state.channel === channel && state.outgoing != nil, state.unacknowledged)
        }
        if pending {
            flush(channel)
        } else if !acknowledged.isEmpty {
            // Also when nothing is written after the acknowledgements, so the gauge does not stay at its last peak.
            Self.unacknowledgedGauge.record(unacknowledged)
        }
    }

    // MARK: The connection loop

    public func run() async throws {
        let loop = Task { await connectLoop() }
        let stopped = state.withLock { state in
            state.loop = loop
            return state.stopping
        }
        if stopped { loop.cancel() }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await loop.value
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        } onCancel: {
            // Another service failed: stop at once, without the goodbye.
            self.stop()
        }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func connectLoop() async {
        var delay = configuration.reconnectBaseDelay
        var lastFailure = ""
        while !isStopping {
            let (accepted, failure) = await connectOnce()
            if accepted {
                delay = configuration.reconnectBaseDelay
                lastFailure = ""
            }
            if isStopping { break }
            // One line per kind of failure, not one per attempt.
            if let failure, failure != lastFailure {
                logger.error("Cannot reach the MQTT broker; retrying with backoff", metadata: [
                    "mqtt.broker": "\(configuration.brokerDescription)", "mqtt.error": "\(failure)",
                ])
                lastFailure = failure
            }
            do { try await Task.sleep(for: delay) } catch { break }
            delay = min(delay * 2, configuration.reconnectMaxDelay)
        }
    }

    /// One connection, from connect to close. Returns whether the broker accepted it, and why it could not be
    /// made (nil when it was, or when the broker's refusal was logged already).
    private func connectOnce() async -> (accepted: Bool, failure: String?) {
        let outcome = ConnectionOutcome()
        let tlsContext = self.tlsContext
        let serverName = configuration.transport == .tcp && !Self.isIPAddress(configuration.host) ? configuration.host : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    try pipeline.addHandler(ConnectionHandler(
                        client: self, connect: connectPacket, connectTimeout: TimeAmount(configuration.connectTimeout), outcome: outcome))
                }
            }
        do {
            let channel = try await (configuration.transport == .unix
                ? bootstrap.connect(unixDomainSocketPath: configuration.host)
                : bootstrap.connect(host: configuration.host, port: configuration.port)).get()
            let stopping = state.withLock { state in
                if state.channel == nil { state.connecting = channel }
                return state.stopping
            }
            if stopping { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
        } catch {
            return (false, describe(error))
        }
        let (accepted, failure) = outcome.result
        if accepted { return (true, nil) }
        if let failure = failure as? ConnectionFailure, failure.logged { return (false, nil) }
        var description = failure.map(describe) ?? "the broker closed the connection before accepting it"
        if configuration.tls != nil && !(failure is ConnectionFailure) {
            description += " (check MQTT_TLS_CA and that the broker's certificate names MQTT_HOSTNAME)"
        }
        return (false, description)
    }

    private var connectPacket: Packet.Connect {
        Packet.Connect(
            clientID: configuration.clientID, keepAlive: UInt16(clamping: configuration.keepAlive),
            username: configuration.username, password: configuration.password,
            will: configuration.will.map { ($0.topic, Array($0.payload.utf8), UInt8(clamping: $0.qos), $0.retain) })
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// A connection failure in a few words, with a hint for TLS.
    private func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { describe($0.error) } ?? "\(error)"
        case ChannelError.connectTimeout:
            return "timed out connecting"
        case let error as NIOSSLError:
            return "TLS: \(error)"
        case let error as ConnectionFailure:
            return error.description
        default:
            return "\(error)"
        }
    }

    private func stop() {
        let (loop, channel, accepted) = state.withLock { state in
            state.stopping = true
            return (state.loop, state.channel ?? state.connecting, state.channel != nil)
        }
        loop?.cancel()
        guard let channel else { return }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        let goodbye = {
            var packet = ByteBuffer()
            Packet.writeEmpty(.disconnect, to: &packet)
            return packet
        }()
        channel.eventLoop.execute {
            // After whatever is waiting to be written.
            self.flush(channel)
            channel.writeAndFlush(goodbye).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Publishes the will's message, waits (bounded) for every publish to be acknowledged, then disconnects.
    private func shutdown() async {
        if let will = configuration.will, isConnected {
            publish(topic: will.topic, text: will.payload, qos: will.qos, retain: will.retain)
        }
        if !(await drained(within: .seconds(5))) {
            logger.warning("MQTT publishes still unacknowledged at shutdown")
        }
        stop()
    }

    /// Waits until nothing is unacknowledged or the connection is gone; false when `timeout` passed first.
    private func drained(within timeout: TimeAmount) async -> Bool {
        let promise = state.withLock { state -> EventLoopPromise<Bool>? in
            guard let channel = state.channel, state.unacknowledged > 0 else { return nil }
            let promise = channel.eventLoop.makePromise(of: Bool.self)
            state.drainWaiters.append(promise)
            return promise
        }
        guard let promise else { return true }
        promise.futureResult.eventLoop.scheduleTask(in: timeout) {
            let late = self.state.withLock { state in
                guard let index = state.drainWaiters.firstIndex(where: { $0.futureResult === promise.futureResult }) else { return false }
                state.drainWaiters.remove(at: index)
                return true
            }
            if late { promise.succeed(false) }
        }
        return (try? await promise.futureResult.get()) ?? false
    }
}

/// Why a connection ended, as the connection's handler saw it.
struct ConnectionFailure: Error, CustomStringConvertible {
    var description: String
    /// Logged where it happened (the broker's refusal), not to be logged again.
    var logged = false
}

/// What one connection came to: set on its event loop, read after it closed.
final class ConnectionOutcome: Sendable {
    private let value = Mutex<(accepted: Bool, failure: (any Error)?)>((false, nil))

    var result: (accepted: Bool, failure: (any Error)?) { value.withLock { $0 } }

    func accept() { value.withLock { $0.accepted = true } }

    /// Keeps the first failure: later ones are its consequences.
    func fail(_ error: any Error) {
        value.withLock { if $0.failure == nil { $0.failure = error } }
    }
}
