import Foundation
import OCPP
import OCPP201

/// A command from MQTT, checked and ready to run.
public struct Command: Sendable {
    public enum Operation: Sendable, Equatable {
        /// An OCPP 1.6 call; the payload is valid against the action's request schema. A 2.0.1 station gets its
        /// translation (docs/ocpp201.md).
        case ocpp(Action, payload: RawJSON)
        /// An OCPP 2.0.1 call by its spec name, the payload valid against the action's request schema: for 2.0.1
        /// stations only.
        case ocpp201(String, payload: RawJSON)
        /// The gateway's own `charging_enabled` switch.
        case chargingEnabled(Bool)
    }

    /// The action as results name it (`reset`, `charging_enabled`).
    public var name: String
    public var operation: Operation
    /// The caller's `request_id` as JSON text (`"abc"` or `42`), echoed in results.
    public var requestID: String?
    /// A station named in the payload (`"station": "CP1"`), for topics without station names.
    public var station: String?
}

/// Why a command was refused before anything was sent.
public struct CommandRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// `invalidCommand`, `unknownAction`, `invalidArguments` (or, for controls, `noTransaction`).
    public var code: CommandResultCode
    public var message: String
    /// The action, when it could be read.
    public var name: String?
    public var requestID: String?

    public var description: String { "\(code): \(message)" }
}

/// Reads command payloads: `{"action": "reset", "args": {"type": "Soft"}, "request_id": "r1"}`, or
/// ocpp2mqtt's older `{"op": "reset", "message": {...}}`. Argument names may be snake_case or the spec's
/// camelCase at any depth.
public enum CommandParser {
    /// The snake_case name of every central-system operation, and `get_local_version` (ocpp2mqtt's name).
    public static let actions: [String: Action] = {
        var table: [String: Action] = [:]
        for action in Action.allCases
        where action.initiator != .chargePoint && MessageTypes.requestType(for: action) != nil {
            table[snakeCase(action.rawValue)] = action
        }
        table["get_local_version"] = .getLocalListVersion
        return table
    }()

    /// snake_case -> camelCase for every field of every command's request type (probed from the types).
    static let fieldNames: [String: String] = {
        var table: [String: String] = [:]
        for action in Set(actions.values) {
            for name in FieldNames.of(MessageTypes.requestType(for: action)!) {
                table[snakeCase(name)] = name
            }
        }
        return table
    }()

    public static let chargingEnabled = "charging_enabled"

    /// The 2.0.1 actions a central system sends, by their snake_case names.
    static let actions201: [String: String] = Dictionary(
        MessageSchemas201.centralSystemInitiated.map { (snakeCase($0), $0) }, uniquingKeysWith: { first, _ in first })

    /// 1.6 commands whose arguments may be 2.0.1's: remote_stop_transaction with the charger's string transaction id.
    static let aliases201: [Action: String] = [.remoteStopTransaction: "RequestStopTransaction", .remoteStartTransaction: "RequestStartTransaction"]

    /// `id_token` -> `idToken`, at any depth; camelCase keys stay as they are.
    static func camelCased201(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var out: [String: JSONValue] = [:]
            for (key, inner) in object {
                let parts = key.split(separator: "_")
                let name = parts.count < 2 ? key : String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
                out[name] = camelCased201(inner)
            }
            return .object(out)
        case .array(let array):
            return .array(array.map(camelCased201))
        default:
            return value
        }
    }

    /// `RemoteStartTransaction` -> `remote_start_transaction`, `connectorId` -> `connector_id`.
    public static func snakeCase(_ name: String) -> String { SpecNames.snakeCase(name) }

    public static func parse(_ payload: [UInt8]) -> Result<Command, CommandRejection> {
        func reject(_ code: CommandResultCode, _ message: String, name: String? = nil, requestID: String? = nil) -> Result<Command, CommandRejection> {
            .failure(CommandRejection(code: code, message: message, name: name, requestID: requestID))
        }
        let example = #"expected a JSON object such as {"action": "reset", "args": {"type": "Soft"}}"#
        guard !payload.isEmpty else { return reject(.invalidCommand, "empty payload; \(example)") }
        guard String(validating: payload, as: UTF8.self) != nil else { return reject(.invalidCommand, "payload is not UTF-8 text; \(example)") }
        guard let json = JSONValue.parse(payload) else { return reject(.invalidCommand, "payload is not valid JSON; \(example)") }
        guard case .object(let object) = json else { return reject(.invalidCommand, "payload is not a JSON object; \(example)") }

        var requestID: String?
        switch object["request_id"] {
        case nil, .null?: break
        case .string?, .int?, .double?: requestID = object["request_id"]!.text
        default: return reject(.invalidCommand, "request_id must be a string or a number")
        }
        guard let rawName = object["action"] ?? object["op"] else {
            return reject(.invalidCommand, "missing \"action\"; \(example)", requestID: requestID)
        }
        guard case .string(let name) = rawName, !name.isEmpty else {
            return reject(.invalidCommand, "\"action\" must be a string", requestID: requestID)
        }
        var station: String?
        if let value = object["station"] {
            guard case .string(let text) = value, !text.isEmpty else {
                return reject(.invalidCommand, "\"station\" must be a station id", name: name, requestID: requestID)
            }
            station = text
        }
        let args = object["args"] ?? object["message"] ?? .null

        if name == chargingEnabled || name == "ChargingEnabled" {
            guard let enabled = switchValue(args) else {
                return reject(.invalidArguments, "charging_enabled takes ON or OFF (also true/false, 1/0, yes/no)",
                              name: chargingEnabled, requestID: requestID)
            }
            return .success(Command(name: chargingEnabled, operation: .chargingEnabled(enabled), requestID: requestID, station: station))
        }
        let action = actions[name] ?? Action(rawValue: name).flatMap({ actions[snakeCase($0.rawValue)] })
        let action201 = actions201[name] ?? (MessageSchemas201.centralSystemInitiated.contains(name) ? name : nil)
        guard action != nil || action201 != nil else {
            let known = (actions.keys.filter { $0 != "get_local_version" } + [chargingEnabled]).sorted().joined(separator: ", ")
            return reject(.unknownAction, "unknown action '\(name)'; expected one of: \(known) (or an OCPP 2.0.1 action, for 2.0.1 stations)",
                          name: name, requestID: requestID)
        }
        let snakeName = snakeCase(action?.rawValue ?? action201!)
        let fields: [String: JSONValue]
        switch args {
        case .null: fields = [:]
        case .object(let value): fields = value
        default: return reject(.invalidArguments, "args must be a JSON object", name: snakeName, requestID: requestID)
        }
        // The 1.6 command first (a 2.0.1 station gets its translation); else the same name's 2.0.1 call.
        var failure: String?
        if let action {
            switch arguments(for: action, fields) {
            case .success(let payload):
                return .success(Command(name: snakeName, operation: .ocpp(action, payload: payload), requestID: requestID, station: station))
            case .failure(let problem):
                failure = problem.message
            }
        }
        if let target = action201 ?? action.flatMap({ aliases201[$0] }) {
            let payload = camelCased201(.object(fields))
            switch MessageSchemas201.shared.check(target, .request, payload) {
            case .fits:
                return .success(Command(name: snakeName, operation: .ocpp201(target, payload: RawJSON(validatedBytes: Data(payload.text.utf8))),
                                        requestID: requestID, station: station))
            case .violates(let violation):
                failure = failure ?? "\(violation.kind.callErrorCode201): \(violation.description) (OCPP 2.0.1 \(target))"
            case .unknownAction:
                break
            }
        }
        return reject(.invalidArguments, failure ?? "invalid arguments", name: snakeName, requestID: requestID)
    }

    struct ArgumentFailure: Error {
        var message: String
    }

    /// Converts the names, checks the arguments against the request type, and returns the payload to send.
    static func arguments(for action: Action, _ args: [String: JSONValue]) -> Result<RawJSON, ArgumentFailure> {
        let converted = camelCased(.object(args))
        let type = MessageTypes.requestType(for: action)!
        let payload: RawJSON
        do {
            payload = try roundTrip(type, RawJSON(validatedBytes: Data(converted.text.utf8)))
        } catch {
            return .failure(ArgumentFailure(message: "\(error.code): \(error.reason)"))
        }
        // Whatever the request type did not take is a mistake (a typo, a field of another action): say so.
        let accepted = JSONValue.parse(payload.bytes) ?? .null
        if let unknown = unknownKeys(converted, accepted, path: "").first {
            let allowed = FieldNames.topLevel(of: type).map(snakeCase).sorted().joined(separator: ", ")
            return .failure(ArgumentFailure(message:
                "unknown argument '\(unknown)' for \(snakeCase(action.rawValue)) (it takes: \(allowed.isEmpty ? "no arguments" : allowed))"))
        }
        return .success(payload)
    }

    private static func roundTrip<T: OCPPRequest>(_ type: T.Type, _ payload: RawJSON) throws(PayloadDecodingError) -> RawJSON {
        try PayloadCoding.encode(try PayloadCoding.decode(type, from: payload))
    }

    private static func camelCased(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var out: [String: JSONValue] = [:]
            for (key, inner) in object { out[fieldNames[key] ?? key] = camelCased(inner) }
            return .object(out)
        case .array(let array):
            return .array(array.map(camelCased))
        default:
            return value
        }
    }

    /// Keys of `given` (not null) that are missing from what the request type encoded back.
    private static func unknownKeys(_ given: JSONValue, _ accepted: JSONValue, path: String) -> [String] {
        switch (given, accepted) {
        case (.object(let object), _):
            let kept = accepted.objectValue ?? [:]
            return object.keys.sorted().flatMap { key -> [String] in
                let name = path.isEmpty ? snakeCase(key) : "\(path).\(snakeCase(key))"
                guard let keptValue = kept[key] else { return object[key] == .null ? [] : [name] }
                return unknownKeys(object[key]!, keptValue, path: name)
            }
        case (.array(let array), .array(let keptArray)):
            return zip(array, keptArray).enumerated().flatMap { unknownKeys($1.0, $1.1, path: "\(path)[\($0)]") }
        default:
            return []
        }
    }

    /// ON/OFF, true/false, 1/0, yes/no, as a string, a boolean or a number; or an object holding one.
    static func switchValue(_ value: JSONValue) -> Bool? {
        switch value {
        case .object(let object):
            return (object["value"] ?? object["charging_enabled"] ?? object["enabled"]).flatMap(switchValue)
        case .bool(let flag):
            return flag
        case .int(let number):
            return number == 1 ? true : number == 0 ? false : nil
        case .string(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "on", "true", "1", "yes": return true
            case "off", "false", "0", "no": return false
            default: return nil
            }
        default:
            return nil
        }
    }
}
