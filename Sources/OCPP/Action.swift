/// Who may send an action.
public enum Initiator: Sendable, Hashable {
    case chargePoint
    case centralSystem
    case both
}

/// Every action name of OCPP 1.6 edition 2 and of the 1.6 security whitepaper.
///
/// A name in this list is "known": if the gateway does not handle it, a charger that sends it gets
/// `NotSupported`; a name not in this list gets `NotImplemented` (OCPP-J 1.6 table 7).
public enum Action: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    // Initiated by the charge point.
    case authorize = "Authorize"
    case bootNotification = "BootNotification"
    case diagnosticsStatusNotification = "DiagnosticsStatusNotification"
    case firmwareStatusNotification = "FirmwareStatusNotification"
    case heartbeat = "Heartbeat"
    case meterValues = "MeterValues"
    case startTransaction = "StartTransaction"
    case statusNotification = "StatusNotification"
    case stopTransaction = "StopTransaction"
    // Either side.
    case dataTransfer = "DataTransfer"
    // Initiated by the central system.
    case cancelReservation = "CancelReservation"
    case changeAvailability = "ChangeAvailability"
    case changeConfiguration = "ChangeConfiguration"
    case clearCache = "ClearCache"
    case clearChargingProfile = "ClearChargingProfile"
    case getCompositeSchedule = "GetCompositeSchedule"
    case getConfiguration = "GetConfiguration"
    case getDiagnostics = "GetDiagnostics"
    case getLocalListVersion = "GetLocalListVersion"
    case remoteStartTransaction = "RemoteStartTransaction"
    case remoteStopTransaction = "RemoteStopTransaction"
    case reserveNow = "ReserveNow"
    case reset = "Reset"
    case sendLocalList = "SendLocalList"
    case setChargingProfile = "SetChargingProfile"
    case triggerMessage = "TriggerMessage"
    case unlockConnector = "UnlockConnector"
    case updateFirmware = "UpdateFirmware"
    // Security whitepaper, initiated by the charge point.
    case logStatusNotification = "LogStatusNotification"
    case securityEventNotification = "SecurityEventNotification"
    case signCertificate = "SignCertificate"
    case signedFirmwareStatusNotification = "SignedFirmwareStatusNotification"
    // Security whitepaper, initiated by the central system.
    case certificateSigned = "CertificateSigned"
    case deleteCertificate = "DeleteCertificate"
    case extendedTriggerMessage = "ExtendedTriggerMessage"
    case getInstalledCertificateIds = "GetInstalledCertificateIds"
    case getLog = "GetLog"
    case installCertificate = "InstallCertificate"
    case signedUpdateFirmware = "SignedUpdateFirmware"

    public var description: String { rawValue }

    public var initiator: Initiator {
        switch self {
        case .authorize, .bootNotification, .diagnosticsStatusNotification, .firmwareStatusNotification, .heartbeat,
            .meterValues, .startTransaction, .statusNotification, .stopTransaction, .logStatusNotification,
            .securityEventNotification, .signCertificate, .signedFirmwareStatusNotification:
            .chargePoint
        case .dataTransfer:
            .both
        default:
            .centralSystem
        }
    }

    /// StartTransaction, StopTransaction and MeterValues: the messages a charger keeps and sends again until the
    /// central system answers them (OCPP 1.6 section 3.7, "Transaction-related messages").
    public var isTransactionRelated: Bool {
        self == .startTransaction || self == .stopTransaction || self == .meterValues
    }

    /// The 28 actions of OCPP 1.6 edition 2 (without the security whitepaper).
    public static let core: [Action] = allCases.filter { !$0.isSecurityExtension }

    public var isSecurityExtension: Bool {
        switch self {
        case .logStatusNotification, .securityEventNotification, .signCertificate, .signedFirmwareStatusNotification,
            .certificateSigned, .deleteCertificate, .extendedTriggerMessage, .getInstalledCertificateIds, .getLog,
            .installCertificate, .signedUpdateFirmware:
            true
        default:
            false
        }
    }
}

/// A request message: the payload of a CALL.
public protocol OCPPRequest: Codable, Hashable, Sendable {
    associatedtype Response: OCPPResponse
    /// The action this request is sent as.
    static var action: Action { get }
}

/// A response message: the payload of a CALLRESULT.
public protocol OCPPResponse: Codable, Hashable, Sendable {}

/// How commands name the spec's actions and fields.
public enum SpecNames {
    /// `RemoteStartTransaction` -> `remote_start_transaction`, `connectorId` -> `connector_id`.
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                if !out.isEmpty { out.append("_") }
                out.append(contentsOf: character.lowercased())
            } else {
                out.append(character)
            }
        }
        return out
    }
}
