import OCPP
import Synchronization

/// How a command ended.
enum CommandOutcome: Sendable, Equatable {
    /// The charger's (or the gateway's) answer.
    case ok(response: [String: JSONValue])
    case error(code: CommandResultCode, description: String)
}

/// The result topics of one command: `<S>/cmd_result/<field>` (retained, ocpp2mqtt's form) and the
/// `<S>/cmd_result` JSON document (not retained).
enum CommandResult {
    static func publications(
        topics: TopicLayout, station: String, name: String?, requestID: String?, outcome: CommandOutcome
    ) -> [Publication] {
        var fields: [(String, String)] = []
        if let name { fields.append(("action", name)) }
        if let requestID, let id = JSONValue.parse(requestID.utf8) { fields.append(("request_id", id.payload)) }
        switch outcome {
        case .ok(let response):
            if response["status"] == nil { fields.append(("status", "ok")) }
            for key in response.keys.sorted() {
                fields.append((CommandParser.snakeCase(key), response[key]!.payload))
            }
        case .error(let code, let description):
            fields.append(("status", "error"))
            fields.append(("error", "\(code): \(description)"))
        }
        return fields.map { Publication(topic: topics.commandResult(station, field: $0.0), payload: $0.1) }
            + [Publication(topic: topics.commandResult(station),
                           payload: document(station: station, name: name, requestID: requestID, outcome: outcome), retain: false)]
    }

    /// The `<S>/cmd_result` document (also the admin API's answer to a command).
    static func document(station: String, name: String?, requestID: String?, outcome: CommandOutcome) -> String {
        var document: [String: JSONValue] = ["station": .string(station)]
        if let name { document["action"] = .string(name) }
        if let requestID, let id = JSONValue.parse(requestID.utf8) { document["request_id"] = id }
        switch outcome {
        case .ok(let response):
            document["status"] = .string("ok")
            document["response"] = .object(response)
        case .error(let code, let description):
            document["status"] = .string("error")
            document["error"] = .object(["code": .string(code.description), "description": .string(description)])
        }
        return JSONValue.object(document).text
    }
}

/// A command's result for a caller that waits for it (the admin API), besides its publications.
public struct CommandReply: Sendable {
    /// The result document, as `<S>/cmd_result` has it.
    public var document: String
    /// nil: the command succeeded.
    public var code: CommandResultCode?
}

/// Hands a command's result to the one caller waiting for it, once; a command dropped without a result (the gateway
/// stopped while it waited for its station) answers `GatewayStopping`.
final class CommandReplySlot: Sendable {
    private let continuation: Mutex<CheckedContinuation<CommandReply, Never>?>
    private let station: String
    private let name: String?

    init(_ continuation: CheckedContinuation<CommandReply, Never>, station: String, name: String?) {
        self.continuation = Mutex(continuation)
        self.station = station
        self.name = name
    }

    func resolve(station: String, name: String?, requestID: String?, _ outcome: CommandOutcome) {
        let reply = CommandReply(document: CommandResult.document(station: station, name: name, requestID: requestID, outcome: outcome),
                                 code: outcome.code)
        continuation.withLock { $0.take() }?.resume(returning: reply)
    }

    deinit {
        let outcome = CommandOutcome.error(code: .gatewayStopping, description: """
            the gateway stopped before the command had a result; a command waiting for its station is kept and runs \
            after the restart, with its result on <S>/cmd_result
            """)
        if let waiting = continuation.withLock({ $0.take() }) {
            waiting.resume(returning: CommandReply(
                document: CommandResult.document(station: station, name: name, requestID: nil, outcome: outcome), code: .gatewayStopping))
        }
    }
}

extension CommandOutcome {
    /// The error's code; nil for success.
    var code: CommandResultCode? {
        if case .error(let code, _) = self { return code }
        return nil
    }
}
