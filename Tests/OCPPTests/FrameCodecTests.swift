import Foundation
import TestSupport
import Testing

@testable import OCPP

@Suite struct FrameCodecTests {
    private func decode(_ text: String) throws(FrameDecodingError) -> Frame {
        try FrameCodec.decode(Array(text.utf8))
    }

    @Test func decodesACall() throws {
        let frame = try decode(#" [ 2 , "abc-1" , "BootNotification" , {"chargePointVendor":"V","chargePointModel":"M"} ] "#)
        guard case .call(let call) = frame else {
            Issue.record("expected a CALL, got \(frame)")
            return
        }
        #expect(call.messageID == "abc-1")
        #expect(call.action == "BootNotification")
        #expect(call.payload.description == #"{"chargePointVendor":"V","chargePointModel":"M"}"#)
    }

    @Test func decodesACallResultAndACallError() throws {
        #expect(try decode(#"[3,"7",{"status":"Accepted"}]"#)
            == .callResult(CallResult(messageID: "7", payload: RawJSON(validatedBytes: Data(#"{"status":"Accepted"}"#.utf8)))))
        #expect(try decode(#"[4,"7","NotSupported","no",{"a":1}]"#)
            == .callError(CallError(messageID: "7", code: .notSupported, description: "no",
                                    details: RawJSON(validatedBytes: Data(#"{"a":1}"#.utf8)))))
    }

    @Test func acceptsACallErrorWithoutDescriptionOrDetails() throws {
        #expect(try decode(#"[4,"7","GenericError"]"#)
            == .callError(CallError(messageID: "7", code: .genericError, description: "")))
    }

    @Test func resolvesEscapesInIdsAndActions() throws {
        let frame = try decode(#"[2,"a\"b\u00e9\ud83d\ude00","Heartbeat",{}]"#)
        #expect(frame.messageID == "a\"bé😀")
    }

    @Test func acceptsAnIdOfExactly36Characters() throws {
        let id = String(repeating: "x", count: 36)
        #expect(try decode(#"[2,"\#(id)","Heartbeat",{}]"#).messageID == id)
    }

    struct MalformedCase: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var frame: String
        var code: String
        var reply: String?
        var testDescription: String { name }
    }

    static let malformedCases: [MalformedCase] = {
        let url = Bundle.module.url(forResource: "malformed-frames", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode([MalformedCase].self, from: Data(contentsOf: url))
    }()

    @Test(arguments: malformedCases)
    func malformedFramesGetTheSpecsError(_ testCase: MalformedCase) {
        #expect {
            try decode(testCase.frame)
        } throws: { error in
            guard let error = error as? FrameDecodingError else { return false }
            #expect(error.code.rawValue == testCase.code, "\(error.reason)")
            #expect(error.replyMessageID == testCase.reply)
            return true
        }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: FrameDecodingError.self) { try decode(#"[2,"1","Heartbeat",{"a":\#(deep)}]"#) }
    }

    @Test func encodesEveryFrameKind() {
        let call = Frame.call(Call(messageID: "1", action: "Reset", payload: RawJSON(validatedBytes: Data(#"{"type":"Soft"}"#.utf8))))
        #expect(String(decoding: FrameCodec.encode(call), as: UTF8.self) == #"[2,"1","Reset",{"type":"Soft"}]"#)
        let result = Frame.callResult(CallResult(messageID: "2", payload: .emptyObject))
        #expect(String(decoding: FrameCodec.encode(result), as: UTF8.self) == #"[3,"2",{}]"#)
        let error = Frame.callError(CallError(messageID: "3", code: .notImplemented, description: "say \"hi\"\n"))
        #expect(String(decoding: FrameCodec.encode(error), as: UTF8.self)
            == #"[4,"3","NotImplemented","say \"hi\"\n",{}]"#)
    }

    @Test func encodedFramesDecodeToThemselves() throws {
        let frames: [Frame] = [
            .call(Call(messageID: "x\u{1}y", action: "Heartbeat", payload: .emptyObject)),
            .callResult(CallResult(messageID: "é", payload: RawJSON(validatedBytes: Data(#"{"a":[1,2.5e3,"\\"]}"#.utf8)))),
            .callError(CallError(messageID: "id", code: .genericError, description: "tab\there")),
        ]
        for frame in frames {
            #expect(try FrameCodec.decode(FrameCodec.encode(frame)) == frame)
        }
    }

    /// A property test: random mutations of valid frames never crash the decoder, and whatever it accepts
    /// re-encodes to a frame it accepts again.
    @Test func randomMutationsNeverCrash() {
        var generator = SplitMix64(seed: 0x5EED)
        let seeds = [
            #"[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1.5"}]}]}]"#,
            #"[3,"abc",{"status":"Accepted","x":[true,false,null,-1.5e-3]}]"#,
            #"[4,"q","GenericError","\u00e9",{}]"#,
        ].map { Array($0.utf8) }
        let alphabet = Array(#"[]{}",:0123456789-.eE\u tfnrl"#.utf8) + [0, 0x7F, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            var bytes = seeds[Int(generator.next() % UInt64(seeds.count))]
            generator.mutate(&bytes, upTo: 4, from: alphabet, emptyBecomes: UInt8(ascii: "["))
            if let frame = try? FrameCodec.decode(bytes) {
                #expect((try? FrameCodec.decode(FrameCodec.encode(frame))) != nil)
            }
        }
    }
}
