import CentralSystem
import Foundation
import Logging
import MQTT
import MQTTBridge
import NIOCore
import OCPP
import OCPPServer
import Relay

/// Everything the gateway is configured with, read from the environment and an optional env file.
public struct GatewayConfiguration: Sendable {
    public var server: OCPPServerConfiguration
    public var centralSystem: CentralSystemConfiguration
    /// Where the state file lives (`DATA_DIR`).
    public var dataDirectory: String
    public var logLevel: Logger.Level
    public var mqtt: MQTTClientConfiguration
    public var bridge: MQTTBridgeConfiguration
    public var admin: AdminConfiguration
    public var logging: LoggingConfiguration
    /// How long a graceful shutdown may take (`SHUTDOWN_TIMEOUT`).
    public var shutdownTimeout: Duration
    /// The event loops' threads (`EVENT_LOOP_THREADS`): every connection, chargers', the broker's and the admin
    /// API's, is served by one of them.
    public var eventLoopThreads: Int
    /// Relay mode (`RELAY_URL`, docs/relay.md); nil: the gateway is the central system.
    public var relay: RelayConfiguration?

    /// The admin HTTP listener.
    public struct AdminConfiguration: Sendable {
        public var host: String
        public var port: Int
        public var readyRequiresMQTT: Bool
        /// What the admin API asks for (`ADMIN_TOKEN`, `ADMIN_TOKEN_FILE`); nil: no token.
        public var token: String?
        /// The price of a kWh by who started the transaction (`PROVIDER_PRICES`), for the history's amounts.
        public var prices: [String: Double] = [:]
        /// Peers let in without the token (`ADMIN_TRUSTED_ADDRESSES`): Home Assistant's Ingress proxy.
        public var trustedAddresses: Set<String> = []
    }

    /// Where and how logs are written.
    public struct LoggingConfiguration: Sendable {
        public var format: LogOutput.Format
        public var file: String?
        public var maxSize: Int
        public var backups: Int
    }

    /// Reads the configuration.
    ///
    /// - Parameters:
    ///   - environment: the process environment; it wins over the env file, as with python-dotenv.
    ///   - workingDirectory: where a relative `ENV_FILE` and the default `.env` are looked for.
    /// - Throws: ``ConfigurationError`` naming the first bad variable. (Untyped on purpose: Swift 6.3.1's debug build
    ///   corrupted the returned configuration through a typed `throws(ConfigurationError)`, a crash in
    ///   ConfigurationTests that came and went with the layout of the configuration's fields.)
    public static func load(environment: [String: String], workingDirectory: String) throws -> GatewayConfiguration {
        var values = try envFileValues(environment: environment, workingDirectory: workingDirectory)
        values.merge(environment) { _, process in process }
        let reader = SettingsReader(values: values)
        return GatewayConfiguration(
            server: OCPPServerConfiguration(
                host: try reader.string(Settings.listenAddr),
                port: try reader.integer(Settings.listenPort, in: 0...65_535, expected: "a port number from 0 to 65535"),
                maxFrameSize: try reader.integer(Settings.maxFrameSize, in: 1024...(64 << 20),
                                                  expected: "a size in bytes from 1024 to 67108864"),
                pingInterval: try reader.seconds(Settings.pingInterval, allowZero: true).flatMap { $0 == .zero ? nil : $0 },
                pingTimeout: try reader.seconds(Settings.pingTimeout)!,
                access: StationAccess(passwords: try stationPasswords(reader, workingDirectory: workingDirectory),
                                      allowedStations: try allowedStations(reader)),
                maxStations: try reader.integer(Settings.maxStations, in: 1...1_000_000, expected: "a number of stations from 1 to 1000000"),
                handshakeTimeout: try reader.seconds(Settings.handshakeTimeout)!,
                tls: try chargerTLS(reader), versions: try ocppVersions(reader)),
            centralSystem: CentralSystemConfiguration(
                heartbeatInterval: .seconds(try reader.integer(Settings.heartbeatInterval, in: 1...86_400,
                                                                expected: "whole seconds from 1 to 86400")),
                authorizedTags: try reader.tagList(Settings.authorizedTags),
                callTimeout: try reader.seconds(Settings.callTimeout)!,
                remoteStartAuthorizationWindow: try reader.seconds(Settings.remoteStartWindow, allowZero: true)!,
                maxConnectors: try reader.integer(Settings.maxConnectors, in: 1...1000, expected: "a number of connectors from 1 to 1000"),
                maxKnownStations: try reader.integer(Settings.maxKnownStations, in: 1...10_000_000, expected: "a number of stations from 1 to 10000000")),
            dataDirectory: try reader.string(Settings.dataDir),
            logLevel: try reader.logLevel(Settings.logLevel),
            mqtt: try mqttConfiguration(reader),
            bridge: try bridgeConfiguration(reader),
            admin: AdminConfiguration(
                host: try reader.string(Settings.adminAddr),
                port: try reader.integer(Settings.adminPort, in: 0...65_535, expected: "a port number from 0 to 65535"),
                readyRequiresMQTT: try reader.boolean(Settings.readyRequiresMQTT),
                token: try adminToken(reader, workingDirectory: workingDirectory), prices: try providerPrices(reader),
                trustedAddresses: try trustedAddresses(reader)),
            logging: try loggingConfiguration(reader),
            shutdownTimeout: try reader.seconds(Settings.shutdownTimeout)!,
            eventLoopThreads: try eventLoopThreads(reader, coreCount: System.coreCount),
            relay: try relayConfiguration(reader, workingDirectory: workingDirectory))
    }

    /// `PROVIDER_PRICES`: `provider=price per kWh`, comma-separated (`primary=0.35,charger=0.30`).
    static func providerPrices(_ reader: SettingsReader) throws(ConfigurationError) -> [String: Double] {
        let text = reader.raw(Settings.providerPrices)
        var prices: [String: Double] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let price = Double(parts[1]), price.isFinite, price >= 0 else {
                throw ConfigurationError(variable: Settings.providerPrices.name, value: text,
                                         expected: "provider=price per kWh, comma-separated, such as primary=0.35,charger=0.30")
            }
            prices[parts[0]] = price
        }
        return prices
    }

    /// `auto`: half the cores the process may use, at least one. The broker usually runs on the same machine, and
    /// fewer threads than cores means fewer hand-overs between threads: on 2 cores beside mosquitto, one loop took
    /// 8 % less CPU per MeterValues than two (docs/performance.md).
    static func eventLoopThreads(_ reader: SettingsReader, coreCount: Int) throws(ConfigurationError) -> Int {
        if reader.raw(Settings.eventLoopThreads).lowercased() == "auto" { return max(1, coreCount / 2) }
        return try reader.integer(Settings.eventLoopThreads, in: 1...64, expected: "a number of threads from 1 to 64, or auto")
    }

    /// The passwords of `OCPP_STATION_PASSWORDS` and `OCPP_STATION_PASSWORDS_FILE` together; nil when neither is set.
    static func stationPasswords(_ reader: SettingsReader, workingDirectory: String) throws(ConfigurationError) -> [String: String]? {
        var passwords: [String: String] = [:]
        var configured = false
        let inline = reader.raw(Settings.stationPasswords)
        if !inline.isEmpty {
            configured = true
            passwords = try parsePasswords(inline, separator: ",", variable: Settings.stationPasswords.name, shown: "(hidden)")
        }
        let path = reader.raw(Settings.stationPasswordsFile)
        if !path.isEmpty {
            configured = true
            let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true))
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw ConfigurationError(variable: Settings.stationPasswordsFile.name, value: path, expected: "a readable file")
            }
            let fromFile = try parsePasswords(String(decoding: data, as: UTF8.self), separator: "\n",
                                              variable: Settings.stationPasswordsFile.name, shown: path)
            passwords.merge(fromFile) { _, file in file }
        }
        // Basic authentication ends the user id at the first ':' (RFC 7617): such a station could never log in.
        if let unusable = passwords.keys.sorted().first(where: { $0.contains(":") }) {
            throw ConfigurationError(variable: Settings.stationPasswords.name, value: "(hidden)",
                                     expected: "station ids without ':' ('\(unusable)' could never log in: HTTP Basic authentication ends the id at the first ':')")
        }
        return configured ? passwords : nil
    }

    /// A JSON object of strings, or `station:password` entries (the password is everything after the first `:`).
    private static func parsePasswords(_ text: String, separator: Character, variable: String, shown: String) throws(ConfigurationError) -> [String: String] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") {
            guard let object = try? JSONDecoder().decode([String: String].self, from: Data(trimmed.utf8)) else {
                throw ConfigurationError(variable: variable, value: shown, expected: #"a JSON object of station ids and passwords such as {"CP1": "secret"}"#)
            }
            return object
        }
        var passwords: [String: String] = [:]
        for entry in trimmed.split(separator: separator) {
            let line = entry.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex, line.index(after: colon) != line.endIndex else {
                throw ConfigurationError(variable: variable, value: shown, expected: "station:password entries (or a JSON object)")
            }
            passwords[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return passwords
    }

    /// TLS for chargers when OCPP_TLS_CERT and OCPP_TLS_KEY are set; the files are loaded now, so a bad one
    /// stops start-up.
    private static func chargerTLS(_ reader: SettingsReader) throws(ConfigurationError) -> TLSContextProvider? {
        let certificate = reader.raw(Settings.tlsCert)
        let key = reader.raw(Settings.tlsKey)
        let clientCA = reader.raw(Settings.tlsClientCA)
        if certificate.isEmpty && key.isEmpty {
            guard clientCA.isEmpty else {
                throw ConfigurationError(variable: Settings.tlsClientCA.name, value: clientCA, expected: "OCPP_TLS_CERT and OCPP_TLS_KEY as well")
            }
            return nil
        }
        guard !certificate.isEmpty, !key.isEmpty else {
            throw ConfigurationError(variable: certificate.isEmpty ? Settings.tlsCert.name : Settings.tlsKey.name, value: nil,
                                     expected: "OCPP_TLS_CERT and OCPP_TLS_KEY together")
        }
        do {
            return try TLSContextProvider(settings: TLSSettings(certificateFile: certificate, keyFile: key,
                                                                clientCAFile: clientCA.isEmpty ? nil : clientCA))
        } catch {
            throw ConfigurationError(variable: Settings.tlsCert.name, value: certificate, expected: "readable PEM files that fit together (\(error))")
        }
    }

    private static func ocppVersions(_ reader: SettingsReader) throws(ConfigurationError) -> [OCPPVersion] {
        let names = try reader.tagList(Settings.ocppVersions)
        var versions: [OCPPVersion] = []
        for name in names {
            guard let version = OCPPVersion(rawValue: name.lowercased()) else {
                throw ConfigurationError(variable: Settings.ocppVersions.name, value: reader.raw(Settings.ocppVersions),
                                         expected: "ocpp1.6 and/or ocpp2.0.1, comma-separated, preferred first")
            }
            if !versions.contains(version) { versions.append(version) }
        }
        guard !versions.isEmpty else {
            throw ConfigurationError(variable: Settings.ocppVersions.name, value: reader.raw(Settings.ocppVersions),
                                     expected: "at least one of ocpp1.6 and ocpp2.0.1")
        }
        return versions
    }

    private static func allowedStations(_ reader: SettingsReader) throws(ConfigurationError) -> Set<String>? {
        let stations = try reader.tagList(Settings.allowedStations)
        return stations.isEmpty ? nil : Set(stations)
    }

    private static func loggingConfiguration(_ reader: SettingsReader) throws(ConfigurationError) -> LoggingConfiguration {
        let formatText = reader.raw(Settings.logFormat)
        let format: LogOutput.Format
        if let known = LogOutput.Format(rawValue: formatText.lowercased()) {
            format = known
        } else if formatText.contains("%(") {
            format = .text  // an ocpp2mqtt (Python logging) format string
        } else {
            throw ConfigurationError(variable: Settings.logFormat.name, value: formatText, expected: "text or json")
        }
        let file = reader.raw(Settings.logFile)
        return LoggingConfiguration(
            format: format, file: file.isEmpty ? nil : file,
            maxSize: try reader.integer(Settings.logMaxSize, in: 1024...Int(Int32.max), expected: "a size in bytes of at least 1024"),
            backups: try reader.integer(Settings.logBackupCount, in: 0...1000, expected: "a number of files from 0 to 1000"))
    }

    /// `MQTT_CONNECTOR_1_TOPICS`: `auto`, or a boolean (`true` as before 0.9).
    private static func connectorOneTopics(_ reader: SettingsReader) throws(ConfigurationError) -> TopicLayout.ConnectorOneTopics {
        if reader.raw(Settings.mqttConnectorOneTopics).lowercased() == "auto" { return .severalConnectors }
        do {
            return try reader.boolean(Settings.mqttConnectorOneTopics) ? .always : .never
        } catch {
            throw ConfigurationError(variable: error.variable, value: error.value, expected: "auto, true or false")
        }
    }

    private static func bridgeConfiguration(_ reader: SettingsReader) throws(ConfigurationError) -> MQTTBridgeConfiguration {
        let maxCurrent = try reader.number(Settings.maxCurrent, in: 1...1000, expected: "amperes from 1 to 1000")
        let step = try reader.number(Settings.currentStep, in: 0.1...maxCurrent, expected: "amperes from 0.1 to OCPP_MAX_CURRENT")
        let topics = TopicLayout(basePath: try reader.string(Settings.mqttBasePath),
                                 useStationName: try reader.boolean(Settings.mqttUseStationName),
                                 connectorOneTopics: try connectorOneTopics(reader))
        let discovery = try reader.boolean(Settings.haDiscovery)
            ? DiscoveryConfiguration(prefix: try reader.string(Settings.haDiscoveryPrefix), statusTopic: try reader.string(Settings.haStatusTopic))
            : nil
        let remoteTag = try reader.string(Settings.remoteIDTag)
        guard remoteTag.unicodeScalars.count <= 20 else {
            throw ConfigurationError(variable: Settings.remoteIDTag.name, value: remoteTag, expected: "an id tag of at most 20 characters")
        }
        var configuration = MQTTBridgeConfiguration(
            topics: topics,
            qos: try reader.integer(Settings.mqttQoS, in: 0...2, expected: "0, 1 or 2"),
            expectedStations: try reader.tagList(Settings.expectedChargePoints),
            retryAttempts: try reader.integer(Settings.commandRetryAttempts, in: 0...100, expected: "a whole number from 0 to 100"),
            retryBaseDelay: try reader.seconds(Settings.commandRetryBaseDelay)!,
            discovery: discovery,
            controls: ControlConfiguration(maxCurrent: maxCurrent, currentStep: step, remoteIDTag: remoteTag,
                                           relayMode: !reader.raw(Settings.relayURL).isEmpty),
            version: gatewayVersion,
            outboxLimits: OutboxLimits(
                messages: try reader.integer(Settings.outboxMaxMessages, in: 100...100_000_000, expected: "a number of messages from 100 to 100000000"),
                bytes: try reader.integer(Settings.outboxMaxBytes, in: 65536...(1 << 40), expected: "a size in bytes from 65536 to 1099511627776")),
            commandQueueLimit: try reader.integer(Settings.commandQueueMax, in: 1...100_000, expected: "a number of commands from 1 to 100000"))
        configuration.skipUnchanged = try reader.boolean(Settings.mqttSkipUnchanged)
        return configuration
    }

    /// What `<base>/bridge/info` publishes: the version and the settings, without secrets (no password, no tags).
    func publicInfo(clientID: String) -> [String: JSONValue] {
        [
            "version": .string(gatewayVersion),
            "event_loop_threads": .int(eventLoopThreads),
            "ocpp": .object([
                "listen_address": .string(server.host), "listen_port": .int(server.port),
                "versions": .array(server.versions.map { .string($0.rawValue) }),
                "heartbeat_interval": .int(Int(centralSystem.heartbeatInterval.seconds)),
                "call_timeout": .double(centralSystem.callTimeout.seconds),
                "authorized_tags": .int(centralSystem.authorizedTags.count),
                "security_profile": .int(server.tls?.settings.clientCAFile != nil ? 3 : server.tls != nil ? 2 : server.access.passwords == nil ? 0 : 1),
                "allowed_stations": .int(server.access.allowedStations?.count ?? 0),
                "max_stations": .int(server.maxStations),
            ]),
            "mqtt": .object([
                "broker": .string(mqtt.brokerDescription), "client_id": .string(clientID),
                "base_path": .string(bridge.topics.basePath), "use_station_name": .bool(bridge.topics.useStationName),
                "connector_1_topics": .string(bridge.topics.connectorOneTopics.rawValue), "skip_unchanged": .bool(bridge.skipUnchanged),
                "qos": .int(bridge.qos), "authenticated": .bool(mqtt.username != nil), "tls": .bool(mqtt.tls != nil),
            ]),
            "home_assistant": .object([
                "discovery": .bool(bridge.discovery != nil), "prefix": bridge.discovery.map { .string($0.prefix) } ?? .null,
            ]),
            "commands": .object([
                "retry_attempts": .int(bridge.retryAttempts), "retry_base_delay": .double(bridge.retryBaseDelay.seconds),
                "max_current": .double(bridge.controls.maxCurrent),
            ]),
        ]
    }

    /// `ADMIN_TRUSTED_ADDRESSES`: IPv4 or IPv6 addresses, comma-separated (no networks: a peer is trusted by its
    /// exact address).
    static func trustedAddresses(_ reader: SettingsReader) throws(ConfigurationError) -> Set<String> {
        let value = reader.raw(Settings.adminTrustedAddresses)
        var addresses: Set<String> = []
        for item in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard (try? SocketAddress(ipAddress: item, port: 0)) != nil else {
                throw ConfigurationError(variable: Settings.adminTrustedAddresses.name, value: value,
                                         expected: "IP addresses separated by commas, such as 172.30.32.2")
            }
            addresses.insert(item)
        }
        return addresses
    }

    /// `ADMIN_TOKEN`, or the first line of `ADMIN_TOKEN_FILE` (trimmed); nil when neither is set.
    static func adminToken(_ reader: SettingsReader, workingDirectory: String) throws(ConfigurationError) -> String? {
        let token = reader.raw(Settings.adminToken)
        let path = reader.raw(Settings.adminTokenFile)
        switch (token.isEmpty, path.isEmpty) {
        case (true, true):
            return nil
        case (false, false):
            throw ConfigurationError(variable: Settings.adminTokenFile.name, value: path, expected: "ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both")
        case (false, true):
            return token
        case (true, false):
            let full = path.hasPrefix("/") ? path : (workingDirectory as NSString).appendingPathComponent(path)
            guard let data = FileManager.default.contents(atPath: full) else {
                throw ConfigurationError(variable: Settings.adminTokenFile.name, value: path, expected: "a readable file holding the token")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, !text.contains("\n") else {
                throw ConfigurationError(variable: Settings.adminTokenFile.name, value: path, expected: "a file holding the token on one line")
            }
            return text
        }
    }

    private static func envFileValues(environment: [String: String], workingDirectory: String) throws(ConfigurationError) -> [String: String] {
        let explicit = environment[Settings.envFile.name].flatMap { $0.isEmpty ? nil : $0 }
        let path = explicit ?? Settings.envFile.defaultValue
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true))
        guard let data = FileManager.default.contents(atPath: url.path) else {
            if explicit != nil {
                throw ConfigurationError(variable: Settings.envFile.name, value: path, expected: "a readable env file")
            }
            return [:]
        }
        do {
            return Dictionary(try EnvFile.parse(String(decoding: data, as: UTF8.self)), uniquingKeysWith: { _, last in last })
        } catch {
            throw ConfigurationError(variable: Settings.envFile.name, value: path, expected: "python-dotenv syntax (\(error))")
        }
    }
}
