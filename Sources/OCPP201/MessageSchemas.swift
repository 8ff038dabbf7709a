import OCPP
import Synchronization

/// Whether an OCPP 2.0.1 request or response fits its action's official schema (`OCPP201Schemas`, shipped in the
/// binary). Each schema is compiled the first time its action is checked, and kept.
///
/// ```swift
/// switch MessageSchemas201.shared.check("BootNotification", .request, json: payload) {
/// case .fits: ...
/// case .violates(let violation): answer(violation.kind.callErrorCode201, violation.description)
/// case .unknownAction: answer(.notImplemented, ...)
/// }
/// ```
public final class MessageSchemas201: Sendable {
    public enum Direction: Sendable {
        case request
        case response
    }

    public enum Verdict: Equatable, Sendable {
        case fits
        case violates(SchemaViolation)
        /// No 2.0.1 action has this name.
        case unknownAction
    }

    public static let shared = MessageSchemas201()

    private let compiled = Mutex<[String: JSONSchema]>([:])

    /// The actions a charging station sends (DataTransfer goes both ways).
    public static let chargerInitiated: Set<String> = [
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
        "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
        "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
        "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
    ]

    /// The actions a central system sends (DataTransfer included), by spec name.
    public static var centralSystemInitiated: [String] {
        actions.filter { !chargerInitiated.contains($0) || $0 == "DataTransfer" }
    }

    /// Every 2.0.1 action, by its spec name.
    public static var actions: [String] { OCPP201Schemas.requests.keys.sorted() }

    /// The action's schema; nil for an unknown action. A shipped schema that does not compile is a build defect,
    /// which the tests catch for every schema.
    public func schema(_ action: String, _ direction: Direction) -> JSONSchema? {
        let key = (direction == .request ? "request/" : "response/") + action
        if let known = compiled.withLock({ $0[key] }) { return known }
        guard let text = (direction == .request ? OCPP201Schemas.requests : OCPP201Schemas.responses)[action],
              let schema = try? JSONSchema(json: text) else { return nil }
        compiled.withLock { $0[key] = schema }
        return schema
    }

    public func check(_ action: String, _ direction: Direction, json: some Collection<UInt8>) -> Verdict {
        guard let schema = schema(action, direction) else { return .unknownAction }
        return schema.check(json: json).map(Verdict.violates) ?? .fits
    }

    public func check(_ action: String, _ direction: Direction, _ payload: JSONValue) -> Verdict {
        guard let schema = schema(action, direction) else { return .unknownAction }
        return schema.check(payload).map(Verdict.violates) ?? .fits
    }
}
