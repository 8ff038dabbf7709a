import Foundation

/// `RELAY_STATIONS_FILE`, in either of its two forms: the gateway's own (an object of station ids, see
/// ``RelayConfiguration/parseStations(_:)``), or the `config.json` of the proxy that mirrors a charger to secondary
/// central systems, taken as it is: `primary_csms_url`, and `secondary_csms`, a list of `{"url", "charger_map":
/// [{"charger_id", "mapped_charger_id", "password", "id_tag"}]}`.
///
/// In the proxy's form a secondary with a `charger_map` gets the chargers it maps (under `mapped_charger_id`, with
/// `password` for HTTP Basic and every id tag sent as `id_tag`), besides the secondaries every charger has; one
/// without gets every charger under its own id.
public struct StationsFile: Sendable {
    public var stations: [String: RelayConfiguration.StationSettings] = [:]
    /// `primary_csms_url` (the proxy's form): the upstream when neither `RELAY_URL` nor `PRIMARY_CSMS_URL` is set.
    public var primary: UpstreamURL?
    /// The secondaries of every station the file does not map (the proxy's form), when `RELAY_SECONDARY_URLS` and
    /// `SECONDARY_CSMS_URLS` are unset.
    public var secondaries: [RelayConfiguration.Secondary]?
    /// Top-level keys of the proxy's form the gateway has no use for (its port, its log level, …): ignored, and named in
    /// a log line.
    public var ignoredKeys: [String] = []

    public init(stations: [String: RelayConfiguration.StationSettings] = [:]) {
        self.stations = stations
    }

    /// Reads either form; refuses anything else with what and where.
    public static func parse(_ data: [UInt8]) throws(UpstreamURL.Invalid) -> StationsFile {
        guard let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            throw UpstreamURL.Invalid(description: #"a JSON object of station ids, such as {"garage": {"upstream_id": "DE*ABC*E1", "password": "..."}}"#)
        }
        guard object["primary_csms_url"] != nil || object["secondary_csms"] != nil else {
            return StationsFile(stations: try RelayConfiguration.parseStations(data))
        }
        var file = StationsFile()
        file.ignoredKeys = object.keys.filter { $0 != "primary_csms_url" && $0 != "secondary_csms" }.sorted()
        if let primary = object["primary_csms_url"] {
            guard let text = primary as? String else { throw UpstreamURL.Invalid(description: "a URL for 'primary_csms_url'") }
            do {
                file.primary = try UpstreamURL(text)
            } catch {
                throw UpstreamURL.Invalid(description: "\(error.description) for 'primary_csms_url'")
            }
        }
        guard let list = (object["secondary_csms"] ?? [Any]()) as? [Any] else {
            throw UpstreamURL.Invalid(description: "a list of objects for 'secondary_csms'")
        }
        var everyone: [RelayConfiguration.Secondary] = []
        var mapped: [String: [RelayConfiguration.Secondary]] = [:]
        for (index, entry) in list.enumerated() {
            let place = "secondary_csms[\(index)]"
            guard let fields = entry as? [String: Any], let text = fields["url"] as? String else {
                throw UpstreamURL.Invalid(description: "an object with a 'url' for \(place)")
            }
            if let unknown = fields.keys.first(where: { $0 != "url" && $0 != "charger_map" }) {
                throw UpstreamURL.Invalid(description: "only url and charger_map in \(place) (not '\(unknown)')")
            }
            let url: UpstreamURL
            do {
                url = try UpstreamURL(text)
            } catch {
                throw UpstreamURL.Invalid(description: "\(error.description) for the url of \(place)")
            }
            guard let map = fields["charger_map"] else {
                everyone.append(RelayConfiguration.Secondary(url: url))
                continue
            }
            guard let chargers = map as? [Any] else { throw UpstreamURL.Invalid(description: "a list for the charger_map of \(place)") }
            for (position, charger) in chargers.enumerated() {
                let where_ = "\(place).charger_map[\(position)]"
                guard let fields = charger as? [String: Any], let station = fields["charger_id"] as? String, !station.isEmpty else {
                    throw UpstreamURL.Invalid(description: "an object with a 'charger_id' for \(where_)")
                }
                var secondary = RelayConfiguration.Secondary(url: url)
                for (key, value) in fields where key != "charger_id" {
                    guard let text = value as? String, !text.isEmpty else {
                        throw UpstreamURL.Invalid(description: "a non-empty string for '\(key)' of \(where_)")
                    }
                    switch key {
                    case "mapped_charger_id": secondary.upstreamID = text
                    case "password": secondary.password = text
                    case "id_tag":
                        guard text.utf8.count <= 20 else { throw UpstreamURL.Invalid(description: "an id tag of 1 to 20 characters for \(where_)") }
                        secondary.idTags = [RelayConfiguration.Secondary.everyTag: text]
                    default:
                        throw UpstreamURL.Invalid(description: "only charger_id, mapped_charger_id, password and id_tag in \(where_) (not '\(key)')")
                    }
                }
                mapped[station, default: []].append(secondary)
            }
        }
        file.secondaries = everyone
        for (station, secondaries) in mapped {
            var settings = RelayConfiguration.StationSettings(secondaries: secondaries)
            settings.secondariesAddToEveryones = true
            file.stations[station] = settings
        }
        return file
    }
}
