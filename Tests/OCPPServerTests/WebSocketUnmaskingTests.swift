import NIOCore
import NIOWebSocket
import Testing

@testable import OCPPServer

/// The word-at-a-time unmasking against NIO's byte-at-a-time one.
@Suite struct WebSocketUnmaskingTests {
    @Test func unmasksAsNIODoesForEveryLengthAndOffset() {
        var seed: UInt64 = 0x5EED
        func next() -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        for length in 0...40 {
            for leading in [0, 1, 3, 5] {
                let key = WebSocketMaskingKey([next(), next(), next(), next()])!
                var buffer = ByteBuffer(bytes: (0..<(leading + length)).map { _ in next() })
                // The payload starts `leading` bytes into its buffer, as a frame's data does inside a read.
                buffer.moveReaderIndex(forwardBy: leading)
                let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: key, data: buffer)
                #expect(frame.unmaskedPayload == frame.unmaskedData, "length \(length), \(leading) bytes in")
                // The frame's own bytes are not touched: it may share them.
                #expect(frame.data == buffer)
            }
        }
        let plain = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "[2,\"1\",\"Heartbeat\",{}]"))
        #expect(plain.unmaskedPayload == plain.data)
    }
}
