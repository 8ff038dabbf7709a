import Foundation
import TestSupport
import Testing
@testable import OCPP

/// The fast path (FastPath.swift) against the general path (Foundation's decoder): the fast path may give up on
/// anything, but whatever it returns must be exactly what the general path returns.
@Suite struct FastPathTests {
    static let meterValues = #"""
        {"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[
        {"value":"1234567","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","location":"Outlet","unit":"Wh"},
        {"value":"10996","context":"Sample.Periodic","format":"Raw","measurand":"Power.Active.Import","unit":"W"},
        {"value":"15.9","measurand":"Current.Import","phase":"L1","unit":"A"},
        {"value":"230.1","measurand":"Voltage","phase":"L1-N","unit":"V"},{"value":"81","measurand":"SoC","location":"EV","unit":"Percent"}]},
        {"timestamp":"2026-11-21T16:30:00.250+01:00","sampledValue":[{"value":"1"}]}]}
        """#
    static let status = #"""
        {"connectorId":2,"errorCode":"NoError","status":"Charging","info":"ok","timestamp":"2026-11-21T16:30:00Z",
         "vendorId":"acme","vendorErrorCode":"E0"}
        """#

    /// Decodes with both paths; the fast one must agree whenever it answers. Returns whether it answered.
    @discardableResult
    func agree<T: Decodable & Equatable>(_ type: T.Type, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let payload = RawJSON(validatedBytes: Data(text.utf8))
        guard let fast = FastPath.decode(type, from: payload) else { return false }
        let general = try? PayloadCoding.decodeGenerally(type, from: payload)
        #expect(general == fast, "fast path differs on \(text)", sourceLocation: sourceLocation)
        return true
    }

    @Test func typicalMessagesTakeTheFastPath() {
        #expect(agree(MeterValuesRequest.self, Self.meterValues))
        #expect(agree(StatusNotificationRequest.self, Self.status))
        #expect(agree(StatusNotificationRequest.self, #"{"connectorId":0,"errorCode":"GroundFailure","status":"Faulted"}"#))
        #expect(agree(HeartbeatRequest.self, "{}"))
        #expect(agree(HeartbeatRequest.self, " { } "))
    }

    @Test func anythingUnusualGoesTheGeneralWay() {
        let general = [
            #"{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1","x":1}]}]}"#,
            #"{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"\u0031"}]}]}"#,
            #"{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"é"}]}]}"#,
            #"{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1","unit":"kWatt"}]}]}"#,
            #"{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[]}]}"#,
            #"{"connectorId":1,"meterValue":[]}"#,
            #"{"connectorId":1.0,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#,
            #"{"connectorId":1,"connectorId":2,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#,
            #"{"connectorId":1,"transactionId":null,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#,
            #"{"connectorId":1,"meterValue":[{"timestamp":"yesterday","sampledValue":[{"value":"1"}]}]}"#,
            #"{"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#,
        ]
        for text in general {
            #expect(!agree(MeterValuesRequest.self, text), "\(text)")
        }
        #expect(!agree(StatusNotificationRequest.self, #"{"connectorId":1,"errorCode":"NoError"}"#))
        #expect(!agree(StatusNotificationRequest.self, #"{"connectorId":1,"errorCode":"NoError","status":"Charging","info":"\#(String(repeating: "i", count: 51))"}"#))
        #expect(!agree(HeartbeatRequest.self, #"{"extra":1}"#))
    }

    /// The fast path matches enum values and keys on bytes: every value of every enum it reads is found from its
    /// name, and nothing else is (not a prefix, not another case, not a longer name).
    @Test func enumValuesAndKeysAreMatchedExactly() {
        func check<E: FastPathEnum>(_: E.Type) {
            for value in E.allCases {
                let name = value.rawValue
                #expect(match(E.self, name) == value, "\(name)")
                // Near misses are found exactly when they are another value's name ("kWh" without its "h").
                for near in [String(name.dropLast()), name + "x", String(name.dropFirst()), name.lowercased()] {
                    #expect(match(E.self, near) == E(rawValue: near), "\(near), near \(name)")
                }
            }
            #expect(match(E.self, "") == nil)
        }
        check(ReadingContext.self)
        check(ValueFormat.self)
        check(Measurand.self)
        check(Phase.self)
        check(Location.self)
        check(UnitOfMeasure.self)
        check(ChargePointErrorCode.self)
        check(ChargePointStatus.self)

        func key(_ text: String) -> FieldName? {
            Array(text.utf8).withUnsafeBufferPointer { FieldName($0) }
        }
        #expect(key("vendorErrorCode") == .vendorErrorCode)
        #expect(key("value") == .value)
        // Every constant key is the packing of its name.
        let constants: [(String, FieldName)] = [
            ("connectorId", .connectorId), ("transactionId", .transactionId), ("meterValue", .meterValue),
            ("timestamp", .timestamp), ("sampledValue", .sampledValue), ("value", .value), ("context", .context),
            ("format", .format), ("measurand", .measurand), ("phase", .phase), ("location", .location), ("unit", .unit),
            ("errorCode", .errorCode), ("status", .status), ("info", .info), ("vendorId", .vendorId),
            ("vendorErrorCode", .vendorErrorCode),
        ]
        for (name, constant) in constants {
            #expect(key(name) == constant, "\(name)")
        }
        #expect(key("valu") != .value)
        #expect(key("values") != .value)
        #expect(key("vendorErrorCodes") != .vendorErrorCode)
        #expect(key("0123456789abcdef") != nil)
        #expect(key("0123456789abcdefg") == nil)
        // A key the fast path does not know, and one too long to pack, both send the payload the general way.
        #expect(!agree(MeterValuesRequest.self, #"{"connectorId":1,"connectorIdentifier1":2,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#))
        #expect(!agree(MeterValuesRequest.self, #"{"connectorI":1,"meterValue":[{"timestamp":"2026-11-21T16:30:00Z","sampledValue":[{"value":"1"}]}]}"#))
    }

    private func match<E: FastPathEnum>(_: E.Type, _ text: String) -> E? {
        Array(text.utf8).withUnsafeBufferPointer { E.byteNames.value($0) }
    }

    /// Random mutations of valid payloads: whenever the fast path answers, the general path gives the same value.
    @Test func randomMutationsAgree() {
        var generator = SplitMix64(seed: 0xFA57)
        let seeds: [(String, (String) -> Bool)] = [
            (Self.meterValues, { agree(MeterValuesRequest.self, $0) }),
            (Self.status, { agree(StatusNotificationRequest.self, $0) }),
            ("{}", { agree(HeartbeatRequest.self, $0) }),
        ]
        let alphabet = Array(#"[]{}",:0123456789-.eE\u tfnrlLNW+Z"#.utf8) + [0x7F, 0xC3]
        var fastAnswers = 0
        for round in 0..<30_000 {
            let (seed, check) = seeds[round % seeds.count]
            var bytes = Array(seed.utf8)
            generator.mutate(&bytes, upTo: 3, from: alphabet, emptyBecomes: UInt8(ascii: "{"))
            // Payloads reach the decoders only after the frame codec validated them as JSON.
            let frame = Array(#"[2,"1","X","#.utf8) + bytes + [UInt8(ascii: "]")]
            guard case .call? = try? FrameCodec.decode(frame) else { continue }
            if check(String(decoding: bytes, as: UTF8.self)) { fastAnswers += 1 }
        }
        // Many mutations land in a value or white space and leave a payload the fast path reads: it must have
        // answered hundreds of them, or this test checks nothing.
        #expect(fastAnswers > 500)
    }

    /// The frame decoder reads a fast path payload in the same pass as the envelope. Whatever the bytes, the outcome
    /// must be the one of the validating pass alone: the same frame or the same error. The reference is the same
    /// frame with an action that has no fast path ("MeterValuez", as long as "MeterValues").
    @Test func framesReadInOnePassAsWhenValidatedFirst() throws {
        let frame = #"[2,"m1","MeterValues","# + Self.meterValues + "]"
        guard case .call(let call) = try FrameCodec.decode(Array(frame.utf8)) else { Issue.record("not a call"); return }
        #expect(call.decoded != nil)
        #expect(try call.decodePayload(as: MeterValuesRequest.self) == PayloadCoding.decodeGenerally(MeterValuesRequest.self, from: call.payload))
        // The reading is handed over, not made again: one that differs from the payload shows which is used.
        var handed = call
        handed.decoded = .meterValues(MeterValuesRequest(connectorId: 9, transactionId: nil, meterValue: []))
        #expect(try handed.decodePayload(as: MeterValuesRequest.self).connectorId == 9)
        handed.decoded = .heartbeat
        #expect(try handed.decodePayload(as: MeterValuesRequest.self).connectorId == 1, "a reading of another type is not used")
        guard case .call(let unusual) = try FrameCodec.decode(Array(#"[2,"m2","Heartbeat", {"x":1} ]"#.utf8)) else { return }
        #expect(unusual.decoded == nil && unusual.payload == RawJSON(validatedBytes: Data(#"{"x":1}"#.utf8)))
        #expect(throws: FrameDecodingError.self) { try FrameCodec.decode(Array(#"[2,"m3","StatusNotification",{"connectorId":01,"errorCode":"NoError","status":"Available"}]"#.utf8)) }

        var generator = SplitMix64(seed: 0x0E1A)
        let seeds = [frame, #"[2,"s1","StatusNotification","# + Self.status + "]", #"[2,"h1","Heartbeat",{}]"#]
        let alphabet = Array(#"[]{}",:0123456789-.eE\u tfnrlLNW+Z"#.utf8) + [0x7F, 0xC3, 0x00, 0x09]
        var readInOnePass = 0
        for round in 0..<30_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            generator.mutate(&bytes, upTo: 3, from: alphabet, emptyBecomes: UInt8(ascii: "["))
            let text = String(decoding: bytes, as: UTF8.self)
            var reference = bytes
            for action in ["MeterValues", "StatusNotification", "Heartbeat"] {
                let quoted = Array("\"\(action)\"".utf8)
                // The action element, right after a comma (not the same letters inside the message id).
                if let at = reference.indices.dropFirst().first(where: {
                    reference[$0 - 1] == UInt8(ascii: ",") && reference[$0...].starts(with: quoted)
                }) {
                    reference[at + quoted.count - 2] = UInt8(ascii: "z")
                }
            }
            let fast = Result { () throws(FrameDecodingError) in try FrameCodec.decode(bytes) }
            let validated = Result { () throws(FrameDecodingError) in try FrameCodec.decode(reference) }
            switch (fast, validated) {
            case (.success(.call(let one)), .success(.call(let other))):
                #expect(one.messageID == other.messageID && one.payload == other.payload, "\(text)")
                if one.decoded != nil { readInOnePass += 1 }
            case (.success(let one), .success(let other)):
                #expect(one == other, "\(text)")
            case (.failure(let one), .failure(let other)):
                #expect(one == other, "\(text)")
            default:
                Issue.record("one pass and validation disagree on \(text): \(fast) against \(validated)")
            }
        }
        // Most mutations break the payload or the envelope; hundreds must still be read in one pass.
        #expect(readInOnePass > 500)
    }

    @Test func answersAreWrittenAsTheGeneralEncoderWritesThem() throws {
        let heartbeat = HeartbeatResponse(currentTime: Date(timeIntervalSince1970: 1_795_000_000.5))
        #expect(FastPath.encode(heartbeat) == (try PayloadCoding.encodeGenerally(heartbeat)))
        #expect(FastPath.encode(MeterValuesResponse()) == (try PayloadCoding.encodeGenerally(MeterValuesResponse())))
        #expect(FastPath.encode(StatusNotificationResponse()) == (try PayloadCoding.encodeGenerally(StatusNotificationResponse())))
        #expect(FastPath.encode(BootNotificationResponse(status: .accepted, currentTime: Date(), interval: 300)) == nil)
    }
}
