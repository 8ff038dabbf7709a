import OCPP

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
        var document: [String: JSONValue] = ["station": .string(station)]
        if let name {
            fields.append(("action", name))
            document["action"] = .string(name)
        }
        if let requestID, let id = JSONValue.parse(requestID.utf8) {
            fields.append(("request_id", id.payload))
            document["request_id"] = id
        }
        switch outcome {
        case .ok(let response):
            if response["status"] == nil { fields.append(("status", "ok")) }
            for key in response.keys.sorted() {
                fields.append((CommandParser.snakeCase(key), response[key]!.payload))
            }
            document["status"] = .string("ok")
            document["response"] = .object(response)
        case .error(let code, let description):
            fields.append(("status", "error"))
            fields.append(("error", "\(code): \(description)"))
            document["status"] = .string("error")
            document["error"] = .object(["code": .string(code.description), "description": .string(description)])
        }
        return fields.map { Publication(topic: topics.commandResult(station, field: $0.0), payload: $0.1) }
            + [Publication(topic: topics.commandResult(station), payload: JSONValue.object(document).text, retain: false)]
    }
}
