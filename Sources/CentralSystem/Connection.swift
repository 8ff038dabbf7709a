import Foundation

/// The transport to one charger, as the central system sees it: a WebSocket in production, a fake in tests.
public protocol OCPPConnection: AnyObject, Sendable {
    /// Sends one OCPP-J frame as a text message.
    func send(_ frame: Data) async throws
    /// Closes the connection (with the WebSocket close code that fits `reason`) and returns why it ends: `reason`,
    /// or the cause it was already closing for (a charger replaced while its connection was being closed for a
    /// message too large ended because of that message).
    @discardableResult
    func close(because reason: DisconnectReason) async -> DisconnectReason
}

/// Why a charger's connection ended.
public enum DisconnectReason: Sendable, Hashable, CustomStringConvertible {
    /// The charger closed with 1000.
    case normalClosure
    /// The charger closed with 1001 (going away), or the gateway is shutting down.
    case goingAway
    /// No pong to our ping, or no traffic, within the keep-alive deadline.
    case timeout
    /// The same station id connected again; this connection was closed in favour of the new one.
    case replaced
    /// The charger broke the WebSocket protocol.
    case protocolError
    /// A message over the frame limit (closed with 1009).
    case messageTooLarge
    /// A binary frame (closed with 1003).
    case unsupportedData
    /// The TCP connection ended without a close handshake.
    case connectionLost
    /// The charger closed with another code.
    case closed(code: UInt16)
    /// Relay mode: the upstream central system stayed away past `RELAY_OFFLINE_GRACE` (closed with 1013, try again
    /// later), so the charger's own offline rules keep its messages.
    case upstreamUnavailable

    /// A short name for logs and the test console, in snake_case (`going_away`). What MQTT publishes as
    /// `disconnect_reason` is the bridge's to choose (`StateValue.disconnectReason`); today the two agree.
    public var description: String {
        switch self {
        case .normalClosure: "normal_closure"
        case .goingAway: "going_away"
        case .timeout: "timeout"
        case .replaced: "replaced"
        case .protocolError: "protocol_error"
        case .messageTooLarge: "message_too_large"
        case .unsupportedData: "unsupported_data"
        case .connectionLost: "connection_lost"
        case .closed(let code): "closed_\(code)"
        case .upstreamUnavailable: "upstream_unavailable"
        }
    }
}

/// An OCPP version a charger speaks, named by its WebSocket subprotocol.
public enum OCPPVersion: String, Sendable, Hashable, CaseIterable {
    case v16 = "ocpp1.6"
    case v201 = "ocpp2.0.1"

    /// How MQTT, `bridge/stations` and `/api/stations` name it (`1.6`, `2.0.1`).
    public var number: String { self == .v16 ? "1.6" : "2.0.1" }
}

/// Facts about a charger's connection.
public struct ConnectionInfo: Sendable, Hashable {
    /// The remote address, for logs (`203.0.113.5:51234`).
    public var remoteAddress: String
    /// The negotiated subprotocol; `nil` when the charger offered none and was accepted as OCPP 1.6.
    public var subprotocol: String?
    /// The charger's `Authorization` header, for relay mode's `RELAY_AUTH=forward` (it goes to the upstream central
    /// system and nowhere else). Never logged.
    public var authorization: String?

    /// The version the connection speaks: 1.6 unless 2.0.1 was negotiated.
    public var version: OCPPVersion { subprotocol == OCPPVersion.v201.rawValue ? .v201 : .v16 }

    public init(remoteAddress: String, subprotocol: String?, authorization: String? = nil) {
        self.remoteAddress = remoteAddress
        self.subprotocol = subprotocol
        self.authorization = authorization
    }
}
