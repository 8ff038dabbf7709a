import Foundation

/// Any JSON value, with booleans, integers and other numbers kept apart.
public enum JSONValue: Codable, Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text (any value at the top level; white space around it). Integers without a fraction or exponent
    /// that fit an `Int` are `.int`, other numbers `.double`; a key given twice keeps its last value. In one pass of the
    /// project's scanner: Foundation's decoder, through `Codable` and a `try?` per type it tried, cost most of a 2.0.1
    /// message's handling (docs/performance.md).
    public static func parse(_ bytes: some Sequence<UInt8>) -> JSONValue? {
        if let parsed = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0) }) { return parsed }
        return Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var scanner = JSONScanner(buffer)
        guard let value = try? read(&scanner, depth: 0), scanner.peekSignificant() == nil else { return nil }
        return value
    }

    private static func read(_ scanner: inout JSONScanner, depth: Int) throws(JSONScanner.Failure) -> JSONValue {
        guard let first = scanner.peekSignificant() else { throw JSONScanner.Failure(reason: "unexpected end of JSON") }
        switch first {
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maximumDepth else { throw JSONScanner.Failure(reason: "nested too deep") }
            scanner.advance(to: scanner.index + 1)
            var object: [String: JSONValue] = [:]
            if scanner.consume(UInt8(ascii: "}")) { return .object(object) }
            while true {
                guard scanner.peekSignificant() == UInt8(ascii: "\""), let key = try scanner.scanString(decode: true) else {
                    throw JSONScanner.Failure(reason: "expected an object key")
                }
                guard scanner.consume(UInt8(ascii: ":")) else { throw JSONScanner.Failure(reason: "expected ':'") }
                object[key] = try read(&scanner, depth: depth + 1)
                if scanner.consume(UInt8(ascii: ",")) { continue }
                if scanner.consume(UInt8(ascii: "}")) { return .object(object) }
                throw JSONScanner.Failure(reason: "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maximumDepth else { throw JSONScanner.Failure(reason: "nested too deep") }
            scanner.advance(to: scanner.index + 1)
            var array: [JSONValue] = []
            if scanner.consume(UInt8(ascii: "]")) { return .array(array) }
            while true {
                array.append(try read(&scanner, depth: depth + 1))
                if scanner.consume(UInt8(ascii: ",")) { continue }
                if scanner.consume(UInt8(ascii: "]")) { return .array(array) }
                throw JSONScanner.Failure(reason: "expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try scanner.scanString(decode: true) ?? "")
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            _ = try scanner.skipValue(depth: depth)
            return first == UInt8(ascii: "n") ? .null : .bool(first == UInt8(ascii: "t"))
        default:
            let range = try scanner.skipValue(depth: depth)
            let digits = UnsafeBufferPointer(rebasing: scanner.bytes[range])
            let text = String(decoding: digits, as: UTF8.self)
            let integral = !digits.contains { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }
            if integral, let number = Int(text) { return .int(number) }
            guard let number = Double(text), number.isFinite else { throw JSONScanner.Failure(reason: "number out of range") }
            return .double(number)
        }
    }

    /// Compact JSON text with sorted keys.
    /// Compact JSON with sorted keys, written directly (discovery publishes thousands of these at a reconnect
    /// storm). The same text Foundation's encoder writes with `.sortedKeys` and `.withoutEscapingSlashes`, which
    /// a test checks and which still writes the rare non-integral numbers.
    public var text: String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let value): out += (value ? "true" : "false").utf8
        case .int(let value): out += String(value).utf8
        case .double(let value): out += Self.foundationText(value).utf8
        case .string(let value): JSONString.append(value, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.append(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func foundationText(_ value: Double) -> String {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "null", negativeInfinity: "null", nan: "null")
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// The value as an MQTT payload: strings as they are, everything else as JSON.
    public var payload: String {
        if case .string(let value) = self { return value }
        return text
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}

/// Literals, for documents written in code (`["status": "ok", "count": 2]`).
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements) { _, last in last }) }
}

/// Reading parsed documents (a 2.0.1 payload already checked against its schema, a command's arguments).
extension JSONValue {
    /// The member `key` of an object; nil for a missing member and for anything that is not an object.
    public subscript(_ key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// An integer, also one written as a whole double (`3.0`).
    public var intValue: Int? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: Int(value)
        default: nil
        }
    }

    /// Any number.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
