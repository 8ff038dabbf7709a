import OCPP

/// Reads the station id from the request target of a charger's WebSocket handshake.
///
/// The id is `?station=<id>` when given, else the last non-empty path segment (`/ocpp/CP-1` -> `CP-1`),
/// percent-decoded (OCPP-J 1.6 section 3.1.1). Ids that cannot be one MQTT topic level are refused.
public enum StationPath {
    /// The longest station id accepted.
    public static let maximumLength = 128

    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// No id in the path or query.
        case missing
        /// A `%` not followed by two hex digits, or bytes that are not UTF-8.
        case badEncoding
        /// The id contains a character that cannot be in an MQTT topic level (`+`, `#`, `/`) or a control character.
        case forbiddenCharacter(Character)
        /// The id contains a character nobody can see or type: a format character (zero-width space, a direction
        /// mark), a line separator, a private-use or unassigned code point, or whitespace other than a space.
        case invisibleCharacter(Unicode.Scalar)
        /// The id starts or ends with a space.
        case surroundingSpace
        /// `.`, `..`, `bridge` (the gateway's own topics), or an id starting with `$` (the broker's).
        case reserved(String)
        case tooLong

        public var description: String {
            switch self {
            case .missing: "no station id in the URL (expected ws://host:port/<station-id>)"
            case .badEncoding: "the station id is not valid percent-encoded UTF-8"
            case .forbiddenCharacter(let character):
                "the station id contains \(character.unicodeScalars.first.map { $0.value < 0x20 || $0.value == 0x7F } == true ? "a control character" : "'\(character)'"), which cannot be part of an MQTT topic"
            case .invisibleCharacter(let scalar):
                "the station id contains an invisible character (U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
            case .surroundingSpace: "the station id starts or ends with a space"
            case .reserved(let id):
                id.hasPrefix("$") ? "station ids starting with '$' are the broker's (like $SYS)"
                    : "the station id '\(id)' is reserved (it would share topics with the gateway's own or name no station)"
            case .tooLong: "the station id is longer than \(StationPath.maximumLength) characters"
            }
        }
    }

    public static func stationID(fromRequestTarget target: String) -> Result<String, Failure> {
        let path: Substring
        var query: Substring?
        if let mark = target.firstIndex(of: "?") {
            path = target[..<mark]
            query = target[target.index(after: mark)...]
        } else {
            path = target[...]
        }
        var raw: Substring?
        if let query {
            for pair in query.split(separator: "&") where pair.hasPrefix("station=") {
                raw = pair.dropFirst("station=".count)
            }
        }
        if raw == nil || raw?.isEmpty == true {
            raw = path.split(separator: "/", omittingEmptySubsequences: true).last
        }
        guard let raw, !raw.isEmpty else { return .failure(.missing) }
        guard let decoded = percentDecode(raw) else { return .failure(.badEncoding) }
        return validate(decoded)
    }

    /// Checks an already decoded id.
    public static func validate(_ id: String) -> Result<String, Failure> {
        guard !id.isEmpty else { return .failure(.missing) }
        for character in id {
            let forbidden = character == "+" || character == "#" || character == "/"
                || character.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }
            if forbidden { return .failure(.forbiddenCharacter(character)) }
        }
        if let invisible = id.unicodeScalars.first(where: isInvisible) { return .failure(.invisibleCharacter(invisible)) }
        if id.hasPrefix(" ") || id.hasSuffix(" ") { return .failure(.surroundingSpace) }
        if id == "." || id == ".." || id == "bridge" || id.hasPrefix("$") { return .failure(.reserved(id)) }
        guard id.count <= maximumLength else { return .failure(.tooLong) }
        return .success(id)
    }

    /// A code point that shows nothing, or nothing anyone could type back: two ids that look the same must be the same.
    private static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator, .privateUse, .unassigned, .surrogate: true
        case .spaceSeparator: scalar != " "
        default: false
        }
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(ASCII.hexValue), let low = iterator.next().flatMap(ASCII.hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
