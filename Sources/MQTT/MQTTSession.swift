import NIOCore

/// The MQTT 3.1.1 session of one client, as a value: what is subscribed, what waits to be sent, what the broker has
/// not acknowledged yet, and the state of the current connection. No I/O and no clock of its own: the client feeds
/// it events (a publish requested, a connection opened, packets read, a timer tick with the time, a connection
/// closed) and carries out what each returns (write the bytes that wait, deliver a message, tell an
/// acknowledgement, close). So every flow (packet-id wrap, resends with DUP, QoS 1 and 2, keep-alive, a hostile
/// broker) is tested by driving the value, in microseconds (`MQTTSessionTests`).
///
/// Bytes to send are encoded into one buffer (``takeWrite(now:)`` hands it over): a burst of publishes from any
/// thread costs one write on the connection's event loop.
struct MQTTSession {
    /// A QoS 1 or 2 message until the broker has acknowledged it.
    struct Outgoing {
        /// What `publish` returned.
        var token: Int32
        /// The order in which messages are sent again after a reconnect.
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

    /// One connection to the broker, from its opening to its close.
    struct Connection {
        /// Whether the broker's CONNACK accepted it.
        var accepted = false
        /// When the CONNACK came.
        var acceptedAt: NIODeadline?
        var openedAt: NIODeadline
        var lastRead: NIODeadline
        var lastWrite: NIODeadline
        /// When the PINGREQ now unanswered went out.
        var pingSent: NIODeadline?
        var inFlight = PacketTable<Outgoing>()
        /// Packet ids of SUBSCRIBEs not yet acknowledged (not to be reused meanwhile).
        var subscribing: Set<UInt16> = []
        /// Packet ids of QoS 2 messages received and not yet released by the broker (delivered once).
        var receivedExactlyOnce: Set<UInt16> = []
        /// Packets not written yet, in order.
        var outgoing: ByteBuffer?
        /// A write of `outgoing` is on its way to the connection's event loop.
        var flushScheduled = false
        /// QoS 0 messages in `outgoing`: they count as published once written.
        var writtenOnFlush: [Int32] = []

        init(now: NIODeadline) {
            openedAt = now
            lastRead = now
            lastWrite = now
        }

        mutating func encode(_ body: (inout ByteBuffer) -> Void) {
            if outgoing == nil { outgoing = ByteBuffer() }
            body(&outgoing!)
        }
    }

    /// What to write to the connection, and what counts as done once it is written.
    struct Write {
        var bytes: ByteBuffer
        /// QoS 0 messages in `bytes`: published once written.
        var written: [Int32]
        /// Messages in `bytes`, for the publish counter.
        var published: Int
        /// Messages not acknowledged yet, for the gauge.
        var unacknowledged: Int
    }

    // Changed only by the session's own methods (here and in MQTTSession+Connection.swift).

    /// Filters and their QoS, in the order they were first subscribed.
    private(set) var subscriptions: [(filter: String, qos: UInt8)] = []
    /// QoS 1 and 2 messages not yet sent on the current connection, oldest first.
    var waiting = CircularBuffer<Outgoing>()
    /// The open connection (accepted or not), while ``isOpen``; a blank one otherwise. Not an optional: reading a
    /// field through one copied the whole connection (a reference count update per field) on every publish.
    var connection = Connection(now: .uptimeNanoseconds(0))
    /// A connection is open.
    var isOpen = false
    /// The client is stopping: no new connection.
    private(set) var stopping = false
    /// A connection was accepted before (the next acceptance is a reconnect).
    var everConnected = false
    /// How many connections in a row the broker closed within ``shortConnection`` of accepting them: two or more
    /// usually mean another client connects with the same client id (the broker drops the older of the two).
    var brokerDropsInARow = 0
    private var nextToken: Int32 = 1
    private var nextOrder: UInt64 = 0
    private var nextPacketID: UInt16 = 1
    /// Messages taken since the last write, for the publish counter.
    private var publishedSinceWrite = 0

    /// The keep-alive interval: a PINGREQ goes out when nothing was read or written for this long, and a broker
    /// that does not answer it within another interval is taken as gone.
    let keepAlive: TimeAmount
    /// The longest wait for the broker's CONNACK.
    let connectTimeout: TimeAmount
    /// A connection the broker closes sooner than this after accepting it counts in ``brokerDropsInARow``.
    static let shortConnection = TimeAmount.seconds(5)

    init(keepAlive: TimeAmount, connectTimeout: TimeAmount) {
        self.keepAlive = keepAlive
        self.connectTimeout = connectTimeout
    }

    /// Whether the broker has accepted the open connection.
    var isConnected: Bool { isOpen && connection.accepted }

    /// Messages taken and not acknowledged yet (waiting or in flight).
    var unacknowledged: Int { connection.inFlight.count + waiting.count }

    /// How many replies the broker owes on the open connection: an acknowledgement for every message in flight and
    /// every subscription not yet acknowledged.
    var awaitedReplies: Int { connection.inFlight.count + connection.subscribing.count }

    // MARK: Publishing and subscribing

    /// Takes a message to publish; returns what `publish` returns (nil: not taken) and whether a write must be
    /// scheduled (bytes wait and no write is on its way).
    ///
    /// QoS 0 is taken only while connected. QoS 1 and 2 wait for a connection; with `redeliver: false` they are
    /// taken only while connected and are not kept past the connection they were sent on.
    mutating func publish(topic: String, payload: MQTTPayload, qos: UInt8, retain: Bool, redeliver: Bool) -> (token: Int32?, flush: Bool) {
        if qos == 0 {
            guard isConnected else { return (nil, false) }
            let token = takeToken()
            connection.encode { Packet.writePublish(topic: topic, payload: payload, qos: 0, retain: retain, duplicate: false, packetID: nil, to: &$0) }
            connection.writtenOnFlush.append(token)
            publishedSinceWrite += 1
            return (token, scheduleWrite())
        }
        guard redeliver || isConnected else { return (nil, false) }
        let token = takeToken()
        publishedSinceWrite += 1
        if !redeliver, waiting.isEmpty, let id = freePacketID() {
            // Straight into the connection's buffer: the topic and payload are not kept.
            connection.encode {
                Packet.writePublish(topic: topic, payload: payload, qos: qos, retain: retain, duplicate: false, packetID: id, to: &$0)
            }
            connection.inFlight.insert(id, .awaitingAcknowledgement(token: token, qos: qos, packetID: id))
            return (token, scheduleWrite())
        }
        waiting.append(Outgoing(token: token, order: nextOrder, topic: topic, payload: payload, qos: qos, retain: retain, redeliver: redeliver))
        nextOrder += 1
        sendWaiting()
        return (token, scheduleWrite())
    }

    /// Subscribes to the filters not subscribed yet, now if connected and after every reconnect. Returns whether a
    /// write must be scheduled.
    mutating func subscribe(_ filters: [String], qos: UInt8) -> Bool {
        var added: [(filter: String, qos: UInt8)] = []
        for filter in filters where !subscriptions.contains(where: { $0.filter == filter }) && !added.contains(where: { $0.filter == filter }) {
            added.append((filter, qos))
        }
        subscriptions += added
        guard isConnected, !added.isEmpty else { return false }
        encodeSubscribe(added)
        return scheduleWrite()
    }

    /// Hands over the bytes that wait, with what counts as done once they are written; nil when nothing waits.
    /// `now` counts as the connection's last write (for the keep-alive).
    mutating func takeWrite(now: NIODeadline) -> Write? {
        guard isOpen else { return nil }
        connection.flushScheduled = false
        guard let bytes = connection.outgoing else { return nil }
        defer {
            connection.outgoing = nil
            connection.writtenOnFlush = []
            connection.lastWrite = now
            publishedSinceWrite = 0
        }
        return Write(bytes: bytes, written: connection.writtenOnFlush, published: publishedSinceWrite, unacknowledged: unacknowledged)
    }

    /// Whether bytes wait to be written on the open connection.
    var hasPendingWrite: Bool { isOpen && connection.outgoing != nil }

    /// Marks the client as stopping (no new connection); returns whether the broker had accepted the open
    /// connection (then it gets what waits and DISCONNECT; otherwise it is just closed).
    mutating func stop() -> Bool {
        stopping = true
        return isConnected
    }

    // MARK: Helpers

    private mutating func takeToken() -> Int32 {
        defer { nextToken = nextToken == .max ? 1 : nextToken + 1 }
        return nextToken
    }

    /// Whether the caller must schedule a write: bytes wait on an accepted connection and none is on its way.
    private mutating func scheduleWrite() -> Bool {
        guard isConnected, connection.outgoing != nil, !connection.flushScheduled else { return false }
        connection.flushScheduled = true
        return true
    }

    /// A packet id not in use on the open connection; nil when none is connected or all 65,535 are in use.
    mutating func freePacketID() -> UInt16? {
        guard isConnected else { return nil }
        guard connection.inFlight.count + connection.subscribing.count < Int(UInt16.max) else { return nil }
        while true {
            let id = nextPacketID
            nextPacketID = id == .max ? 1 : id + 1
            if connection.inFlight[id] == nil && (connection.subscribing.isEmpty || !connection.subscribing.contains(id)) { return id }
        }
    }

    private mutating func encodeSubscribe(_ filters: [(filter: String, qos: UInt8)]) {
        guard let id = freePacketID() else { return }
        connection.subscribing.insert(id)
        connection.encode { Packet.writeSubscribe(packetID: id, filters: filters, to: &$0) }
    }

    /// Puts waiting messages on the wire, oldest first, while connected and packet ids are free.
    mutating func sendWaiting() {
        guard isConnected else { return }
        while !waiting.isEmpty, let id = freePacketID() {
            var message = waiting.removeFirst()
            message.packetID = id
            encodeSend(message)
            message.sent = true
            if message.redeliver {
                connection.inFlight.insert(id, consume message)
            } else {
                connection.inFlight.insert(id, .awaitingAcknowledgement(token: message.token, qos: message.qos, packetID: id))
            }
        }
    }

    mutating func encodeSend(_ message: Outgoing) {
        connection.encode { buffer in
            if message.released {
                Packet.writeAcknowledgement(.pubrel, packetID: message.packetID, to: &buffer)
            } else {
                Packet.writePublish(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                                    duplicate: message.sent, packetID: message.packetID, to: &buffer)
            }
        }
    }
}
