import Foundation
import OCPP
import OCPP201

/// Reading relay mode's files and lists: `RELAY_STATIONS_FILE` in the gateway's own form, rights, secondaries.
extension RelayConfiguration {
    /// Reads `RELAY_STATIONS_FILE`: a JSON object of station ids, each an object with `url`, `upstream_id`,
    /// `password`, `id_tags` and `secondaries` (a list of objects with `url`, which they must have, `upstream_id`,
    /// `password` and `id_tags`), all optional. Anything else (an unknown key, a value of the wrong type, a bad URL, a
    /// tag named twice) is refused with what and where.
    public static func parseStations(_ data: [UInt8]) throws(UpstreamURL.Invalid) -> [String: StationSettings] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            throw UpstreamURL.Invalid(description: #"a JSON object of station ids, such as {"garage": {"upstream_id": "DE*ABC*E1", "password": "..."}}"#)
        }
        var stations: [String: StationSettings] = [:]
        for (station, value) in object {
            guard let fields = value as? [String: Any] else {
                throw UpstreamURL.Invalid(description: "an object for station '\(station)'")
            }
            var settings = StationSettings()
            var rest = fields
            if let list = rest.removeValue(forKey: "secondaries") {
                guard let entries = list as? [Any] else {
                    throw UpstreamURL.Invalid(description: "a list of objects for 'secondaries' of station '\(station)'")
                }
                settings.secondaries = try entries.enumerated().map { (index, entry) throws(UpstreamURL.Invalid) -> Secondary in
                    let place = "secondary \(index + 1) of station '\(station)'"
                    guard let fields = entry as? [String: Any] else { throw UpstreamURL.Invalid(description: "an object for \(place)") }
                    let endpoint = try Endpoint(fields, place: place, also: ", rights, name, queue_max", rightsAllowed: true)
                    guard let url = endpoint.url else { throw UpstreamURL.Invalid(description: "a 'url' for \(place)") }
                    var secondary = Secondary(url: url, upstreamID: endpoint.upstreamID, password: endpoint.password, idTags: endpoint.idTags,
                                              rights: endpoint.rights)
                    secondary.explicitName = endpoint.name
                    secondary.queueLimit = endpoint.queueLimit
                    return secondary
                }
            }
            let endpoint = try Endpoint(rest, place: "station '\(station)'", also: ", secondaries")
            settings.url = endpoint.url
            settings.upstreamID = endpoint.upstreamID
            settings.password = endpoint.password
            settings.idTags = endpoint.idTags
            stations[station] = settings
        }
        return stations
    }

    /// Reads rights: an object of OCPP actions a central system sends, each `forward` or `reject`.
    static func parseRights(_ value: Any, place: String) throws(UpstreamURL.Invalid) -> [String: Right] {
        guard let object = value as? [String: Any] else { throw UpstreamURL.Invalid(description: "an object of actions for \(place)") }
        var rights: [String: Right] = [:]
        for (name, value) in object {
            // `ChangeConfiguration:<key>`: the right for one configuration key.
            guard let (action, key) = centralSystemAction(name) else {
                throw UpstreamURL.Invalid(description: "OCPP 1.6 or 2.0.1 actions a central system sends in \(place), or ChangeConfiguration:<key> ('\(name)' is not one)")
            }
            guard let text = value as? String, let right = Right(rawValue: text.lowercased()) else {
                throw UpstreamURL.Invalid(description: "forward, answer or reject for '\(name)' in \(place)")
            }
            if right == .answer, answerable[action] == nil {
                throw UpstreamURL.Invalid(description: "forward or reject for '\(name)' in \(place) (the gateway cannot answer it without the charger)")
            }
            rights[key.map { "\(action):\($0)" } ?? action] = right
        }
        return rights
    }

    /// A central system's action as rights and denials name it (any case): 1.6's, or 2.0.1's (for 2.0.1 chargers) by
    /// its spec name, with a configuration key for ChangeConfiguration (`ChangeConfiguration:<key>`); nil for
    /// anything else. Returns the spec's spelling.
    public static func centralSystemAction(_ name: String) -> (action: String, key: String?)? {
        let (actionName, key) = splitKey(name)
        let known = Action.allCases.filter { $0.initiator != .chargePoint }.map(\.rawValue) + MessageSchemas201.centralSystemInitiated
        guard let action = known.first(where: { $0.caseInsensitiveCompare(actionName) == .orderedSame }),
              key == nil || (action == Action.changeConfiguration.rawValue && (1...50).contains(key!.count))
        else { return nil }
        return (action, key)
    }

    /// `ChangeConfiguration:HeartbeatInterval` → (`ChangeConfiguration`, `HeartbeatInterval`); no colon: no key.
    public static func splitKey(_ name: String) -> (action: String, key: String?) {
        guard let colon = name.firstIndex(of: ":") else { return (name, nil) }
        return (String(name[..<colon]), String(name[name.index(after: colon)...]))
    }

    /// Every secondary (`RELAY_SECONDARY_URLS` and the stations file's) with `defaults` under its own rights.
    public mutating func applySecondaryRights(_ defaults: [String: Right]) {
        guard !defaults.isEmpty else { return }
        func apply(_ secondary: Secondary) -> Secondary {
            var secondary = secondary
            secondary.rights = defaults.merging(secondary.rights) { $1 }
            return secondary
        }
        secondaries = secondaries.map(apply)
        for (station, settings) in stations {
            stations[station]?.secondaries = settings.secondaries?.map(apply)
        }
    }

    /// Reads `RELAY_SECONDARY_RIGHTS`: `Action=forward|reject`, comma-separated.
    public static func parseRights(_ text: String) throws(UpstreamURL.Invalid) -> [String: Right] {
        var object: [String: Any] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw UpstreamURL.Invalid(description: "Action=forward, answer or reject, comma-separated ('\(item)')") }
            object[parts[0]] = parts[1]
        }
        return try parseRights(object, place: "RELAY_SECONDARY_RIGHTS")
    }

    /// Reads `RELAY_SECONDARY_URLS`: URLs, comma-separated.
    public static func parseSecondaries(_ text: String) throws(UpstreamURL.Invalid) -> [Secondary] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { (item) throws(UpstreamURL.Invalid) -> Secondary in Secondary(url: try UpstreamURL(item)) }
    }

    /// What the stations file says of one central system: a station's primary, or one of its secondaries.
    private struct Endpoint {
        var url: UpstreamURL?
        var upstreamID: String?
        var password: String?
        var idTags: [String: String] = [:]
        var rights: [String: Right] = [:]
        var name: String?
        var queueLimit: Int?

        init(_ fields: [String: Any], place: String, also: String = "", rightsAllowed: Bool = false) throws(UpstreamURL.Invalid) {
            for (key, value) in fields {
                if key == "queue_max", rightsAllowed {
                    guard let number = value as? Int, (10...10_000_000).contains(number) else {
                        throw UpstreamURL.Invalid(description: "a number of messages from 10 to 10000000 for 'queue_max' of \(place)")
                    }
                    queueLimit = number
                    continue
                }
                if key == "name", rightsAllowed {
                    guard let text = value as? String, !text.isEmpty, text != "primary" else {
                        throw UpstreamURL.Invalid(description: "a name other than 'primary' for \(place)")
                    }
                    name = text
                    continue
                }
                if key == "rights", rightsAllowed {
                    rights = try RelayConfiguration.parseRights(value, place: "'rights' of \(place)")
                    continue
                }
                if key == "id_tags" {
                    guard let tags = value as? [String: Any] else {
                        throw UpstreamURL.Invalid(description: "an object of id tags for 'id_tags' of \(place)")
                    }
                    for (tag, upstream) in tags {
                        guard let upstream = upstream as? String, (1...20).contains(tag.utf8.count), (1...20).contains(upstream.utf8.count) else {
                            throw UpstreamURL.Invalid(description: "id tags of 1 to 20 characters in 'id_tags' of \(place) (not '\(tag)')")
                        }
                        guard !idTags.keys.contains(where: { $0.caseInsensitiveCompare(tag) == .orderedSame }) else {
                            throw UpstreamURL.Invalid(description: "one rewrite per id tag in 'id_tags' of \(place) ('\(tag)' twice)")
                        }
                        idTags[tag] = upstream
                    }
                    continue
                }
                guard let text = value as? String, !text.isEmpty else {
                    throw UpstreamURL.Invalid(description: "a non-empty string for '\(key)' of \(place)")
                }
                switch key {
                case "url":
                    do {
                        url = try UpstreamURL(text)
                    } catch {
                        throw UpstreamURL.Invalid(description: "\(error.description) for 'url' of \(place)")
                    }
                case "upstream_id": upstreamID = text
                case "password": password = text
                default:
                    throw UpstreamURL.Invalid(description: "only url, upstream_id, password, id_tags\(also) for \(place) (not '\(key)')")
                }
            }
        }
    }
}
