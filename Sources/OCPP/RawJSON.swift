import Foundation

/// The bytes of one syntactically valid JSON value, as it stood in a frame.
///
/// Payloads stay raw until their action is known, so a frame is parsed once and its payload is decoded once,
/// straight into its typed message.
public struct RawJSON: Hashable, Sendable, CustomStringConvertible {
    /// The UTF-8 bytes of the value.
    public let bytes: Data

    /// Wraps bytes the caller knows to be one valid JSON value.
    public init(validatedBytes bytes: Data) {
        self.bytes = bytes
    }

    /// The empty JSON object, `{}`.
    public static let emptyObject = RawJSON(validatedBytes: Data("{}".utf8))

    /// The value as text (for logs and tests).
    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the value is a JSON object.
    public var isObject: Bool { bytes.first == UInt8(ascii: "{") }
}
