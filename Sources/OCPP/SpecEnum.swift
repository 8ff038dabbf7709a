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

    /// Looks a value up ignoring case (`"soft"` finds `Soft`), for values typed by people.
    public init?(caseInsensitive text: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(text) == .orderedSame })
        else { return nil }
        self = match
    }
}
