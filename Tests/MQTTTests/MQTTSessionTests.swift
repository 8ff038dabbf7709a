import NIOCore
import TestSupport
import Testing

@testable import MQTT

/// The session state machine, driven event by event with a clock of the test's own: no broker, no sleeps.
@Suite final class MQTTSessionTests {
    /// A packet the session wrote, split by its fixed header.
    struct Written: Equatable, CustomStringConvertible {
        var kind: UInt8
        var flags: UInt8
        var body: [UInt8]

        var packetID: UInt16 {
            let offset = kind == 3 ? 2 + Int(UInt16(body[0]) << 8 | UInt16(body[1])) : 0
            return UInt16(body[offset]) << 8 | UInt16(body[offset + 1])
        }
        var isDuplicate: Bool { flags & 0x08 != 0 }
        var topic: String { String(decoding: body[2..<(2 + Int(UInt16(body[0]) << 8 | UInt16(body[1])))], as: UTF8.self) }
        var description: String { "type \(kind) flags \(flags) \(body)" }
    }

    /// The clock: every event gets `now`, moved by the test.
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var session = MQTTSession(keepAlive: .seconds(10), connectTimeout: .seconds(5))
    let connect = Packet.Connect(clientID: "gw", keepAlive: 10, username: nil, password: nil, will: nil)

    /// Splits what waits to be written into packets.
    func written() -> [Written] {
        guard var bytes = session.takeWrite(now: now)?.bytes else { return [] }
        var packets: [Written] = []
        while let first: UInt8 = bytes.readInteger() {
            var length = 0
            var shift = 0
            while let byte: UInt8 = bytes.readInteger() {
                length |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            packets.append(Written(kind: first >> 4, flags: first & 0x0F, body: bytes.readBytes(length: length)!))
        }
        return packets
    }

    /// Opens a connection and has the broker accept it; returns what the acceptance wrote.
    @discardableResult
    func accepted() -> [Written] {
        session.connectionOpened(connect, now: now)
        #expect(written().map(\.kind) == [1])
        let outcome = session.read([.connack(sessionPresent: false, returnCode: 0)], now: now)
        #expect(outcome.accepted && outcome.close == nil)
        return written()
    }

    func publish(_ topic: String, qos: UInt8 = 1, redeliver: Bool = true) -> Int32? {
        session.publish(topic: topic, payload: .text("v"), qos: qos, retain: false, redeliver: redeliver).token
    }

    @Test func messagesWaitForTheBrokersAcceptanceThenGoOutWithTheSubscription() {
        _ = session.subscribe(["a/#", "b"], qos: 1)
        session.connectionOpened(connect, now: now)
        #expect(written().map(\.kind) == [1])
        // Before the CONNACK: QoS 0 is not taken, QoS 1 waits; nothing is scheduled.
        #expect(publish("q0", qos: 0) == nil)
        let result = session.publish(topic: "q1", payload: .bytes([1]), qos: 1, retain: true, redeliver: true)
        #expect(result.token != nil && !result.flush)
        #expect(!session.isConnected && session.unacknowledged == 1)

        let outcome = session.read([.connack(sessionPresent: false, returnCode: 0)], now: now)
        #expect(outcome.accepted && !outcome.reconnected)
        let packets = written()
        // SUBSCRIBE (flags 2) with both filters, then the waiting PUBLISH (QoS 1, retained).
        #expect(packets.map(\.kind) == [8, 3])
        #expect(packets[0].flags == 0x02)
        #expect(packets[1].flags == 0x03 && packets[1].topic == "q1")
        #expect(session.awaitedReplies == 2)
        let acknowledged = session.read([.suback(packetID: packets[0].packetID, returnCodes: [1, 1]), .puback(packets[1].packetID)], now: now)
        #expect(acknowledged.acknowledged == [result.token!])
        #expect(session.unacknowledged == 0 && session.awaitedReplies == 0)
    }

    @Test func refusalsAndOutOfOrderPacketsCloseTheConnection() {
        session.connectionOpened(connect, now: now)
        #expect(session.read([.connack(sessionPresent: false, returnCode: 5)], now: now).close == .refused(returnCode: 5))

        session.connectionOpened(connect, now: now)
        #expect(session.read([.puback(1)], now: now).close == .failure("the broker sent a packet before its CONNACK"))

        accepted()
        #expect(session.read([.connack(sessionPresent: false, returnCode: 0)], now: now).close == .failure("the broker sent a second CONNACK"))
    }

    @Test func packetIDsWrapAndSkipTheOnesStillInFlight() {
        accepted()
        let stuck = publish("stuck")!
        let stuckID = written()[0].packetID
        #expect(stuckID == 1)
        var seen = Set<UInt16>()
        // Two laps of the 65,535 ids, each acknowledged at once but the first.
        for _ in 0..<(2 * 65_535) {
            _ = publish("t")
            let packet = written()[0]
            #expect(packet.packetID != 0 && packet.packetID != stuckID)
            seen.insert(packet.packetID)
            _ = session.read([.puback(packet.packetID)], now: now)
        }
        #expect(seen.count == 65_534)
        #expect(session.read([.puback(stuckID)], now: now).acknowledged == [stuck])
    }

    @Test func inFlightMessagesAreSentAgainWithDUPInTheirOrderAfterAReconnect() {
        accepted()
        let first = publish("one")!
        let second = publish("two")!
        let third = publish("three")!
        let sent = written()
        #expect(sent.allSatisfy { !$0.isDuplicate })
        // The broker acknowledges the second only, then the connection drops.
        _ = session.read([.puback(sent[1].packetID)], now: now)
        let wasAccepted = session.connectionClosed()
        #expect(wasAccepted)
        let late = publish("four")!
        #expect(session.unacknowledged == 3)

        let again = accepted()
        #expect(again.map(\.topic) == ["one", "three", "four"])
        #expect(again.map(\.isDuplicate) == [true, true, false])
        let outcome = session.read(again.map { .puback($0.packetID) }, now: now)
        #expect(outcome.acknowledged == [first, third, late])
        #expect(!outcome.acknowledged.contains(second))
    }

    @Test func messagesWithoutRedeliveryGoWithTheirConnection() {
        accepted()
        let kept = publish("kept")!
        _ = publish("once", redeliver: false)
        _ = written()
        let wasAccepted = session.connectionClosed()
        #expect(wasAccepted)
        #expect(publish("refused", redeliver: false) == nil)
        let again = accepted()
        #expect(again.map(\.topic) == ["kept"])
        #expect(session.read([.puback(again[0].packetID)], now: now).acknowledged == [kept])
    }

    @Test func qos2GoesThroughPubrecPubrelPubcomp() {
        accepted()
        let token = publish("exactly", qos: 2)!
        let packet = written()[0]
        #expect(packet.flags == 0x04)
        // A PUBACK does not end a QoS 2 message.
        #expect(session.read([.puback(packet.packetID)], now: now).acknowledged.isEmpty)
        _ = session.read([.pubrec(packet.packetID)], now: now)
        #expect(written() == [Written(kind: 6, flags: 0x02, body: [UInt8(packet.packetID >> 8), UInt8(packet.packetID & 0xFF)])])
        // A reconnect now sends PUBREL again, not the message.
        let wasAccepted = session.connectionClosed()
        #expect(wasAccepted)
        let again = accepted()
        #expect(again.map(\.kind) == [6])
        #expect(session.read([.pubcomp(again[0].packetID)], now: now).acknowledged == [token])
    }

    @Test func anIncomingQoS2MessageIsDeliveredOnceUntilReleased() {
        accepted()
        let message = Packet.Message(topic: "cmd", payload: [1], qos: 2, retain: false, duplicate: false, packetID: 7)
        #expect(session.read([.publish(message)], now: now).messages == [message])
        var resent = message
        resent.duplicate = true
        #expect(session.read([.publish(resent)], now: now).messages.isEmpty)
        #expect(written().map(\.kind) == [5, 5])  // PUBREC for each
        _ = session.read([.pubrel(7)], now: now)
        #expect(written().map(\.kind) == [7])  // PUBCOMP
        // Released: the id is free for a new message.
        #expect(session.read([.publish(message)], now: now).messages == [message])
        let qos1 = Packet.Message(topic: "cmd", payload: [2], qos: 1, retain: false, duplicate: false, packetID: 8)
        #expect(session.read([.publish(qos1)], now: now).messages == [qos1])
        #expect(written().map(\.kind) == [5, 4])
    }

    @Test func keepAlivePingsWhenQuietAndGivesUpOnASilentBroker() {
        accepted()
        now = now + .seconds(9)
        #expect(session.tick(now: now) == .none)
        now = now + .seconds(1)
        #expect(session.tick(now: now) == .ping)
        #expect(written().map(\.kind) == [12])
        // Answered: quiet again until the next interval.
        _ = session.read([.pingresp], now: now + .seconds(1))
        now = now + .seconds(5)
        #expect(session.tick(now: now) == .none)
        now = now + .seconds(5)
        #expect(session.tick(now: now) == .ping)
        _ = written()
        // Not answered within another interval: gone.
        now = now + .seconds(9)
        #expect(session.tick(now: now) == .none)
        now = now + .seconds(1)
        #expect(session.tick(now: now) == .close(.failure("the broker did not answer a keep-alive ping within 10 s")))
    }

    @Test func aBrokerThatNeverAcceptsTimesOut() {
        session.connectionOpened(connect, now: now)
        now = now + .seconds(4)
        #expect(session.tick(now: now) == .none)
        now = now + .seconds(1)
        #expect(session.tick(now: now) == .close(.failure("no CONNACK from the broker within 5 s")))
    }

    @Test func aBrokerThatDropsUsRightAfterAcceptingIsCounted() {
        // Another client with the same id: the broker accepts us, then drops us within a second, again and again.
        for _ in 0..<3 {
            accepted()
            now = now + .milliseconds(800)
            _ = session.connectionClosed(now: now, byBroker: true)
        }
        #expect(session.brokerDropsInARow == 3)
        // A connection that lasted, or one we ended ourselves, starts the count again.
        accepted()
        now = now + .seconds(30)
        _ = session.connectionClosed(now: now, byBroker: true)
        #expect(session.brokerDropsInARow == 0)
        accepted()
        _ = session.connectionClosed(now: now + .milliseconds(10), byBroker: false)
        #expect(session.brokerDropsInARow == 0)
    }

    @Test func reconnectDelaysDoubleWithJitterUpToTheMaximum() {
        var random = SplitMix64(seed: 42)
        var backoff = ReconnectBackoff(base: .seconds(1), maximum: .seconds(8))
        var nominals: [Duration] = []
        var waits: Set<Duration> = []
        for _ in 0..<6 {
            let nominal = backoff.nominal
            let wait = backoff.next(using: &random)
            #expect(wait >= nominal / 2 && wait <= nominal)
            nominals.append(nominal)
            waits.insert(wait)
        }
        #expect(nominals == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        // Random, not the nominal delays.
        #expect(waits.count == 6)
        backoff.reset()
        #expect(backoff.nominal == .seconds(1))
        var zero = ReconnectBackoff(base: .zero, maximum: .zero)
        #expect(zero.next(using: &random) == .zero)
    }

    /// A hostile broker: random bytes, read as packets and fed to the session, never crash it, and whatever it
    /// does the session keeps count: every QoS 1 or 2 message is unacknowledged until acknowledged once, and no
    /// acknowledgement names a message that was not waiting for one.
    @Test func randomBytesFromTheBrokerNeverCrashTheSession() {
        var random = SplitMix64(seed: 0xB0B)
        let valid: [[UInt8]] = [[0x20, 2, 0, 0], [0x40, 2, 0, 1], [0x50, 2, 0, 1], [0x62, 2, 0, 1], [0x70, 2, 0, 1], [0x90, 3, 0, 1, 1],
                                [0xD0, 0], [0x32, 6, 0, 1, 0x61, 0, 9, 0x78], [0x34, 5, 0, 1, 0x61, 0, 9]]
        var outstanding = Set<Int32>()
        var acknowledgements = 0
        var sentIDs: [UInt16] = []
        for round in 0..<1_500 {
            if round % 50 == 0 {
                _ = session.connectionClosed()
                sentIDs += accepted().filter { ($0.kind == 3 && $0.flags & 0x06 != 0) || $0.kind == 6 }.map(\.packetID)
            }
            for _ in 0..<Int(random.next() % 4) {
                let qos = UInt8(random.next() % 3)
                if let token = publish("t/\(round)", qos: qos), qos > 0 { outstanding.insert(token) }
            }
            // Besides fixed packets, acknowledgements of what the session sent (right or wrong kind, maybe twice).
            let acks: [[UInt8]] = sentIDs.suffix(8).flatMap { id in
                [0x40, 0x50, 0x70].map { [$0, 2, UInt8(id >> 8), UInt8(id & 0xFF)] }
            }
            let choices = valid + acks
            var bytes = (0..<(1 + random.next() % 6)).flatMap { _ in choices[Int(random.next() % UInt64(choices.count))] }
            random.mutate(&bytes, upTo: 4, from: Array(0...255), emptyBecomes: 0x30)
            var buffer = ByteBuffer(bytes: bytes)
            var packets: [Packet.Inbound] = []
            while let packet = try? Packet.read(from: &buffer, maximumLength: 1 << 16) { packets.append(packet) }
            let outcome = session.read(packets, now: now)
            for token in outcome.acknowledged {
                #expect(outstanding.remove(token) != nil, "acknowledged \(token), which was not waiting")
                acknowledgements += 1
            }
            sentIDs += written().filter { ($0.kind == 3 && $0.flags & 0x06 != 0) || $0.kind == 6 }.map(\.packetID)
            if outcome.close != nil {
                _ = session.connectionClosed()
                sentIDs += accepted().filter { ($0.kind == 3 && $0.flags & 0x06 != 0) || $0.kind == 6 }.map(\.packetID)
            }
            #expect(session.unacknowledged == outstanding.count)
        }
        #expect(acknowledgements > 300)  // the broker's random acknowledgements did reach messages
    }
}
