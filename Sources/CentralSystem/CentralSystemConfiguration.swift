import Foundation
import OCPP

/// How the central system answers chargers.
public struct CentralSystemConfiguration: Sendable {
    /// The heartbeat interval sent in every BootNotification answer (`OCPP_HEARTBEAT_INTERVAL`).
    public var heartbeatInterval: Duration
    /// RFID tags that Authorize and StartTransaction accept (`AUTHORIZED_TAG_ID_LIST`); compared ignoring case,
    /// as OCPP's CiString is.
    public var authorizedTags: [String]
    /// How long a CALL to a charger may stay unanswered before it fails with a timeout (`OCPP_CALL_TIMEOUT`).
    public var callTimeout: Duration
    /// How long an id tag sent in an accepted RemoteStartTransaction is accepted by Authorize and
    /// StartTransaction on that station, even when it is not in `authorizedTags`.
    public var remoteStartAuthorizationWindow: Duration
    /// The highest connector id a station may use (`OCPP_MAX_CONNECTORS`); messages naming a higher one are refused
    /// with `PropertyConstraintViolation` and create no state.
    public var maxConnectors: Int
    /// The most stations remembered (`OCPP_MAX_KNOWN_STATIONS`): a station is remembered from its first message on;
    /// past this a new one is refused (503 at the handshake, `GenericError` to a first message).
    public var maxKnownStations: Int
    /// Answers DataTransfer requests from chargers; when `nil`, they are answered `UnknownVendorId`.
    public var dataTransferHandler: (@Sendable (_ station: String, _ request: DataTransferRequest) -> DataTransferResponse)?

    public init(
        heartbeatInterval: Duration = .seconds(300),
        authorizedTags: [String] = [],
        callTimeout: Duration = .seconds(30),
        remoteStartAuthorizationWindow: Duration = .seconds(300),
        maxConnectors: Int = 8,
        maxKnownStations: Int = 25_000,
        dataTransferHandler: (@Sendable (String, DataTransferRequest) -> DataTransferResponse)? = nil
    ) {
        self.heartbeatInterval = heartbeatInterval
        self.authorizedTags = authorizedTags
        self.callTimeout = callTimeout
        self.remoteStartAuthorizationWindow = remoteStartAuthorizationWindow
        self.maxConnectors = maxConnectors
        self.maxKnownStations = maxKnownStations
        self.dataTransferHandler = dataTransferHandler
    }
}
