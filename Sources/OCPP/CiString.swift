/// The maximum length of a ``CiString``, as a type.
public protocol CiStringLimit: Sendable {
    static var maximumLength: Int { get }
}

public enum Limit20: CiStringLimit { public static let maximumLength = 20 }
public enum Limit25: CiStringLimit { public static let maximumLength = 25 }
public enum Limit50: CiStringLimit { public static let maximumLength = 50 }
public enum Limit255: CiStringLimit { public static let maximumLength = 255 }
public enum Limit500: CiStringLimit { public static let maximumLength = 500 }

/// A case-insensitive string with a maximum length, OCPP 1.6's `CiStringNType`.
///
/// Decoding a longer string fails with `PropertyConstraintViolation`; so does ``init(_:)``, which is how values
/// from outside (MQTT commands) become message fields, so an over-long value is never sent.
public struct CiString<Limit: CiStringLimit>: Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let value: String

    /// Wraps `value`, or throws if it is longer than the limit.
    public init(_ value: String) throws(PayloadDecodingError) {
        guard value.unicodeScalars.count <= Limit.maximumLength else {
            throw PayloadDecodingError(
                code: .propertyConstraintViolation,
                reason: "'\(value.prefix(24))…' is longer than \(Limit.maximumLength) characters")
        }
        self.value = value
    }

    /// Wraps a literal; a literal over the limit is a programming error.
    public init(stringLiteral value: String) {
        precondition(value.unicodeScalars.count <= Limit.maximumLength, "CiString literal over its limit")
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard text.unicodeScalars.count <= Limit.maximumLength else {
            throw PayloadDecodingError(
                code: .propertyConstraintViolation,
                reason: "\(PayloadCoding.path(decoder.codingPath)): longer than \(Limit.maximumLength) characters")
        }
        self.value = text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public var description: String { value }
}

public typealias CiString20 = CiString<Limit20>
public typealias CiString25 = CiString<Limit25>
public typealias CiString50 = CiString<Limit50>
public typealias CiString255 = CiString<Limit255>
public typealias CiString500 = CiString<Limit500>
