import Foundation
import Testing

@testable import OCPP

/// `JSONValue.parse` reads with the project's scanner (issue 24: Foundation's decoder was most of a 2.0.1 message's
/// cost); it must read back what `text` writes and refuse what is not JSON.
@Suite struct JSONValueParseTests {
    @Test func readsBackWhatItWrites() {
        var random = RandomJSON(doubles: [0.5, -2.25, 1e-7, 3.5e20, 0.1, 230.4, -0.001], integers: Int.min...Int.max)
        for _ in 0..<3000 {
            let sample = random.value()
            #expect(JSONValue.parse(Array(sample.text.utf8)) == sample, "\(sample.text)")
        }
    }

    @Test func largeIntegersStayIntegers() {
        for number in [Int.max, Int.min, 0, -1, 9_007_199_254_740_993] {
            #expect(JSONValue.parse(Array(String(number).utf8)) == .int(number))
        }
    }

    @Test func numbersLiteralsEscapesAndWhiteSpace() {
        #expect(JSONValue.parse(Array(#" {"a" : [1, -2, 3.5, 1e3, 16.0, 12345678901234567890, true, false, null]} "#.utf8))
                == ["a": [1, -2, 3.5, 1000.0, 16.0, 12345678901234567890.0, true, false, .null]])
        #expect(JSONValue.parse(Array(#""\u00e9\ud83d\ude00\n\"\\\/""#.utf8)) == "é😀\n\"\\/")
        #expect(JSONValue.parse(Array(#"{"k":1,"k":2}"#.utf8)) == ["k": 2])  // a key given twice: the last
        #expect(JSONValue.parse(Array("[]".utf8)) == [])
    }

    @Test func refusesWhatIsNotJSON() {
        for text in ["", " ", "{", "[1,]", "{\"a\":}", "{a:1}", "01", "1.", "-", "tru", "nul", "\"\\x\"", "\"open", "[1] 2", "{} {}",
                     "1e999", "[\"\u{01}\"]", String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text)")
        }
    }
}
