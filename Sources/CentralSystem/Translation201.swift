import Foundation
import OCPP

/// How a 1.6 command becomes its OCPP 2.0.1 call on a 2.0.1 station, and how the answer comes back (docs/ocpp201.md
/// has the table). Pure: the caller supplies the ids it needs (`remoteStartId`, a report's `requestId`).
enum Translation201 {
    /// What to send for a 1.6 command.
    enum Plan: Equatable {
        /// Send `action` with `payload`; ``answer(_:to:)`` maps the answer back.
        case call(action: String, payload: JSONValue)
        /// get_configuration without keys: a GetBaseReport, answered by the NotifyReport parts that follow.
        case report(payload: JSONValue, requestId: Int)
    }

    struct Failure: Error, Equatable {
        var message: String
    }

    /// The 1.6 configuration keys most installations set, and the 2.0.1 component and variable that hold the same.
    static let keyAliases: [String: (component: String, variable: String)] = [
        "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
        "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
        "ResetRetries": ("OCPPCommCtrlr", "ResetRetries"),
        "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
        "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
        "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands"),
        "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
        "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands"),
        "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
        "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
        "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId"),
        "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
        "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline"),
        "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize"),
        "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled"),
        "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled"),
    ]

    /// A 1.6 key as a 2.0.1 component and variable: an alias, or `Component/Variable`.
    static func componentVariable(_ key: String) -> (component: String, variable: String)? {
        if let alias = keyAliases[key] { return alias }
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// The key a 2.0.1 component and variable have in get_configuration's answer: the 1.6 alias when there is one.
    static func key(component: String, variable: String) -> String {
        aliasByTarget["\(component)/\(variable)"] ?? "\(component)/\(variable)"
    }

    private static let aliasByTarget: [String: String] = Dictionary(
        keyAliases.map { ("\($0.value.component)/\($0.value.variable)", $0.key) }, uniquingKeysWith: { first, _ in first })

    /// The plan for a 1.6 `action` with its (1.6-valid) `payload`.
    static func plan(_ action: String, _ payload: JSONValue, remoteStartId: Int, requestId: Int) -> Result<Plan, Failure> {
        func fail(_ message: String) -> Result<Plan, Failure> { .failure(Failure(message: message)) }
        func call(_ name: String, _ body: [String: JSONValue]) -> Result<Plan, Failure> { .success(.call(action: name, payload: .object(body))) }
        func evse(_ connector: Int?) -> JSONValue? { connector.flatMap { $0 > 0 ? .object(["id": .int($0)]) : nil } }
        let connector = payload["connectorId"]?.intValue
        switch action {
        case "RemoteStartTransaction":
            guard payload["chargingProfile"] == nil else {
                return fail("remote_start_transaction's charging_profile is not translated to OCPP 2.0.1; send request_start_transaction with a charging_profile instead")
            }
            var body: [String: JSONValue] = [
                "idToken": ["idToken": payload["idTag"] ?? "", "type": "Central"], "remoteStartId": .int(remoteStartId),
            ]
            if let connector, connector > 0 { body["evseId"] = .int(connector) }
            return call("RequestStartTransaction", body)
        case "RemoteStopTransaction":
            let id = payload["transactionId"].map { $0.stringValue ?? $0.text } ?? ""
            return call("RequestStopTransaction", ["transactionId": .string(id)])
        case "Reset":
            // 2.0.1 has no soft reset of the whole station: Immediate is what both 1.6 types ask for.
            return call("Reset", ["type": "Immediate"])
        case "UnlockConnector":
            return call("UnlockConnector", ["evseId": .int(connector ?? 1), "connectorId": 1])
        case "ChangeAvailability":
            var body: [String: JSONValue] = ["operationalStatus": payload["type"] ?? "Operative"]
            if let evse = evse(connector) { body["evse"] = evse }
            return call("ChangeAvailability", body)
        case "TriggerMessage":
            var requested = payload["requestedMessage"]?.stringValue ?? ""
            if requested == "DiagnosticsStatusNotification" { requested = "LogStatusNotification" }
            var body: [String: JSONValue] = ["requestedMessage": .string(requested)]
            if requested == "StatusNotification" {
                body["evse"] = ["id": .int(max(connector ?? 1, 1)), "connectorId": 1]
            } else if let evse = evse(connector) {
                body["evse"] = evse
            }
            return call("TriggerMessage", body)
        case "GetConfiguration":
            let keys = payload["key"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard !keys.isEmpty else {
                return .success(.report(payload: ["requestId": .int(requestId), "reportBase": "FullInventory"], requestId: requestId))
            }
            var data: [JSONValue] = []
            for key in keys {
                guard let (component, variable) = componentVariable(key) else {
                    return fail("key '\(key)' has no OCPP 2.0.1 counterpart: name it as Component/Variable (OCPPCommCtrlr/HeartbeatInterval)")
                }
                data.append(["component": ["name": .string(component)], "variable": ["name": .string(variable)]])
            }
            return call("GetVariables", ["getVariableData": .array(data)])
        case "ChangeConfiguration":
            let key = payload["key"]?.stringValue ?? ""
            guard let (component, variable) = componentVariable(key) else {
                return fail("key '\(key)' has no OCPP 2.0.1 counterpart: name it as Component/Variable (OCPPCommCtrlr/HeartbeatInterval)")
            }
            return call("SetVariables", ["setVariableData": [[
                "attributeValue": payload["value"] ?? "", "component": ["name": .string(component)],
                "variable": ["name": .string(variable)],
            ]]])
        case "SetChargingProfile":
            guard let profile = payload["csChargingProfiles"], let schedule = profile["chargingSchedule"] else {
                return fail("set_charging_profile needs cs_charging_profiles")
            }
            var purpose = profile["chargingProfilePurpose"]?.stringValue ?? "TxDefaultProfile"
            if purpose == "ChargePointMaxProfile" { purpose = "ChargingStationMaxProfile" }
            var translatedSchedule: [String: JSONValue] = [
                "id": profile["chargingProfileId"] ?? 1, "chargingRateUnit": schedule["chargingRateUnit"] ?? "A",
                "chargingSchedulePeriod": schedule["chargingSchedulePeriod"] ?? [],
            ]
            for field in ["startSchedule", "duration", "minChargingRate"] { translatedSchedule[field] = schedule[field] }
            var translated: [String: JSONValue] = [
                "id": profile["chargingProfileId"] ?? 1, "stackLevel": profile["stackLevel"] ?? 0,
                "chargingProfilePurpose": .string(purpose), "chargingProfileKind": profile["chargingProfileKind"] ?? "Absolute",
                "chargingSchedule": [.object(translatedSchedule)],
            ]
            for field in ["recurrencyKind", "validFrom", "validTo"] { translated[field] = profile[field] }
            if let transaction = profile["transactionId"] { translated["transactionId"] = .string(transaction.stringValue ?? transaction.text) }
            return call("SetChargingProfile", ["evseId": .int(connector ?? 0), "chargingProfile": .object(translated)])
        case "ClearChargingProfile":
            var body: [String: JSONValue] = [:]
            if let id = payload["id"] { body["chargingProfileId"] = id }
            var criteria: [String: JSONValue] = [:]
            if let connector { criteria["evseId"] = .int(connector) }
            if var purpose = payload["chargingProfilePurpose"]?.stringValue {
                if purpose == "ChargePointMaxProfile" { purpose = "ChargingStationMaxProfile" }
                criteria["chargingProfilePurpose"] = .string(purpose)
            }
            if let level = payload["stackLevel"] { criteria["stackLevel"] = level }
            if !criteria.isEmpty { body["chargingProfileCriteria"] = .object(criteria) }
            return call("ClearChargingProfile", body)
        case "GetCompositeSchedule":
            var body: [String: JSONValue] = ["evseId": .int(connector ?? 0), "duration": payload["duration"] ?? 0]
            if let unit = payload["chargingRateUnit"] { body["chargingRateUnit"] = unit }
            return call("GetCompositeSchedule", body)
        case "ClearCache", "GetLocalListVersion":
            return call(action, [:])
        case "DataTransfer":
            return call("DataTransfer", payload.objectValue ?? [:])
        case "CancelReservation":
            return call("CancelReservation", ["reservationId": payload["reservationId"] ?? 0])
        case "ReserveNow":
            var body: [String: JSONValue] = [
                "id": payload["reservationId"] ?? 0, "expiryDateTime": payload["expiryDate"] ?? "",
                "idToken": ["idToken": payload["idTag"] ?? "", "type": "Central"],
            ]
            if let connector, connector > 0 { body["evseId"] = .int(connector) }
            return call("ReserveNow", body)
        case "UpdateFirmware":
            var firmware: [String: JSONValue] = ["location": payload["location"] ?? "", "retrieveDateTime": payload["retrieveDate"] ?? ""]
            firmware = firmware.filter { $0.value != .null }
            var body: [String: JSONValue] = ["requestId": .int(requestId), "firmware": .object(firmware)]
            for field in ["retries", "retryInterval"] { body[field] = payload[field] }
            return call("UpdateFirmware", body)
        default:
            return fail("\(SpecNames.snakeCase(action)) has no OCPP 2.0.1 translation: send the 2.0.1 action by its name (docs/ocpp201.md)")
        }
    }

    /// The answer to a translated call, in the shape the 1.6 command's result had where the two differ
    /// (get_configuration, change_configuration); otherwise the 2.0.1 answer as it came.
    static func answer(_ answer: JSONValue, to action: String) -> JSONValue {
        switch action {
        case "GetConfiguration":
            var known: [JSONValue] = []
            var unknown: [JSONValue] = []
            for result in answer["getVariableResult"]?.arrayValue ?? [] {
                let key = key(component: result["component"]?["name"]?.stringValue ?? "", variable: result["variable"]?["name"]?.stringValue ?? "")
                if result["attributeStatus"]?.stringValue == "Accepted" {
                    var entry: [String: JSONValue] = ["key": .string(key), "readonly": false]
                    if let value = result["attributeValue"] { entry["value"] = value }
                    known.append(.object(entry))
                } else {
                    unknown.append(.string(key))
                }
            }
            return ["configurationKey": .array(known), "unknownKey": .array(unknown), "getVariableResult": answer["getVariableResult"] ?? []]
        case "ChangeConfiguration":
            let result = answer["setVariableResult"]?.arrayValue?.first
            let status: String = switch result?["attributeStatus"]?.stringValue {
            case "Accepted": "Accepted"
            case "RebootRequired": "RebootRequired"
            case "Rejected": "Rejected"
            default: "NotSupported"
            }
            return ["status": .string(status), "setVariableResult": answer["setVariableResult"] ?? []]
        default:
            return answer
        }
    }

    /// get_configuration's answer from a report's `reportData` entries, in the order of the parts.
    static func configuration(fromReport entries: [JSONValue]) -> JSONValue {
        var keys: [JSONValue] = []
        for entry in entries {
            let component = entry["component"]?["name"]?.stringValue ?? ""
            let variable = entry["variable"]?["name"]?.stringValue ?? ""
            var name = key(component: component, variable: variable)
            if let instance = entry["component"]?["instance"]?.stringValue { name += "[\(instance)]" }
            if let evse = entry["component"]?["evse"]?["id"]?.intValue { name += "@\(evse)" }
            let attributes = entry["variableAttribute"]?.arrayValue ?? []
            let actual = attributes.first { ($0["type"]?.stringValue ?? "Actual") == "Actual" } ?? attributes.first
            var out: [String: JSONValue] = ["key": .string(name), "readonly": .bool(actual?["mutability"]?.stringValue == "ReadOnly")]
            if let value = actual?["value"] { out["value"] = value }
            keys.append(.object(out))
        }
        return ["configurationKey": .array(keys)]
    }
}

/// The parts of a report a get_configuration asked for, until the last one is in.
struct ReportAssembly201: Sendable {
    var parts: [Int: [JSONValue]] = [:]
    /// The seqNo of the part with `tbc` false, once it came.
    var lastSeqNo: Int?
    var continuation: CheckedContinuation<[JSONValue]?, Never>?

    /// Every part from 0 to the last is in: the entries in seqNo order.
    var complete: [JSONValue]? {
        guard let last = lastSeqNo, (0...last).allSatisfy({ parts[$0] != nil }) else { return nil }
        return (0...last).flatMap { parts[$0]! }
    }
}
