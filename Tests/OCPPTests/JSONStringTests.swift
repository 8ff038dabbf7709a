import Foundation
import OCPP
import Testing

/// The hand-written JSON string literal: what Foundation's decoder reads back is the text, whichever path wrote it
/// (the copy of clean text or the byte-by-byte escaping).
@Suite struct JSONStringTests {
    @Test(arguments: [
        "", "ocpp/CP1/state/power_active_import", "short", "é and ✓ and 🚗, not ASCII", String(repeating: "long clean text ", count: 40),
        #"a "quoted" word"#, #"back\slash"#, "line\nbreak\tand\rreturn", "\u{0}\u{1}\u{8}\u{C}\u{1F}", "tail control\u{7}",
        String(repeating: "x", count: 15) + "\"",
    ])
    func roundTripsThroughJSONDecoder(_ text: String) throws {
        let literal = JSONString.quoted(text)
        #expect(try JSONDecoder().decode(String.self, from: Data(literal.utf8)) == text)
    }

    @Test func cleanTextIsCopiedAsItIsAndEscapesAreTheShortOnes() {
        #expect(JSONString.quoted("ocpp/CP1/state/status") == #""ocpp/CP1/state/status""#)
        #expect(JSONString.quoted("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
    }

    @Test func appendsToWhatIsThere() {
        var out = Array("[".utf8)
        JSONString.append("one", to: &out)
        out.append(UInt8(ascii: ","))
        JSONString.append("t\"wo", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"["one","t\"wo""#)
    }
}
