/// A validating, allocation-light JSON scanner over UTF-8 bytes.
///
/// It reads the few envelope tokens of an OCPP-J frame and skips (while validating) everything else,
/// reporting where each value starts and ends so payloads can be handed on as raw bytes.
struct JSONScanner: ~Copyable {
    /// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
    static let maximumDepth = 64

    struct Failure: Error {
        var reason: String
    }

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index: Int = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index >= bytes.count }

    /// Moves to `position` (a position this scanner found itself).
    mutating func advance(to position: Int) {
        index = position
    }

    /// The next byte after white space, without consuming it.
    mutating func peekSignificant() -> UInt8? {
        skipWhitespace()
        return isAtEnd ? nil : bytes[index]
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after white space) if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        guard peekSignificant() == byte else { return false }
        index += 1
        return true
    }

    /// Skips one complete JSON value, validating it, and returns its byte range.
    mutating func skipValue(depth: Int = 0) throws(Failure) -> Range<Int> {
        guard let first = peekSignificant() else { throw Failure(reason: "unexpected end of JSON") }
        let start = index
        switch first {
        case UInt8(ascii: "{"):
            try skipObject(depth: depth)
        case UInt8(ascii: "["):
            try skipArray(depth: depth)
        case UInt8(ascii: "\""):
            _ = try scanString(decode: false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        case UInt8(ascii: "t"):
            try skipLiteral("true")
        case UInt8(ascii: "f"):
            try skipLiteral("false")
        case UInt8(ascii: "n"):
            try skipLiteral("null")
        default:
            throw Failure(reason: "unexpected character '\(Self.printable(first))' at offset \(index)")
        }
        return start..<index
    }

    private mutating func skipObject(depth: Int) throws(Failure) {
        guard depth < Self.maximumDepth else { throw Failure(reason: "JSON nested deeper than \(Self.maximumDepth)") }
        index += 1  // {
        if consume(UInt8(ascii: "}")) { return }
        while true {
            guard peekSignificant() == UInt8(ascii: "\"") else {
                throw Failure(reason: "expected an object key at offset \(index)")
            }
            _ = try scanString(decode: false)
            guard consume(UInt8(ascii: ":")) else { throw Failure(reason: "expected ':' at offset \(index)") }
            _ = try skipValue(depth: depth + 1)
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return }
            throw Failure(reason: "expected ',' or '}' at offset \(index)")
        }
    }

    private mutating func skipArray(depth: Int) throws(Failure) {
        guard depth < Self.maximumDepth else { throw Failure(reason: "JSON nested deeper than \(Self.maximumDepth)") }
        index += 1  // [
        if consume(UInt8(ascii: "]")) { return }
        while true {
            _ = try skipValue(depth: depth + 1)
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return }
            throw Failure(reason: "expected ',' or ']' at offset \(index)")
        }
    }

    private mutating func skipLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Failure(reason: "unexpected end of JSON") }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != expected[offset] {
            throw Failure(reason: "invalid literal at offset \(index)")
        }
        index += count
    }

    private mutating func skipNumber() throws(Failure) {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard let first = byte(at: index), Self.isDigit(first) else {
            throw Failure(reason: "invalid number at offset \(start)")
        }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if byte(at: index) == UInt8(ascii: ".") {
            index += 1
            guard let digit = byte(at: index), Self.isDigit(digit) else {
                throw Failure(reason: "invalid number at offset \(start)")
            }
            skipDigits()
        }
        if let e = byte(at: index), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            index += 1
            if let sign = byte(at: index), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let digit = byte(at: index), Self.isDigit(digit) else {
                throw Failure(reason: "invalid number at offset \(start)")
            }
            skipDigits()
        }
    }

    private mutating func skipDigits() {
        while let digit = byte(at: index), Self.isDigit(digit) { index += 1 }
    }

    /// Scans a string token; with `decode`, returns its value with escapes resolved.
    mutating func scanString(decode: Bool) throws(Failure) -> String? {
        guard peekSignificant() == UInt8(ascii: "\"") else { throw Failure(reason: "expected a string at offset \(index)") }
        index += 1
        let contentStart = index
        var hasEscapes = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let contentEnd = index
                index += 1
                guard decode else { return nil }
                let content = UnsafeBufferPointer(rebasing: bytes[contentStart..<contentEnd])
                return hasEscapes ? try Self.unescape(content) : String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                hasEscapes = true
                index += 1
                guard let escaped = self.byte(at: index) else { break }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    guard index + 4 < bytes.count, (1...4).allSatisfy({ ASCII.hexValue(bytes[index + $0]) != nil }) else {
                        throw Failure(reason: "invalid \\u escape at offset \(index)")
                    }
                    index += 5
                default:
                    throw Failure(reason: "invalid escape at offset \(index)")
                }
            case 0x00..<0x20:
                throw Failure(reason: "control character in string at offset \(index)")
            default:
                index += 1
            }
        }
        throw Failure(reason: "unterminated string")
    }

    private static func unescape(_ content: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var i = 0
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for k in 0..<4 { value = value << 4 | UInt32(ASCII.hexValue(content[at + k]) ?? 0) }
            return value
        }
        while i < content.count {
            let byte = content[i]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                i += 1
                continue
            }
            let escaped = content[i + 1]
            i += 2
            switch escaped {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(code), i + 5 < content.count, content[i] == UInt8(ascii: "\\"),
                    content[i + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: utf8.append(escaped)  // " \ /
            }
        }
        flush()
        return String(scalars)
    }

    /// Reads an integer token if one is next: JSON's integers only (no fraction, no exponent, no leading zero).
    mutating func scanInteger() -> Int? {
        guard let first = peekSignificant(), first == UInt8(ascii: "-") || Self.isDigit(first) else { return nil }
        let start = index
        var value = 0
        var negative = false
        if first == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var digits = 0
        while let digit = byte(at: index), Self.isDigit(digit) {
            guard digits < 18 else { index = start; return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        // Not JSON's integers: none, a leading zero ("01", which JSON does not allow), or a fraction or exponent.
        let leadingZero = digits > 1 && bytes[start + (negative ? 1 : 0)] == UInt8(ascii: "0")
        if digits == 0 || leadingZero
            || byte(at: index).map({ $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) == true {
            index = start
            return nil
        }
        return negative ? -value : value
    }

    private func byte(at position: Int) -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }


    private static func printable(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16, uppercase: true)
    }
}
