/// An OCPP 1.6 enumeration: its raw values are the spec's strings.
///
/// Decoding a value that is not one of them fails with `PropertyConstraintViolation` and names the allowed values.
public protocol SpecEnum: RawRepresentable, CaseIterable, Codable, Hashable, Sendable, CustomStringConvertible
where RawValue == String {}

extension SpecEnum {
    public init(from decoder: any Decoder) throws {
        if decoder.userInfo[.fieldNameProbe] != nil, let first = Self.allCases.first {
            self = first
            return
        }
        try self.init(specValueFrom: decoder)
    }

    public var description: String { rawValue }

    /// The value's position in `allCases`. An enum without payloads stores exactly that, its case's index in
    /// declaration order (one byte up to 256 cases), so it is read from the value: no string, no search. Any other
    /// conforming type is looked up by raw value.
    @inlinable public var ordinal: Int {
        if MemoryLayout<Self>.size == 1 {
            return Int(unsafeBitCast(self, to: UInt8.self))
        }
        return Self.lookUpOrdinal(rawValue)
    }

    @usableFromInline static func lookUpOrdinal(_ rawValue: String) -> Int {
        Self.allCases.enumerated().first { $0.element.rawValue == rawValue }!.offset
    }

    // Equality and hashing by position. Without these, the defaults for raw-value types compare and hash the
    // raw value: a string made and hashed per lookup (the state model's table of meter parameters spent more on
    // that than on the rest of the lookup).
    @inlinable public static func == (lhs: Self, rhs: Self) -> Bool { lhs.ordinal == rhs.ordinal }

    @inlinable public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }

    /// Looks a value up ignoring case (`"soft"` finds `Soft`), for values typed by people.
    public init?(caseInsensitive text: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(text) == .orderedSame })
        else { return nil }
        self = match
    }
}
