import CentralSystem
import OCPP

/// The bridge requests: `<base>/bridge/request/<name>`, answered on `<base>/bridge/response/<name>` with
/// `{status, data, error, transaction}` (docs/mqtt-api.md).
extension MQTTBridge {
    /// Relay mode's snoop (`RELAY_SNOOP`): publishes a raw frame of a station's upstream link, not retained.
    public var snoop: @Sendable (_ station: String, _ text: [UInt8], _ outgoing: Bool) -> Void {
        { [weak self] station, text, outgoing in
            guard let self else { return }
            publisher.publish([Publication(topic: topics.snoop(station, outgoing: outgoing), payload: String(decoding: text, as: UTF8.self),
                                           retain: false)])
        }
    }

    func answer(request name: String, payload: [UInt8]) {
        let body = payload.isEmpty ? [:] : (JSONValue.parse(payload)?.objectValue ?? ["_invalid": .bool(true)])
        var response: [String: JSONValue] = [:]
        if let transaction = body["transaction"] { response["transaction"] = transaction }
        switch body["_invalid"] == nil ? result(of: name, body) : .failure(RequestFailure("the request must be empty or a JSON object")) {
        case .success(let data):
            response["status"] = .string("ok")
            response["data"] = .object(data)
        case .failure(let failure):
            response["status"] = .string("error")
            response["error"] = .string(failure.message)
            response["data"] = .object([:])
        }
        publisher.publish([Publication(topic: topics.bridgeResponse(name), payload: JSONValue.object(response).text, retain: false)])
    }

    private struct RequestFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private func result(of name: String, _ body: [String: JSONValue]) -> Result<[String: JSONValue], RequestFailure> {
        switch name {
        case "health_check":
            return .success(["healthy": .bool(true), "stations_connected": .int(centralSystem.connectedStations.count),
                             "stations_known": .int(directory.count)])
        case "republish_discovery":
            guard let count = events.republishDiscovery() else { return .failure(RequestFailure("Home Assistant discovery is off (HA_DISCOVERY=false)")) }
            return .success(["configs": .int(count)])
        case "forget_station":
            guard case .string(let station)? = body["station"] else { return .failure(RequestFailure(#"forget_station needs {"station": "<id>"}"#)) }
            return .success(["station": .string(station), "removed_entities": .int(events.forget(station))])
        default:
            return .failure(RequestFailure("unknown request '\(name)'; expected health_check, republish_discovery or forget_station"))
        }
    }
}
