import NIOCore
import Testing

@testable import MQTT

@Suite struct PacketTests {
    private func bytes(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBuffer()
        write(&buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func connectCarriesEverythingInTheSpecifiedOrder() {
        let connect = Packet.Connect(clientID: "gw", keepAlive: 60, username: "u", password: "p",
                                     will: (topic: "b/s", payload: Array("offline".utf8), qos: 1, retain: true))
        let encoded = bytes { Packet.writeConnect(connect, to: &$0) }
        let expected: [UInt8] = [0x10, 34, 0, 4] + Array("MQTT".utf8) + [4, 0b1110_1110, 0, 60]
            + [0, 2] + Array("gw".utf8) + [0, 3] + Array("b/s".utf8) + [0, 7] + Array("offline".utf8)
            + [0, 1, UInt8(ascii: "u"), 0, 1, UInt8(ascii: "p")]
        #expect(encoded == expected)
        let plain = bytes { Packet.writeConnect(.init(clientID: "c", keepAlive: 5, username: nil, password: nil, will: nil), to: &$0) }
        #expect(plain == [0x10, 13, 0, 4] + Array("MQTT".utf8) + [4, 0x02, 0, 5, 0, 1, UInt8(ascii: "c")])
    }

    @Test func aLongPublishHasAMultiByteLengthAndReadsBack() throws {
        let payload = [UInt8](repeating: 7, count: 300)
        var buffer = ByteBuffer()
        Packet.writePublish(topic: "a/b", payload: .bytes(payload), qos: 1, retain: true, duplicate: true, packetID: 513, to: &buffer)
        let encoded = Array(buffer.readableBytesView)
        // DUP, QoS 1, RETAIN; 2 + 3 + 2 + 300 = 307 = 0b1_0011_0011 -> 0xB3 0x02.
        #expect(Array(encoded.prefix(3)) == [0x3B, 0xB3, 0x02])
        #expect(Array(encoded[3..<10]) == [0, 3, UInt8(ascii: "a"), UInt8(ascii: "/"), UInt8(ascii: "b"), 2, 1])
        // Read back as if the broker had sent it.
        let packet = try Packet.read(from: &buffer, maximumLength: 1 << 20)
        #expect(packet == .publish(.init(topic: "a/b", payload: payload, qos: 1, retain: true, duplicate: true, packetID: 513)))
        #expect(buffer.readableBytes == 0)
    }

    @Test func aTextPayloadIsWrittenAsItsUTF8Bytes() {
        // Multi-byte characters and a length past one byte: the remaining length counts UTF-8 bytes, not characters.
        for text in ["", "21.5", "Zähler ⚡️ 𝄞", String(repeating: "é", count: 100)] {
            let asText = bytes { Packet.writePublish(topic: "s/t", payload: .text(text), qos: 1, retain: true, duplicate: false, packetID: 7, to: &$0) }
            let asBytes = bytes { Packet.writePublish(topic: "s/t", payload: .bytes(Array(text.utf8)), qos: 1, retain: true, duplicate: false, packetID: 7, to: &$0) }
            // The header's remaining length comes from the payload's count: a text counted in characters differs here.
            #expect(asText == asBytes)
        }
    }

    @Test func aPacketIsReadOnlyWhenItHasAllArrived() throws {
        var whole = ByteBuffer()
        Packet.writePublish(topic: "t", payload: .text("hello"), qos: 0, retain: false, duplicate: false, packetID: nil, to: &whole)
        whole.writeBytes([0x40, 2, 0x12, 0x34, 0x90, 3, 0, 9, 0x80, 0xD0, 0])  // PUBACK, SUBACK (one refused), PINGRESP
        let all = Array(whole.readableBytesView)
        for cut in 0..<all.count {
            var partial = ByteBuffer(bytes: all[..<cut])
            var packets: [Packet.Inbound] = []
            while let packet = try Packet.read(from: &partial, maximumLength: 1 << 20) { packets.append(packet) }
            // Whatever was not read is the start of the next packet, untouched.
            var rest = partial
            rest.writeBytes(all[cut...])
            while let packet = try Packet.read(from: &rest, maximumLength: 1 << 20) { packets.append(packet) }
            #expect(packets == [
                .publish(.init(topic: "t", payload: Array("hello".utf8), qos: 0, retain: false, duplicate: false, packetID: nil)),
                .puback(0x1234), .suback(packetID: 9, returnCodes: [0x80]), .pingresp,
            ], "cut at \(cut)")
        }
    }

    @Test func brokenPacketsAreErrorsNotCrashes() {
        func read(_ bytes: [UInt8], limit: Int = 1 << 20) -> String? {
            var buffer = ByteBuffer(bytes: bytes)
            do {
                _ = try Packet.read(from: &buffer, maximumLength: limit)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(read([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == "a packet length longer than four bytes")
        #expect(read([0x30, 0x80, 0x01] + [UInt8](repeating: 0, count: 128), limit: 100) == "a packet of 128 bytes (the limit is 100)")
        #expect(read([0x40, 3, 0, 1, 2]) == "an acknowledgement of 3 bytes (2 expected)")
        #expect(read([0x20, 1, 0]) == "a CONNACK of 1 bytes (2 expected)")
        #expect(read([0x36, 2, 0, 0]) == "a PUBLISH with QoS 3")
        #expect(read([0x32, 3, 0, 1, 0x61]) == "a PUBLISH without its packet id")
        #expect(read([0x30, 2, 0, 5]) == "a PUBLISH without a whole topic")
        #expect(read([0x10, 0]) == "a packet of type 1, which a broker does not send to a client")
        // Fixed-header flags other than the specified ones (2.2.2), reserved types and fields, invalid topic names.
        #expect(read([0x41, 2, 0, 1]) == "a puback with header flags 1")
        #expect(read([0x60, 2, 0, 1]) == "a pubrel with header flags 0")
        #expect(read([0xD8, 0]) == "a pingresp with header flags 8")
        #expect(read([0x00, 0]) == "a packet of type 0, which MQTT 3.1.1 reserves")
        #expect(read([0xF0, 0]) == "a packet of type 15, which MQTT 3.1.1 reserves")
        #expect(read([0x20, 2, 0x02, 0]) == "a CONNACK with reserved flags set")
        #expect(read([0x90, 2, 0, 1]) == "a SUBACK without its packet id and return codes")
        #expect(read([0x90, 3, 0, 1, 3]) == "a SUBACK with an invalid return code")
        #expect(read([0xD0, 1, 0]) == "a PINGRESP of 1 bytes (0 expected)")
        #expect(read([0x32, 4, 0, 1, 0x61, 0, 0]) == "a PUBLISH without its packet id")
        for topic: [UInt8] in [[0x61, 0], [0x2B], [0x61, 0x2F, 0x23], [0xFF, 0xFE], [0xC3]] {
            #expect(read([0x30, UInt8(2 + topic.count), 0, UInt8(topic.count)] + topic) == "a PUBLISH whose topic is not a valid topic name")
        }
    }

    @Test func settingsMQTTCannotCarryAreRefusedAtCreation() throws {
        let long = String(repeating: "x", count: 65_536)
        func refusal(_ change: (inout MQTTClientConfiguration) -> Void) -> String? {
            var configuration = MQTTClientConfiguration(clientID: "gw")
            change(&configuration)
            do {
                _ = try MQTTClient.connectPacket(configuration)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal { _ in } == nil)
        #expect(refusal { $0.clientID = long } == "the client id is 65536 bytes long; MQTT allows at most 65,535")
        #expect(refusal { $0.username = long }?.hasPrefix("the user name") == true)
        #expect(refusal { $0.password = long }?.hasPrefix("the password") == true)
        #expect(refusal { $0.will = .init(topic: "s", payload: long) }?.hasPrefix("the will's message") == true)
        #expect(refusal { $0.will = .init(topic: "s/#", payload: "x") } == "the will's topic 's/#' cannot be published to")
        #expect(refusal { $0.will = .init(topic: "s", payload: "x", qos: 3) } == "the will's QoS is 3; MQTT has 0, 1 and 2")
        #expect(refusal { $0.keepAlive = 70_000 } == "the keep-alive interval is 70000 s; MQTT allows 0 to 65,535")
        // The largest that fits is taken.
        #expect(refusal { $0.clientID = String(repeating: "x", count: 65_535) } == nil)
    }

    @Test func subscribeAndTheSmallPackets() {
        #expect(bytes { Packet.writeSubscribe(packetID: 10, filters: [("a/+", 1), ("#", 0)], to: &$0) }
            == [0x82, 12, 0, 10, 0, 3, UInt8(ascii: "a"), UInt8(ascii: "/"), UInt8(ascii: "+"), 1, 0, 1, UInt8(ascii: "#"), 0])
        #expect(bytes { Packet.writeAcknowledgement(.pubrel, packetID: 258, to: &$0) } == [0x62, 2, 1, 2])
        #expect(bytes { Packet.writeAcknowledgement(.puback, packetID: 1, to: &$0) } == [0x40, 2, 0, 1])
        #expect(bytes { Packet.writeEmpty(.pingreq, to: &$0) } == [0xC0, 0])
        #expect(bytes { Packet.writeEmpty(.disconnect, to: &$0) } == [0xE0, 0])
    }

    @Test func onlyTopicsWithoutWildcardsOrNULsArePublished() {
        #expect(MQTTClient.isPublishable("ocpp/CP1/state/status"))
        #expect(MQTTClient.isPublishable("ü/€"))
        #expect(MQTTClient.isPublishable(String(repeating: "a", count: 65_535)))
        #expect(!MQTTClient.isPublishable(String(repeating: "a", count: 65_536)))
        #expect(!MQTTClient.isPublishable(""))
        #expect(!MQTTClient.isPublishable("ocpp/+/state"))
        #expect(!MQTTClient.isPublishable("ocpp/#"))
        #expect(!MQTTClient.isPublishable("ocpp/a\u{0}b"))
    }
}
