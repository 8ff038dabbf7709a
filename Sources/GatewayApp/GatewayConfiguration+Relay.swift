import Foundation
import OCPP
import Relay

extension GatewayConfiguration {
    /// `RELAY_*`: nil without `RELAY_URL`. A setting that does not fit stops start-up naming it.
    static func relayConfiguration(_ reader: SettingsReader, workingDirectory: String) throws(ConfigurationError) -> RelayConfiguration? {
        let text = reader.raw(Settings.relayURL)
        guard !text.isEmpty else { return nil }
        let url: UpstreamURL
        do {
            url = try UpstreamURL(text)
        } catch {
            throw ConfigurationError(variable: Settings.relayURL.name, value: text, expected: error.description)
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
        var stations: [String: RelayConfiguration.StationSettings] = [:]
        let stationsFile = reader.raw(Settings.relayStationsFile)
        if !stationsFile.isEmpty {
            let resolved = URL(fileURLWithPath: stationsFile, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).path
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw ConfigurationError(variable: Settings.relayStationsFile.name, value: stationsFile, expected: "a readable file")
            }
            do {
                stations = try RelayConfiguration.parseStations(Array(data))
            } catch {
                throw ConfigurationError(variable: Settings.relayStationsFile.name, value: stationsFile, expected: error.description)
            }
        }
        var denied: Set<String> = []
        for name in reader.raw(Settings.relayDeniedActions).split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
        where !name.isEmpty {
            guard let action = Action.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(name) == .orderedSame }),
                action.initiator != .chargePoint
            else {
                throw ConfigurationError(variable: Settings.relayDeniedActions.name, value: reader.raw(Settings.relayDeniedActions),
                                         expected: "OCPP 1.6 actions a central system sends, comma-separated ('\(name)' is not one)")
            }
            denied.insert(action.rawValue)
        }
        let secondaries: [RelayConfiguration.Secondary]
        do {
            secondaries = try RelayConfiguration.parseSecondaries(reader.raw(Settings.relaySecondaryURLs))
        } catch {
            throw ConfigurationError(variable: Settings.relaySecondaryURLs.name, value: reader.raw(Settings.relaySecondaryURLs),
                                     expected: "ws:// or wss:// URLs, comma-separated (\(error.description))")
        }
        let modeText = reader.raw(Settings.relayOfflineMode)
        guard let mode = RelayConfiguration.OfflineMode(rawValue: modeText.lowercased()) else {
            throw ConfigurationError(variable: Settings.relayOfflineMode.name, value: modeText, expected: "local or close")
        }
        return RelayConfiguration(
            url: url, authentication: authentication, tlsCA: ca.isEmpty ? nil : ca,
            offlineGrace: try reader.seconds(Settings.relayOfflineGrace)!, answerTimeout: try reader.seconds(Settings.callTimeout)!,
            stations: stations, deniedActions: denied, offlineMode: mode,
            queueLimit: try reader.integer(Settings.relayQueueMax, in: 10...10_000_000, expected: "a number of messages from 10 to 10000000"),
            snoop: try reader.boolean(Settings.relaySnoop), reconnectMaxDelay: try reader.seconds(Settings.relayReconnectMaxDelay)!,
            secondaries: secondaries)
    }
}
