import Foundation
import OCPP
import Relay

extension GatewayConfiguration {
    /// The names the mirroring proxy's users know: read when the gateway's own is unset (`RELAY_*` wins).
    static let primaryAlias = "PRIMARY_CSMS_URL"
    static let secondariesAlias = "SECONDARY_CSMS_URLS"

    /// `RELAY_*`: nil without an upstream (`RELAY_URL`, `PRIMARY_CSMS_URL`, or `primary_csms_url` in the proxy's form
    /// of `RELAY_STATIONS_FILE`). A setting that does not fit stops start-up naming it.
    static func relayConfiguration(_ reader: SettingsReader, workingDirectory: String) throws(ConfigurationError) -> RelayConfiguration? {
        var file = StationsFile()
        let stationsFile = reader.raw(Settings.relayStationsFile)
        if !stationsFile.isEmpty {
            let resolved = URL(fileURLWithPath: stationsFile, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).path
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw ConfigurationError(variable: Settings.relayStationsFile.name, value: stationsFile, expected: "a readable file")
            }
            do {
                file = try StationsFile.parse(Array(data))
            } catch {
                throw ConfigurationError(variable: Settings.relayStationsFile.name, value: stationsFile, expected: error.description)
            }
        }
        let alias = reader.values[primaryAlias]?.trimmingCharacters(in: .whitespaces) ?? ""
        let (variable, text) = !reader.raw(Settings.relayURL).isEmpty ? (Settings.relayURL.name, reader.raw(Settings.relayURL))
            : !alias.isEmpty ? (primaryAlias, alias) : (Settings.relayStationsFile.name, file.primary.map { "\($0)" } ?? "")
        guard !text.isEmpty else { return nil }
        var url: UpstreamURL
        if variable == Settings.relayStationsFile.name, let primary = file.primary {
            url = primary
        } else {
            do {
                url = try UpstreamURL(text)
            } catch {
                throw ConfigurationError(variable: variable, value: text, expected: error.description)
            }
        }
        let authentication: RelayConfiguration.Authentication
        switch reader.raw(Settings.relayAuth).lowercased() {
        case "forward": authentication = .forward
        case "none": authentication = .none
        case "basic":
            let path = reader.raw(Settings.relayPasswordFile)
            let resolved = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).path
            guard !path.isEmpty, let data = FileManager.default.contents(atPath: resolved),
                let password = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !password.isEmpty
            else {
                throw ConfigurationError(variable: Settings.relayPasswordFile.name, value: path,
                                         expected: "a readable file with the password (RELAY_AUTH=basic needs one)")
            }
            authentication = .basic(password: password)
        default:
            throw ConfigurationError(variable: Settings.relayAuth.name, value: reader.raw(Settings.relayAuth), expected: "forward, basic or none")
        }
        let ca = reader.raw(Settings.relayTLSCA)
        if !ca.isEmpty, !FileManager.default.isReadableFile(atPath: ca) {
            throw ConfigurationError(variable: Settings.relayTLSCA.name, value: ca, expected: "a readable PEM file")
        }
        var denied: Set<String> = []
        for name in reader.raw(Settings.relayDeniedActions).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
        where !name.isEmpty {
            guard let (action, key) = RelayConfiguration.centralSystemAction(name) else {
                throw ConfigurationError(variable: Settings.relayDeniedActions.name, value: reader.raw(Settings.relayDeniedActions),
                                         expected: "OCPP 1.6 or 2.0.1 actions a central system sends, or ChangeConfiguration:<key>, comma-separated ('\(name)' is not one)")
            }
            denied.insert(key.map { "\(action):\($0)" } ?? action)
        }
        let secondariesAlias = reader.values[Self.secondariesAlias]?.trimmingCharacters(in: .whitespaces) ?? ""
        let (secondariesVariable, secondariesText) = !reader.raw(Settings.relaySecondaryURLs).isEmpty
            ? (Settings.relaySecondaryURLs.name, reader.raw(Settings.relaySecondaryURLs)) : (Self.secondariesAlias, secondariesAlias)
        var secondaries = file.secondaries ?? []
        if !secondariesText.isEmpty {
            do {
                secondaries = try RelayConfiguration.parseSecondaries(secondariesText)
            } catch {
                throw ConfigurationError(variable: secondariesVariable, value: secondariesText,
                                         expected: "ws:// or wss:// URLs, comma-separated (\(error.description))")
            }
        }
        let modeText = reader.raw(Settings.relayOfflineMode)
        guard let mode = RelayConfiguration.OfflineMode(rawValue: modeText.lowercased()) else {
            throw ConfigurationError(variable: Settings.relayOfflineMode.name, value: modeText, expected: "local or close")
        }
        let rightsText = reader.raw(Settings.relaySecondaryRights)
        let rights: [String: RelayConfiguration.Right]
        do {
            rights = try RelayConfiguration.parseRights(rightsText)
        } catch {
            throw ConfigurationError(variable: Settings.relaySecondaryRights.name, value: rightsText, expected: error.description)
        }
        var configuration = RelayConfiguration(
            url: url, authentication: authentication, tlsCA: ca.isEmpty ? nil : ca,
            offlineGrace: try reader.seconds(Settings.relayOfflineGrace)!, answerTimeout: try reader.seconds(Settings.callTimeout)!,
            stations: file.stations, deniedActions: denied, offlineMode: mode,
            queueLimit: try reader.integer(Settings.relayQueueMax, in: 10...10_000_000, expected: "a number of messages from 10 to 10000000"),
            snoop: try reader.boolean(Settings.relaySnoop), reconnectMaxDelay: try reader.seconds(Settings.relayReconnectMaxDelay)!,
            secondaries: secondaries, ignoredStationsFileKeys: file.ignoredKeys)
        configuration.applySecondaryRights(rights)
        func names(_ setting: Setting) -> Set<String> {
            Set(reader.raw(setting).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        configuration.control.idle = try reader.seconds(Settings.relayControlIdle)!
        configuration.control.preferred = names(Settings.relayControlPreferred)
        configuration.control.blocked = names(Settings.relayControlBlocked)
        configuration.control.minimumInterval = try reader.seconds(Settings.relayControlMinInterval, allowZero: true)!
        if let conflict = configuration.exclusiveConflict() {
            let variable = rightsText.isEmpty && !stationsFile.isEmpty ? Settings.relayStationsFile : Settings.relaySecondaryRights
            throw ConfigurationError(variable: variable.name, value: reader.raw(variable), expected: "one backend per exclusive action: \(conflict)")
        }
        return configuration
    }
}
