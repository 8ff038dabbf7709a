import Foundation
import OCPP

/// Something that happened at a station, for the MQTT bridge and other observers.
public enum CentralSystemEvent: Sendable {
    /// A charger connected (replacing an earlier connection of the same station, if there was one).
    case connected(station: String, info: ConnectionInfo)
    /// A charger's connection ended.
    case disconnected(station: String, reason: DisconnectReason)
    /// A charger sent a message, and this is how the central system answered it.
    case message(station: String, ChargePointMessage)
    /// The `charging_enabled` switch of a station changed.
    case chargingEnabledChanged(station: String, enabled: Bool)
    /// Relay mode: the station's connection to the upstream central system changed.
    case upstream(station: String, UpstreamStatus)
    /// Relay mode: how many messages wait for the upstream, or the ids of the station's open transactions changed.
    case upstreamDetail(station: String, UpstreamDetail)

    /// The station the event is about.
    public var station: String {
        switch self {
        case .connected(let station, _), .disconnected(let station, _), .message(let station, _),
            .chargingEnabledChanged(let station, _), .upstream(let station, _), .upstreamDetail(let station, _):
            station
        }
    }
}

/// A message from a charger, typed, with the central system's answer where the answer carries information.
public enum ChargePointMessage: Sendable {
    case authorize(AuthorizeRequest, AuthorizeResponse)
    case bootNotification(BootNotificationRequest, BootNotificationResponse)
    case dataTransfer(DataTransferRequest, DataTransferResponse)
    case diagnosticsStatusNotification(DiagnosticsStatusNotificationRequest)
    case firmwareStatusNotification(FirmwareStatusNotificationRequest)
    case heartbeat(HeartbeatResponse)
    /// Meter values with every sampled value normalised.
    case meterValues(MeterValuesRequest, samples: [MeterSample])
    case startTransaction(StartTransactionRequest, StartTransactionResponse)
    case statusNotification(StatusNotificationRequest)
    /// A transaction stopped; `transaction` is the central system's record of its start, when it knew it,
    /// and `samples` the normalised transaction data.
    case stopTransaction(StopTransactionRequest, StopTransactionResponse, transaction: Transaction?, samples: [MeterSample])
    case securityEventNotification(SecurityEventNotificationRequest)
    case signedFirmwareStatusNotification(SignedFirmwareStatusNotificationRequest)
    case logStatusNotification(LogStatusNotificationRequest)
    /// A message on an OCPP 2.0.1 connection.
    case v201(Message201)

    /// The action's spec name.
    public var actionName: String {
        if case .v201(let message) = self { return message.action }
        return action!.rawValue
    }

    /// The device facts of a BootNotification, of either version.
    public var bootFacts: BootFacts? {
        switch self {
        case .bootNotification(let request, _):
            BootFacts(vendor: request.chargePointVendor.value, model: request.chargePointModel.value,
                      serialNumber: (request.chargePointSerialNumber ?? request.chargeBoxSerialNumber)?.value,
                      firmwareVersion: request.firmwareVersion?.value)
        case .v201(.bootNotification(let boot)):
            BootFacts(vendor: boot.vendor, model: boot.model, serialNumber: boot.serialNumber, firmwareVersion: boot.firmwareVersion)
        default:
            nil
        }
    }

    /// The 1.6 action; nil for a 2.0.1 message.
    public var action: Action? {
        switch self {
        case .authorize: .authorize
        case .bootNotification: .bootNotification
        case .dataTransfer: .dataTransfer
        case .diagnosticsStatusNotification: .diagnosticsStatusNotification
        case .firmwareStatusNotification: .firmwareStatusNotification
        case .heartbeat: .heartbeat
        case .meterValues: .meterValues
        case .startTransaction: .startTransaction
        case .statusNotification: .statusNotification
        case .stopTransaction: .stopTransaction
        case .securityEventNotification: .securityEventNotification
        case .signedFirmwareStatusNotification: .signedFirmwareStatusNotification
        case .logStatusNotification: .logStatusNotification
        case .v201: nil
        }
    }
}

/// Relay mode: where a station's connection to the upstream central system stands (`<S>/relay/state`).
public struct UpstreamStatus: Sendable, Hashable {
    public enum State: String, Sendable {
        /// Up: the upstream answers the charger's messages.
        case connected
        /// Being made (at the charger's connection, or again after it dropped).
        case connecting
        /// Away for longer than `RELAY_OFFLINE_GRACE`: the gateway answers in its place (or closed the charger, with
        /// `RELAY_OFFLINE_MODE=close`), and keeps trying.
        case offline
        /// No upstream connection, as none is needed: the charger is not connected.
        case disabled
    }

    public var state: State
    /// Why the last attempt failed or the connection ended, if it did (`<S>/relay/last_error`).
    public var lastError: String?

    public init(_ state: State, lastError: String? = nil) {
        self.state = state
        self.lastError = lastError
    }
}

/// Relay mode: what waits for the upstream, and how the gateway's transaction ids map to the upstream's.
public enum UpstreamDetail: Sendable, Hashable {
    /// Messages the upstream has not seen yet (`<S>/relay/queue`).
    case queue(Int)
    /// The station's open transactions: the id the charger uses and the upstream's, nil while the upstream has not
    /// given one (a start the gateway answered in its place, not replayed yet) (`<S>/relay/transactions`).
    case transactions([LinkedTransaction])
    /// The station's secondary central systems: where each connection stands and what waits for it
    /// (`<S>/relay/secondaries`).
    case secondaries([SecondaryStatus])
    /// Which backend holds control of the shared station now (`<S>/relay/control`; nil: none).
    case control(holder: String?)
    /// A backend's call refused by the sharing rules (`<S>/relay/event`, not retained): who, what, why, and who held
    /// control.
    case refused(backend: String, action: String, reason: String, holder: String?)
}

/// One secondary central system of a station, as MQTT shows it.
public struct SecondaryStatus: Sendable, Hashable {
    public var url: String
    public var state: UpstreamStatus.State
    public var queued: Int
    public var lastError: String?

    public init(url: String, state: UpstreamStatus.State, queued: Int, lastError: String? = nil) {
        self.url = url
        self.state = state
        self.queued = queued
        self.lastError = lastError
    }
}

/// An open transaction's two ids in relay mode: the same unless the gateway answered its start in the upstream's place.
public struct LinkedTransaction: Sendable, Hashable {
    public var connectorId: Int
    public var local: Int
    public var upstream: Int?

    public init(connectorId: Int, local: Int, upstream: Int?) {
        self.connectorId = connectorId
        self.local = local
        self.upstream = upstream
    }
}
