// libFuzzer entry for the MQTT packet decoder and the session state machine: any bytes from a broker must decode
// or fail with a ProtocolError, and the session fed what decodes (after a CONNACK, with messages of its own in
// flight) must never crash or lose count of what it has in flight.
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMQTTPacket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var packets: [Packet.Inbound] = []
    while true {
        let before = buffer.readableBytes
        guard let packet = try? Packet.read(from: &buffer, maximumLength: 1 << 20) else { break }
        guard buffer.readableBytes < before else { fatalError("a packet read consumed nothing") }
        packets.append(packet)
        if case .publish(let message) = packet {
            // What decodes as a PUBLISH encodes to a PUBLISH that decodes to the same.
            var again = ByteBuffer()
            Packet.writePublish(topic: message.topic, payload: .bytes(message.payload), qos: message.qos, retain: message.retain,
                                duplicate: message.duplicate, packetID: message.packetID, to: &again)
            guard (try? Packet.read(from: &again, maximumLength: 1 << 20)) == packet else { fatalError("PUBLISH does not round-trip") }
        }
    }
    var session = MQTTSession(keepAlive: .seconds(10), connectTimeout: .seconds(5))
    let now = NIODeadline.uptimeNanoseconds(1)
    session.connectionOpened(.init(clientID: "fuzz", keepAlive: 10, username: nil, password: nil, will: nil), now: now)
    _ = session.read([.connack(sessionPresent: false, returnCode: 0)], now: now)
    for n in 0..<8 {
        _ = session.publish(topic: "t/\(n)", payload: .bytes([UInt8(n)]), qos: UInt8(n % 3), retain: false, redeliver: n % 2 == 0)
    }
    _ = session.takeWrite(now: now)
    let before = session.unacknowledged
    let outcome = session.read(packets, now: now)
    guard session.unacknowledged == before - outcome.acknowledged.count else { fatalError("in-flight count is off") }
    _ = session.takeWrite(now: now)
    _ = session.connectionClosed()
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main` (scripts/fuzz.sh builds this target as the package
// FuzzMQTT, since it needs NIOCore): hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzMQTT_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzMQTTPacket(data, size) })
}
