import Foundation

extension RawJSON {
    /// The integer at `path` (object keys from the top), or nil when there is none there (no such member, not an
    /// object on the way, not an integer).
    public func integer(at path: [String]) -> Int? {
        guard let range = range(of: path) else { return nil }
        return bytes.withUnsafeBytes { raw -> Int? in
            var scanner = JSONScanner(raw.bindMemory(to: UInt8.self))
            scanner.advance(to: range.lowerBound)
            guard let value = scanner.scanInteger() else { return nil }
            return scanner.index == range.upperBound ? value : nil
        }
    }

    /// The same JSON with the integer at `path` replaced by `value`, every other byte as it was (the charger's
    /// timestamps and number formats are kept); nil when `path` holds no integer.
    public func replacingInteger(at path: [String], with value: Int) -> RawJSON? {
        guard integer(at: path) != nil, let range = range(of: path) else { return nil }
        var replaced = bytes
        let start = replaced.startIndex
        replaced.replaceSubrange((start + range.lowerBound)..<(start + range.upperBound), with: Data(String(value).utf8))
        return RawJSON(validatedBytes: replaced)
    }

    /// The string at `path`, escapes resolved; nil when there is none there.
    public func string(at path: [String]) -> String? {
        guard let range = range(of: path) else { return nil }
        return bytes.withUnsafeBytes { raw -> String? in
            var scanner = JSONScanner(raw.bindMemory(to: UInt8.self))
            scanner.advance(to: range.lowerBound)
            return try? scanner.scanString(decode: true)
        }
    }

    /// The same JSON with the string at `path` replaced by `value`, every other byte as it was; nil when `path`
    /// holds no string.
    public func replacingString(at path: [String], with value: String) -> RawJSON? {
        guard string(at: path) != nil, let range = range(of: path) else { return nil }
        var replaced = bytes
        let start = replaced.startIndex
        var quoted: [UInt8] = []
        JSONString.append(value, to: &quoted)
        replaced.replaceSubrange((start + range.lowerBound)..<(start + range.upperBound), with: quoted)
        return RawJSON(validatedBytes: replaced)
    }

    /// Where the value at `path` stands in ``bytes``: the first member of that name at each level.
    private func range(of path: [String]) -> Range<Int>? {
        bytes.withUnsafeBytes { raw -> Range<Int>? in
            var scanner = JSONScanner(raw.bindMemory(to: UInt8.self))
            do throws(JSONScanner.Failure) {
                for (level, key) in path.enumerated() {
                    guard scanner.consume(UInt8(ascii: "{")) else { return nil }
                    var found = false
                    if scanner.consume(UInt8(ascii: "}")) { return nil }
                    while !found {
                        guard let name = try scanner.scanString(decode: true), scanner.consume(UInt8(ascii: ":")) else { return nil }
                        if name == key {
                            found = true
                            if level == path.count - 1 { return try scanner.skipValue() }
                        } else {
                            _ = try scanner.skipValue()
                            guard scanner.consume(UInt8(ascii: ",")) else { return nil }
                        }
                    }
                }
            } catch {
                return nil
            }
            return nil
        }
    }
}
