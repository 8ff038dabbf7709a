import NIOCore

extension MQTTSession {
    /// Why the client must close the connection.
    enum CloseReason: Equatable {
        /// The broker's CONNACK refused us with this return code (3.1.1, table 3.1).
        case refused(returnCode: UInt8)
        /// The broker broke the protocol, or stopped answering: a description for the log.
        case failure(String)
    }

    /// What one read of the broker's packets asks of the client, in this order: tell the owner it is connected,
    /// deliver the messages, tell the acknowledgements, write what waits (``takeWrite(now:)``), close.
    struct ReadOutcome {
        /// The broker accepted the connection in this read (subscriptions and waiting messages are encoded).
        var accepted = false
        /// ... and it is a reconnect, not the first connection.
        var reconnected = false
        /// Messages from the broker, in order, each delivered once (a QoS 2 message sent again is not).
        var messages: [Packet.Message] = []
        /// What `publish` returned for the messages the broker acknowledged.
        var acknowledged: [Int32] = []
        /// The broker refused a subscription (SUBACK return code 0x80).
        var subscriptionRefused = false
        /// Close the connection after carrying out the rest.
        var close: CloseReason?
    }

    /// What a timer tick asks of the client.
    enum TickAction: Equatable {
        case none
        /// A PINGREQ is encoded: write it now.
        case ping
        /// Close the connection.
        case close(CloseReason)
    }

    /// A connection is open (TCP, and TLS where it is used): CONNECT is encoded, to be written now.
    mutating func connectionOpened(_ connect: Packet.Connect, now: NIODeadline) {
        connection = Connection(now: now)
        connection.encode { Packet.writeConnect(connect, to: &$0) }
        isOpen = true
    }

    /// Takes the packets of one read from the broker.
    mutating func read(_ packets: [Packet.Inbound], now: NIODeadline) -> ReadOutcome {
        var outcome = ReadOutcome()
        guard isOpen else { return outcome }
        connection.lastRead = now
        for packet in packets {
            handle(packet, now: now, into: &outcome)
            if outcome.close != nil { break }
        }
        return outcome
    }

    private mutating func handle(_ packet: Packet.Inbound, now: NIODeadline, into outcome: inout ReadOutcome) {
        guard connection.accepted else {
            switch packet {
            case .connack(_, let code) where code != 0:
                outcome.close = .refused(returnCode: code)
            case .connack:
                connection.accepted = true
                connection.acceptedAt = now
                outcome.accepted = true
                outcome.reconnected = everConnected
                everConnected = true
                if !subscriptions.isEmpty, let id = freePacketID() {
                    connection.subscribing.insert(id)
                    connection.encode { [subscriptions] in Packet.writeSubscribe(packetID: id, filters: subscriptions, to: &$0) }
                }
                sendWaiting()
            default:
                outcome.close = .failure("the broker sent a packet before its CONNACK")
            }
            return
        }
        switch packet {
        case .connack:
            outcome.close = .failure("the broker sent a second CONNACK")
        case .pingresp:
            connection.pingSent = nil
        case .publish(let message):
            guard let id = message.packetID else {
                outcome.messages.append(message)
                return
            }
            if message.qos == 1 {
                connection.encode { Packet.writeAcknowledgement(.puback, packetID: id, to: &$0) }
                outcome.messages.append(message)
            } else {
                // Delivered once: a resend of a message whose PUBREL has not come yet is only acknowledged again.
                if connection.receivedExactlyOnce.insert(id).inserted { outcome.messages.append(message) }
                connection.encode { Packet.writeAcknowledgement(.pubrec, packetID: id, to: &$0) }
            }
        case .pubrel(let id):
            connection.receivedExactlyOnce.remove(id)
            connection.encode { Packet.writeAcknowledgement(.pubcomp, packetID: id, to: &$0) }
        case .puback(let id), .pubcomp(let id):
            let expected: UInt8 = if case .puback = packet { 1 } else { 2 }
            // A PUBACK for a QoS 2 message or a PUBCOMP for a QoS 1 one (or for an id not in flight) is not ours to end.
            guard connection.inFlight[id]?.qos == expected, let message = connection.inFlight.remove(id) else { return }
            outcome.acknowledged.append(message.token)
            sendWaiting()
        case .pubrec(let id):
            guard var message = connection.inFlight[id], message.qos == 2 else { return }
            message.released = true
            connection.inFlight[id] = message
            encodeSend(message)
        case .suback(let id, let codes):
            connection.subscribing.remove(id)
            if codes.contains(0x80) { outcome.subscriptionRefused = true }
        }
    }

    /// A timer tick (about once a second): the connect timeout while the CONNACK is awaited, then the keep-alive.
    mutating func tick(now: NIODeadline) -> TickAction {
        guard isOpen else { return .none }
        guard connection.accepted else {
            guard now - connection.openedAt >= connectTimeout else { return .none }
            return .close(.failure("no CONNACK from the broker within \(Self.seconds(connectTimeout)) s"))
        }
        if let pingSent = connection.pingSent {
            guard now - pingSent >= keepAlive else { return .none }
            return .close(.failure("the broker did not answer a keep-alive ping within \(Self.seconds(keepAlive)) s"))
        }
        guard now - connection.lastRead >= keepAlive || now - connection.lastWrite >= keepAlive else { return .none }
        connection.encode { Packet.writeEmpty(.pingreq, to: &$0) }
        connection.pingSent = now
        return .ping
    }

    /// The connection closed (`byBroker`: the broker ended it, not us or an error); returns whether the broker had
    /// accepted it. Messages in flight wait for the next connection, in the order they were first published, ahead
    /// of those that waited already; messages published with `redeliver: false` go with it (their publisher sends
    /// them again).
    mutating func connectionClosed(now: NIODeadline = .uptimeNanoseconds(0), byBroker: Bool = false) -> Bool {
        guard isOpen else { return false }
        let closed = connection
        connection = Connection(now: .uptimeNanoseconds(0))
        isOpen = false
        if let acceptedAt = closed.acceptedAt {
            brokerDropsInARow = byBroker && now - acceptedAt < Self.shortConnection ? brokerDropsInARow + 1 : 0
        }
        let resend = closed.inFlight.values.filter(\.redeliver).sorted { $0.order < $1.order }
        var waiting = CircularBuffer(resend)
        waiting.append(contentsOf: self.waiting.lazy.filter(\.redeliver))
        self.waiting = waiting
        return closed.accepted
    }

    private static func seconds(_ time: TimeAmount) -> Int64 { time.nanoseconds / 1_000_000_000 }
}
