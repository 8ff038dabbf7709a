import OCPP

/// Why a CALL to a charger did not produce a response.
public struct CommandError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The station is not connected.
        case notConnected = "not_connected"
        /// The charger did not answer within the call timeout.
        case timeout
        /// The connection ended before the charger answered.
        case connectionLost = "connection_lost"
        /// The charger answered with a CALLERROR.
        case callError = "call_error"
        /// The request could not be built (a field out of its constraints).
        case invalidRequest = "invalid_request"
        /// The charger's answer did not match the response schema.
        case invalidResponse = "invalid_response"
    }

    public var kind: Kind
    public var message: String
    /// The charger's CALLERROR, for ``Kind/callError``.
    public var callError: CallError?

    public init(_ kind: Kind, _ message: String, callError: CallError? = nil) {
        self.kind = kind
        self.message = message
        self.callError = callError
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    public static func notConnected(_ station: String) -> CommandError {
        CommandError(.notConnected, "station '\(station)' is not connected")
    }
}
