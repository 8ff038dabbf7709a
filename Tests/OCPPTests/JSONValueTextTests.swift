import Foundation
import Testing

@testable import OCPP

/// `JSONValue.text` is written by hand for speed; it must be exactly what Foundation's encoder writes.
@Suite struct JSONValueTextTests {
    /// What the text was before it was written by hand.
    static func foundationText(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    @Test func randomValuesAreWrittenAsFoundationWritesThem() {
        var random = RandomJSON()
        for _ in 0..<3000 {
            let sample = random.value()
            #expect(sample.text == Self.foundationText(sample), "\(sample)")
        }
    }
}

/// Random JSON documents for the text and parse tests: every kind of value, strings with escapes and non-ASCII
/// characters, nesting to a few levels.
struct RandomJSON {
    var generator = SystemRandomNumberGenerator()
    /// The doubles drawn (one written without a fraction, 16, reads back as an integer: the parse test leaves it out).
    var doubles: [Double] = [0.5, -2.25, 16, 1e-7, 3.0e20, 0.1, 230.4]
    var integers: ClosedRange<Int> = -1_000_000...1_000_000
    let characters = Array("aZ09 _-./:\"\\é€😀\n\r\t\u{01}\u{08}\u{0C}\u{1F}\u{7F}")

    mutating func string() -> String {
        String((0..<Int.random(in: 0...6, using: &generator)).map { _ in characters.randomElement(using: &generator)! })
    }

    mutating func value(_ depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0...(depth > 2 ? 5 : 7), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int.random(in: integers, using: &generator))
        case 3: return .double(doubles.randomElement(using: &generator)!)
        case 4, 5: return .string(string())
        case 6: return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in value(depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) { members[string()] = value(depth + 1) }
            return .object(members)
        }
    }
}
