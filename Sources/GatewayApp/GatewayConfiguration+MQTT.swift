import Foundation
import MQTT

/// The MQTT client's settings: broker, transport (TCP, WebSocket, Unix socket), TLS, reconnects.
extension GatewayConfiguration {
    static func mqttConfiguration(_ reader: SettingsReader) throws(ConfigurationError) -> MQTTClientConfiguration {
        let transportName = reader.raw(Settings.mqttTransport).lowercased()
        guard let transport = MQTTClientConfiguration.Transport(rawValue: transportName) else {
            throw ConfigurationError(variable: Settings.mqttTransport.name, value: reader.raw(Settings.mqttTransport),
                                     expected: "tcp, websockets or unix")
        }
        let connectTimeout = try reader.seconds(Settings.mqttTimeout)!
        let base = try reader.seconds(Settings.mqttReconnectBaseDelay)!
        let maximum = try reader.seconds(Settings.mqttReconnectMaxDelay)!
        guard maximum >= base else {
            throw ConfigurationError(variable: Settings.mqttReconnectMaxDelay.name, value: reader.raw(Settings.mqttReconnectMaxDelay),
                                     expected: "at least MQTT_RECONNECT_BASE_DELAY (\(reader.raw(Settings.mqttReconnectBaseDelay)))")
        }
        let tls = try mqttTLS(reader)
        if tls != nil, transport == .unix {
            throw ConfigurationError(variable: Settings.mqttTLSCA.name, value: reader.raw(Settings.mqttTLSCA),
                                     expected: "no TLS with MQTT_TRANSPORT=unix")
        }
        let clientID = reader.raw(Settings.mqttClientID)
        let username = reader.raw(Settings.mqttUsername)
        let password = reader.raw(Settings.mqttPassword)
        return MQTTClientConfiguration(
            host: try reader.string(Settings.mqttHostname),
            port: try reader.integer(Settings.mqttPort, in: 1...65_535, expected: "a port number from 1 to 65535"),
            transport: transport,
            // Empty: the installation's own id, kept in DATA_DIR (``InstallationIdentity``), chosen at start-up.
            clientID: clientID,
            username: username.isEmpty ? nil : username,
            password: password.isEmpty ? nil : password,
            keepAlive: try reader.integer(Settings.mqttKeepalive, in: 5...65_535, expected: "seconds from 5 to 65535"),
            connectTimeout: connectTimeout,
            reconnectBaseDelay: base,
            reconnectMaxDelay: maximum,
            tls: tls,
            webSocket: try webSocket(reader))
    }

    /// TLS to the broker when MQTT_TLS_CA is set; each file must be readable now, not at the first connect.
    static func mqttTLS(_ reader: SettingsReader) throws(ConfigurationError) -> MQTTClientConfiguration.TLS? {
        func file(_ setting: Setting) throws(ConfigurationError) -> String? {
            let path = reader.raw(setting)
            guard !path.isEmpty else { return nil }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError(variable: setting.name, value: path, expected: "a readable PEM file")
            }
            return path
        }
        let certificate = try file(Settings.mqttTLSCert)
        let key = try file(Settings.mqttTLSKey)
        guard let ca = try file(Settings.mqttTLSCA) else {
            if certificate != nil || key != nil {
                throw ConfigurationError(variable: Settings.mqttTLSCA.name, value: nil, expected: "a CA file whenever MQTT_TLS_CERT or MQTT_TLS_KEY is set")
            }
            return nil
        }
        guard (certificate == nil) == (key == nil) else {
            throw ConfigurationError(variable: certificate == nil ? Settings.mqttTLSCert.name : Settings.mqttTLSKey.name, value: nil,
                                     expected: "MQTT_TLS_CERT and MQTT_TLS_KEY together")
        }
        return .init(caFile: ca, certificateFile: certificate, keyFile: key, insecure: try reader.boolean(Settings.mqttTLSInsecure))
    }

    /// `MQTT_WEBSOCKET_PATH` (default `/mqtt`) and `MQTT_WEBSOCKET_HEADERS` (a JSON object of strings, as
    /// ocpp2mqtt takes it), for `MQTT_TRANSPORT=websockets`.
    static func webSocket(_ reader: SettingsReader) throws(ConfigurationError) -> MQTTClientConfiguration.WebSocket {
        var path = reader.raw(Settings.mqttWebsocketPath)
        if path.isEmpty { path = "/mqtt" }
        if !path.hasPrefix("/") { path = "/" + path }
        guard !path.contains(where: { $0 == " " || $0.isNewline }) else {
            throw ConfigurationError(variable: Settings.mqttWebsocketPath.name, value: path, expected: "a URL path such as /mqtt")
        }
        let text = reader.raw(Settings.mqttWebsocketHeaders)
        guard !text.isEmpty else { return .init(path: path) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let headers = object as? [String: String],
            headers.allSatisfy({ !$0.key.isEmpty && !$0.key.contains(where: { $0 == ":" || $0.isWhitespace }) && !$0.value.contains(where: \.isNewline) })
        else {
            throw ConfigurationError(variable: Settings.mqttWebsocketHeaders.name, value: text,
                                     expected: #"a JSON object of header names and text values, such as {"Authorization": "Bearer ..."}"#)
        }
        return .init(path: path, headers: headers)
    }
}
