import NIOCore

/// MQTT 3.1.1 control packets (OASIS standard, section 2-3): what the client writes and what it reads.
///
/// Only the packets a client sends or receives are here. Encoding appends to a `ByteBuffer`, so one write can carry
/// many packets.
enum Packet {
    /// Packet types (the fixed header's upper four bits).
    enum Kind: UInt8 {
        case connect = 1, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback, unsubscribe, unsuback
        case pingreq, pingresp, disconnect
    }

    /// The largest remaining length the protocol can express (four length bytes).
    static let maximumRemainingLength = 268_435_455

    /// The largest payload a PUBLISH to `topic` can carry (the remaining length's limit less the topic and the
    /// packet id).
    static func maximumPayload(topic: String, qos: UInt8) -> Int {
        maximumRemainingLength - 2 - topic.utf8.count - (qos > 0 ? 2 : 0)
    }

    /// A packet from the broker.
    enum Inbound: Equatable {
        case connack(sessionPresent: Bool, returnCode: UInt8)
        case publish(Message)
        case puback(UInt16)
        case pubrec(UInt16)
        case pubrel(UInt16)
        case pubcomp(UInt16)
        case suback(packetID: UInt16, returnCodes: [UInt8])
        case pingresp
    }

    /// A PUBLISH from the broker.
    struct Message: Equatable {
        var topic: String
        var payload: [UInt8]
        var qos: UInt8
        var retain: Bool
        var duplicate: Bool
        /// Present for QoS 1 and 2.
        var packetID: UInt16?
    }

    /// What CONNECT carries.
    struct Connect {
        var clientID: String
        var keepAlive: UInt16
        var username: String?
        var password: String?
        var will: (topic: String, payload: [UInt8], qos: UInt8, retain: Bool)?
    }

    // MARK: Encoding

    static func writeConnect(_ connect: Connect, to buffer: inout ByteBuffer) {
        var flags: UInt8 = 0x02  // clean session
        if let will = connect.will { flags |= 0x04 | will.qos << 3 | (will.retain ? 0x20 : 0) }
        if connect.username != nil { flags |= 0x80 }
        if connect.password != nil { flags |= 0x40 }
        var length = 10 + 2 + connect.clientID.utf8.count
        if let will = connect.will { length += 2 + will.topic.utf8.count + 2 + will.payload.count }
        if let username = connect.username { length += 2 + username.utf8.count }
        if let password = connect.password { length += 2 + password.utf8.count }
        writeFixedHeader(.connect, flags: 0, remainingLength: length, to: &buffer)
        writeString("MQTT", to: &buffer)
        buffer.writeInteger(UInt8(4))  // protocol level 3.1.1
        buffer.writeInteger(flags)
        buffer.writeInteger(connect.keepAlive)
        writeString(connect.clientID, to: &buffer)
        if let will = connect.will {
            writeString(will.topic, to: &buffer)
            buffer.writeInteger(UInt16(will.payload.count))
            buffer.writeBytes(will.payload)
        }
        if let username = connect.username { writeString(username, to: &buffer) }
        if let password = connect.password { writeString(password, to: &buffer) }
    }

    /// PUBLISH; `packetID` is required for QoS 1 and 2.
    static func writePublish(
        topic: String, payload: MQTTPayload, qos: UInt8, retain: Bool, duplicate: Bool, packetID: UInt16?,
        to buffer: inout ByteBuffer
    ) {
        let flags = (duplicate ? 0x08 : 0) | qos << 1 | (retain ? 0x01 : 0)
        let length = 2 + topic.utf8.count + (qos > 0 ? 2 : 0) + payload.count
        writeFixedHeader(.publish, flags: flags, remainingLength: length, to: &buffer)
        writeString(topic, to: &buffer)
        if qos > 0 { buffer.writeInteger(packetID ?? 0) }
        switch payload {
        case .bytes(let bytes): buffer.writeBytes(bytes)
        case .text(let text): buffer.writeString(text)
        }
    }

    /// PUBACK, PUBREC, PUBREL or PUBCOMP.
    static func writeAcknowledgement(_ kind: Kind, packetID: UInt16, to buffer: inout ByteBuffer) {
        writeFixedHeader(kind, flags: kind == .pubrel ? 0x02 : 0, remainingLength: 2, to: &buffer)
        buffer.writeInteger(packetID)
    }

    static func writeSubscribe(packetID: UInt16, filters: [(filter: String, qos: UInt8)], to buffer: inout ByteBuffer) {
        let length = 2 + filters.reduce(0) { $0 + 2 + $1.filter.utf8.count + 1 }
        writeFixedHeader(.subscribe, flags: 0x02, remainingLength: length, to: &buffer)
        buffer.writeInteger(packetID)
        for (filter, qos) in filters {
            writeString(filter, to: &buffer)
            buffer.writeInteger(qos)
        }
    }

    /// PINGREQ or DISCONNECT.
    static func writeEmpty(_ kind: Kind, to buffer: inout ByteBuffer) {
        writeFixedHeader(kind, flags: 0, remainingLength: 0, to: &buffer)
    }

    private static func writeFixedHeader(_ kind: Kind, flags: UInt8, remainingLength: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(kind.rawValue << 4 | flags)
        var length = remainingLength
        repeat {
            var byte = UInt8(length & 0x7F)
            length >>= 7
            if length > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while length > 0
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(string.utf8.count))
        buffer.writeString(string)
    }

    // MARK: Decoding

    /// A packet the broker should not have sent, or one that breaks the protocol's rules.
    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads one whole packet from the front of `buffer`; nil (and nothing consumed) when it has not all arrived.
    static func read(from buffer: inout ByteBuffer, maximumLength: Int) throws(ProtocolError) -> Inbound? {
        let start = buffer.readerIndex
        guard let first: UInt8 = buffer.getInteger(at: start) else { return nil }
        var length = 0
        var shift = 0
        var index = start + 1
        while true {
            guard let byte: UInt8 = buffer.getInteger(at: index) else { return nil }
            index += 1
            length |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 28 else { throw ProtocolError(description: "a packet length longer than four bytes") }
        }
        guard length <= maximumLength else {
            throw ProtocolError(description: "a packet of \(length) bytes (the limit is \(maximumLength))")
        }
        guard buffer.writerIndex - index >= length, var body = buffer.getSlice(at: index, length: length) else { return nil }
        buffer.moveReaderIndex(to: index + length)
        return try decode(first: first, body: &body)
    }

    private static func decode(first: UInt8, body: inout ByteBuffer) throws(ProtocolError) -> Inbound {
        let flags = first & 0x0F
        guard let kind = Kind(rawValue: first >> 4) else {
            throw ProtocolError(description: "a packet of type \(first >> 4), which MQTT 3.1.1 reserves")
        }
        // 2.2.2: the flags of every packet but PUBLISH are fixed; a receiver closes the connection on others.
        if kind != .publish, flags != (kind == .pubrel ? 0x02 : 0) {
            throw ProtocolError(description: "a \(kind) with header flags \(flags)")
        }
        func packetID() throws(ProtocolError) -> UInt16 {
            guard body.readableBytes == 2, let id: UInt16 = body.readInteger() else {
                throw ProtocolError(description: "an acknowledgement of \(body.readableBytes) bytes (2 expected)")
            }
            return id
        }
        switch kind {
        case .connack:
            guard body.readableBytes == 2, let acknowledgeFlags: UInt8 = body.readInteger(), let code: UInt8 = body.readInteger() else {
                throw ProtocolError(description: "a CONNACK of \(body.readableBytes) bytes (2 expected)")
            }
            guard acknowledgeFlags & 0xFE == 0 else { throw ProtocolError(description: "a CONNACK with reserved flags set") }
            return .connack(sessionPresent: acknowledgeFlags & 0x01 != 0, returnCode: code)
        case .publish:
            let qos = (flags >> 1) & 0x03
            guard qos < 3 else { throw ProtocolError(description: "a PUBLISH with QoS 3") }
            guard let topicLength: UInt16 = body.readInteger(), let topicBytes = body.readSlice(length: Int(topicLength)) else {
                throw ProtocolError(description: "a PUBLISH without a whole topic")
            }
            // 3.3.2-1 and 4.7.3: a topic name is valid UTF-8 without NUL or wildcards.
            guard let topic = topicBytes.getString(at: topicBytes.readerIndex, length: topicBytes.readableBytes),
                topic.utf8.elementsEqual(topicBytes.readableBytesView), topicBytes.readableBytesView.allSatisfy({ $0 != 0 && $0 != 0x2B && $0 != 0x23 })
            else {
                throw ProtocolError(description: "a PUBLISH whose topic is not a valid topic name")
            }
            var id: UInt16?
            if qos > 0 {
                guard let value: UInt16 = body.readInteger(), value != 0 else { throw ProtocolError(description: "a PUBLISH without its packet id") }
                id = value
            }
            let payload = body.readBytes(length: body.readableBytes) ?? []
            return .publish(Message(topic: topic, payload: payload, qos: qos, retain: flags & 0x01 != 0, duplicate: flags & 0x08 != 0, packetID: id))
        case .puback: return .puback(try packetID())
        case .pubrec: return .pubrec(try packetID())
        case .pubrel: return .pubrel(try packetID())
        case .pubcomp: return .pubcomp(try packetID())
        case .suback:
            guard let id: UInt16 = body.readInteger(), body.readableBytes > 0 else {
                throw ProtocolError(description: "a SUBACK without its packet id and return codes")
            }
            let codes = body.readBytes(length: body.readableBytes) ?? []
            guard codes.allSatisfy({ $0 <= 2 || $0 == 0x80 }) else { throw ProtocolError(description: "a SUBACK with an invalid return code") }
            return .suback(packetID: id, returnCodes: codes)
        case .pingresp:
            guard body.readableBytes == 0 else { throw ProtocolError(description: "a PINGRESP of \(body.readableBytes) bytes (0 expected)") }
            return .pingresp
        default:
            throw ProtocolError(description: "a packet of type \(first >> 4), which a broker does not send to a client")
        }
    }

    /// CONNACK return codes (3.1.1, table 3.1).
    static func connackDescription(_ code: UInt8) -> String {
        switch code {
        case 0: "accepted"
        case 1: "unacceptable protocol version"
        case 2: "client identifier rejected"
        case 3: "server unavailable"
        case 4: "bad user name or password"
        case 5: "not authorised"
        default: "return code \(code)"
        }
    }
}
