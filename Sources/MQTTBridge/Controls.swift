import Foundation
import OCPP

/// The raw-value controls on `<S>/set/<name>`: plain payloads (no JSON) for Home Assistant and openHAB.
/// Each becomes a ``Command`` and takes the command path (same checks, queue, retries and results).
enum Controls {
    /// A control's command, and the state parameter to publish when it succeeds (for a select or number's state).
    struct Converted {
        var command: Command
        var stateOnSuccess: (parameter: String, value: String)?
    }

    static let names = ControlName.all

    /// The TxDefaultProfile the max_current control replaces each time.
    static let maxCurrentProfileID = 1
    /// In relay mode, the ChargePointMaxProfile it replaces instead: an id and stack level of its own, far from the
    /// small ones central systems use, so the upstream's profiles and this one do not replace each other.
    static let relayMaxCurrentProfileID = 9_101
    static let relayMaxCurrentStackLevel = 9

    /// - Parameters:
    ///   - transaction: the open transaction of a connector of the target station, for remote_stop.
    ///   - transaction201: the same for an OCPP 2.0.1 station, by EVSE.
    static func convert(
        name: String, payload: [UInt8], settings: ControlConfiguration, transaction201: (_ evse: Int) -> String? = { _ in nil },
        transaction: (_ connector: Int) -> Int?
    ) -> Result<Converted, CommandRejection> {
        let text = String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        func reject(_ message: String) -> Result<Converted, CommandRejection> {
            .failure(CommandRejection(code: .invalidArguments, message: message, name: name))
        }
        func ocpp(_ action: Action, _ args: [String: JSONValue], state: (String, String)? = nil) -> Result<Converted, CommandRejection> {
            switch CommandParser.arguments(for: action, args) {
            case .success(let payload):
                let command = Command(name: CommandParser.snakeCase(action.rawValue), operation: .ocpp(action, payload: payload), requestID: nil, station: nil)
                return .success(Converted(command: command, stateOnSuccess: state))
            case .failure(let failure):
                return reject(failure.message)
            }
        }
        /// An optional connector number (empty means 1).
        func connector() -> Int? { text.isEmpty ? 1 : Int(text).flatMap { $0 >= 0 ? $0 : nil } }

        switch name {
        case ControlName.chargingEnabled:
            guard let enabled = CommandParser.switchValue(.string(text)) else { return reject("charging_enabled takes ON or OFF") }
            return .success(Converted(command: Command(name: name, operation: .chargingEnabled(enabled), requestID: nil, station: nil)))
        case ControlName.availability:
            guard let type = AvailabilityType(caseInsensitive: text) else { return reject("availability takes Operative or Inoperative") }
            return ocpp(.changeAvailability, ["connectorId": .int(0), "type": .string(type.rawValue)], state: (StateParameter.availability, type.rawValue))
        case ControlName.maxCurrent:
            guard let amps = Double(text), amps.isFinite, amps >= 0, amps <= settings.maxCurrent else {
                return reject("max_current takes a number of amperes from 0 to \(StateValue.number(settings.maxCurrent))")
            }
            let limit = (amps * 10).rounded() / 10  // the schema's multipleOf 0.1
            var profile: [String: JSONValue] = [
                "chargingProfileId": .int(maxCurrentProfileID), "stackLevel": .int(0),
                "chargingProfilePurpose": .string("TxDefaultProfile"), "chargingProfileKind": .string("Relative"),
                "chargingSchedule": .object([
                    "chargingRateUnit": .string("A"),
                    "chargingSchedulePeriod": .array([.object(["startPeriod": .int(0), "limit": .double(limit)])]),
                ]),
            ]
            if settings.relayMode {
                // The charger takes the lowest of the ChargePointMaxProfile and the upstream's profiles (OCPP 1.6
                // section 3.13.3); an absolute schedule from a fixed past moment holds until replaced.
                profile["chargingProfileId"] = .int(relayMaxCurrentProfileID)
                profile["stackLevel"] = .int(relayMaxCurrentStackLevel)
                profile["chargingProfilePurpose"] = .string("ChargePointMaxProfile")
                profile["chargingProfileKind"] = .string("Absolute")
                profile["chargingSchedule"] = .object([
                    "chargingRateUnit": .string("A"), "startSchedule": .string("2024-01-01T00:00:00Z"),
                    "chargingSchedulePeriod": .array([.object(["startPeriod": .int(0), "limit": .double(limit)])]),
                ])
            }
            return ocpp(.setChargingProfile, ["connectorId": .int(0), "csChargingProfiles": .object(profile)],
                        state: (StateParameter.maxCurrent, StateValue.number(limit)))
        case ControlName.reset:
            guard let type = ResetType(caseInsensitive: text.isEmpty ? "Soft" : text) else { return reject("reset takes Soft or Hard") }
            return ocpp(.reset, ["type": .string(type.rawValue)])
        case ControlName.unlockConnector:
            guard let connector = connector(), connector >= 1 else { return reject("unlock_connector takes a connector number (1 or more)") }
            return ocpp(.unlockConnector, ["connectorId": .int(connector)])
        case ControlName.remoteStart:
            guard let connector = connector(), connector >= 1 else { return reject("remote_start takes a connector number (1 or more), or nothing for 1") }
            return ocpp(.remoteStartTransaction, ["idTag": .string(settings.remoteIDTag), "connectorId": .int(connector)])
        case ControlName.remoteStop:
            guard let connector = connector(), connector >= 1 else { return reject("remote_stop takes a connector number (1 or more), or nothing for 1") }
            if let id = transaction201(connector) {
                // OCPP 2.0.1: the charger's own (string) transaction id, on the EVSE the control names.
                let payload = RawJSON(validatedBytes: Data(JSONValue.object(["transactionId": .string(id)]).text.utf8))
                return .success(Converted(command: Command(name: name, operation: .ocpp201("RequestStopTransaction", payload: payload),
                                                           requestID: nil, station: nil)))
            }
            guard let id = transaction(connector) else {
                return .failure(CommandRejection(code: .noTransaction, message: "no transaction is open on connector \(connector)", name: name))
            }
            return ocpp(.remoteStopTransaction, ["transactionId": .int(id)])
        case ControlName.trigger:
            guard let message = MessageTrigger(caseInsensitive: text) else {
                return reject("trigger takes one of \(MessageTrigger.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return ocpp(.triggerMessage, ["requestedMessage": .string(message.rawValue)])
        default:
            return .failure(CommandRejection(code: .unknownAction, message: "unknown control '\(name)'; expected one of: \(names.joined(separator: ", "))", name: name))
        }
    }
}
