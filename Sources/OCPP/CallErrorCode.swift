/// The error code of an OCPP-J CALLERROR, as listed in OCPP-J 1.6 section 4.2.3, table 7.
///
/// An open set: a charger may send a code this gateway does not know; it is kept as it came.
public struct CallErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// `NotImplemented`: the requested action is not known by the receiver.
    public static let notImplemented = CallErrorCode(rawValue: "NotImplemented")
    /// `NotSupported`: the requested action is recognised but not supported by the receiver.
    public static let notSupported = CallErrorCode(rawValue: "NotSupported")
    /// `InternalError`: an internal error occurred and the receiver could not process the action.
    public static let internalError = CallErrorCode(rawValue: "InternalError")
    /// `ProtocolError`: the payload for the action is incomplete.
    public static let protocolError = CallErrorCode(rawValue: "ProtocolError")
    /// `SecurityError`: a security issue prevented the receiver from completing the action.
    public static let securityError = CallErrorCode(rawValue: "SecurityError")
    /// `FormationViolation`: the payload is syntactically incorrect or does not conform to the PDU structure.
    public static let formationViolation = CallErrorCode(rawValue: "FormationViolation")
    /// `PropertyConstraintViolation`: a field holds a value outside its constraints (enum, length, range).
    public static let propertyConstraintViolation = CallErrorCode(rawValue: "PropertyConstraintViolation")
    /// `OccurenceConstraintViolation` (the spec's spelling): a required field is missing, or occurs too often.
    public static let occurenceConstraintViolation = CallErrorCode(rawValue: "OccurenceConstraintViolation")
    /// `TypeConstraintViolation`: a field holds a value of the wrong type (a string where a number belongs).
    public static let typeConstraintViolation = CallErrorCode(rawValue: "TypeConstraintViolation")
    /// `GenericError`: any other error.
    public static let genericError = CallErrorCode(rawValue: "GenericError")

    /// OCPP-J 2.0.1 (section 4.3) renamed two codes and added two; on a 2.0.1 connection these are the names.
    /// `FormatViolation`: the payload is not syntactically correct or does not conform to the PDU structure.
    public static let formatViolation = CallErrorCode(rawValue: "FormatViolation")
    /// `OccurrenceConstraintViolation` (2.0.1's spelling): a required field is missing, or occurs too often.
    public static let occurrenceConstraintViolation = CallErrorCode(rawValue: "OccurrenceConstraintViolation")
    /// `RpcFrameworkError`: the content of the call is not a valid RPC request (the message type id is unreadable).
    public static let rpcFrameworkError = CallErrorCode(rawValue: "RpcFrameworkError")
    /// `MessageTypeNotSupported`: a message type number the receiver does not know.
    public static let messageTypeNotSupported = CallErrorCode(rawValue: "MessageTypeNotSupported")

    /// Every code of OCPP-J 2.0.1's table, in the spec's order.
    public static let allSpecified201: [CallErrorCode] = [
        .formatViolation, .genericError, .internalError, .messageTypeNotSupported, .notImplemented, .notSupported,
        .occurrenceConstraintViolation, .propertyConstraintViolation, .protocolError, .rpcFrameworkError, .securityError,
        .typeConstraintViolation,
    ]

    /// Every code of table 7, in the spec's order.
    public static let allSpecified: [CallErrorCode] = [
        .notImplemented, .notSupported, .internalError, .protocolError, .securityError, .formationViolation,
        .propertyConstraintViolation, .occurenceConstraintViolation, .typeConstraintViolation, .genericError,
    ]
}
