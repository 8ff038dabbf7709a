import Foundation

/// Why a payload did not match its message type, with the CallError code OCPP-J 1.6 names for it.
public struct PayloadDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: CallErrorCode
    /// What was wrong, with the path of the offending field (`meterValue[0].sampledValue[1].unit`).
    public var reason: String

    public init(code: CallErrorCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

/// Turns raw payloads into typed messages and back.
///
/// Decoding is lenient where the spec allows it (unknown fields are ignored, date-times without a time zone are
/// read as UTC) and precise where it is not: each fault maps to the CallError code of OCPP-J 1.6 table 7.
/// Encoding writes only the fields a message has, so what the gateway sends is valid against the official schemas.
public enum PayloadCoding {
    /// Decodes a payload into `type`.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: RawJSON) throws(PayloadDecodingError) -> T {
        if let value = FastPath.decode(type, from: payload) { return value }
        return try decodeGenerally(type, from: payload)
    }

    /// The general path: Foundation's decoder, every fault classified. Internal for the equivalence tests.
    static func decodeGenerally<T: Decodable>(_ type: T.Type, from payload: RawJSON) throws(PayloadDecodingError) -> T {
        do {
            return try makeDecoder().decode(type, from: payload.bytes)
        } catch let error as PayloadDecodingError {
            throw error
        } catch let error as DecodingError {
            throw classify(error)
        } catch {
            throw PayloadDecodingError(code: .formationViolation, reason: "payload could not be read: \(error)")
        }
    }

    /// Encodes a message as a payload.
    public static func encode<T: Encodable>(_ value: T) throws(PayloadDecodingError) -> RawJSON {
        if let payload = FastPath.encode(value) { return payload }
        return try encodeGenerally(value)
    }

    static func encodeGenerally<T: Encodable>(_ value: T) throws(PayloadDecodingError) -> RawJSON {
        do {
            return RawJSON(validatedBytes: try makeEncoder().encode(value))
        } catch let error as PayloadDecodingError {
            throw error
        } catch {
            throw PayloadDecodingError(code: .internalError, reason: "payload could not be written: \(error)")
        }
    }

    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = OCPPDateTime.parse(text) else {
                throw PayloadDecodingError(
                    code: .propertyConstraintViolation,
                    reason: "\(path(decoder.codingPath)): '\(text)' is not an ISO 8601 date-time")
            }
            return date
        }
        return decoder
    }

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(OCPPDateTime.format(date))
        }
        return encoder
    }

    static func classify(_ error: DecodingError) -> PayloadDecodingError {
        switch error {
        case .typeMismatch(let type, let context):
            return PayloadDecodingError(
                code: .typeConstraintViolation,
                reason: "\(path(context.codingPath)): expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return PayloadDecodingError(
                code: .occurenceConstraintViolation,
                reason: "\(path(context.codingPath)): required \(typeName(type)) is null")
        case .keyNotFound(let key, let context):
            return PayloadDecodingError(
                code: .occurenceConstraintViolation,
                reason: "\(path(context.codingPath + [key])): required field is missing")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                // Payloads come from frames whose JSON the frame codec has checked already: what Foundation cannot
                // read at the top is a number that does not fit its field (a fraction, or more than 64 bits, where OCPP
                // has an integer), which it reports without the field's path.
                return PayloadDecodingError(
                    code: .typeConstraintViolation,
                    reason: "a number does not fit its field (a fraction, or more than 64 bits, where an integer is expected)")
            }
            return PayloadDecodingError(
                code: .propertyConstraintViolation,
                reason: "\(path(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return PayloadDecodingError(code: .formationViolation, reason: "\(error)")
        }
    }

    /// `meterValue[0].sampledValue[1].unit` from a coding path.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out.isEmpty ? "payload" : out
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int32.Type, is Int64.Type: "an integer"
        case is Double.Type, is Decimal.Type: "a number"
        case is Bool.Type: "a boolean"
        case is [Any].Type: "an array"
        default:
            String(describing: type).hasPrefix("Dictionary") ? "an object" : "\(type)"
        }
    }
}

/// Decodes an enum from its spec value and names the allowed values when it is not one of them.
extension RawRepresentable where Self: CaseIterable, RawValue == String {
    init(specValueFrom decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(rawValue: text) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw PayloadDecodingError(
                code: .propertyConstraintViolation,
                reason: "\(PayloadCoding.path(decoder.codingPath)): '\(text)' is not one of \(allowed)")
        }
        self = value
    }
}

extension Array {
    /// Checks a `minItems: 1` constraint of the schema.
    func requireNonEmpty(_ decoder: any Decoder, key: any CodingKey) throws -> Self {
        if isEmpty {
            throw PayloadDecodingError(
                code: .occurenceConstraintViolation,
                reason: "\(PayloadCoding.path(decoder.codingPath + [key])): needs at least one element")
        }
        return self
    }
}
