import Foundation
import Testing

@testable import GatewayApp

@Suite struct ConfigurationTests {
    private func load(_ environment: [String: String], directory: String = "/nonexistent") throws(ConfigurationError) -> GatewayConfiguration {
        do {
            return try GatewayConfiguration.load(environment: environment, workingDirectory: directory)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            Issue.record("not a ConfigurationError: \(error)")
            throw ConfigurationError(variable: "?", value: nil, expected: "\(error)")
        }
    }

    @Test func relayModeIsOffWithoutRelayURLAndItsSettingsAreChecked() throws {
        #expect(try load([:]).relay == nil)
        let relay = try #require(try load(["RELAY_URL": "ws://127.0.0.1:9000/ocpp"]).relay)
        #expect(relay.offlineMode == .local && relay.queueLimit == 5000 && !relay.snoop && relay.offlineGrace == .seconds(30)
            && relay.reconnectMaxDelay == .seconds(30))
        let set = try #require(try load(["RELAY_URL": "ws://h/ocpp", "RELAY_OFFLINE_MODE": "CLOSE", "RELAY_QUEUE_MAX": "10",
                                         "RELAY_SNOOP": "yes", "RELAY_RECONNECT_MAX_DELAY": "2.5"]).relay)
        #expect(set.offlineMode == .close && set.queueLimit == 10 && set.snoop && set.reconnectMaxDelay == .milliseconds(2500))
        for (variable, value) in [("RELAY_OFFLINE_MODE", "queue"), ("RELAY_QUEUE_MAX", "9"), ("RELAY_QUEUE_MAX", "lots"), ("RELAY_SNOOP", "maybe"),
                                  ("RELAY_RECONNECT_MAX_DELAY", "0"), ("RELAY_DENIED_ACTIONS", "Heartbeat"), ("RELAY_AUTH", "digest"),
                                  ("RELAY_SECONDARY_URLS", "ws://a/x,ftp://b"), ("RELAY_SECONDARY_RIGHTS", "Reset")] {
            #expect(throws: ConfigurationError.self) { try load(["RELAY_URL": "ws://h/ocpp", variable: value]) }
            do {
                _ = try load(["RELAY_URL": "ws://h/ocpp", variable: value])
            } catch {
                #expect(error.variable == variable)
            }
        }
    }

    @Test func twoBackendsThatCouldBothResetStopTheStartUp() throws {
        let both = ["RELAY_URL": "ws://main/ocpp", "RELAY_SECONDARY_URLS": "ws://sec/x", "RELAY_SECONDARY_RIGHTS": "Reset=forward"]
        do {
            _ = try load(both)
            Issue.record("two backends that could both reset were taken")
        } catch {
            #expect(error.variable == "RELAY_SECONDARY_RIGHTS" && error.expected.contains("the primary") && error.expected.contains("ws://sec"))
        }
        var one = both
        one["RELAY_DENIED_ACTIONS"] = "Reset"
        #expect(try load(one).relay?.secondaries.first?.forwards("Reset") == true)
        // ChangeConfiguration counts per key.
        let keys = ["RELAY_URL": "ws://main/ocpp", "RELAY_SECONDARY_URLS": "ws://sec/x",
                    "RELAY_SECONDARY_RIGHTS": "ChangeConfiguration:MeterValueSampleInterval=forward",
                    "RELAY_DENIED_ACTIONS": "ChangeConfiguration:MeterValueSampleInterval"]
        #expect(try load(keys).relay?.denies("ChangeConfiguration", key: "MeterValueSampleInterval") == true)
        var clash = keys
        clash["RELAY_DENIED_ACTIONS"] = "ChangeConfiguration:HeartbeatInterval"
        #expect(throws: ConfigurationError.self) { try load(clash) }
        // Issue 24: 2.0.1's names too (for 2.0.1 chargers), in any case, kept in the spec's spelling; rights likewise.
        let v201 = ["RELAY_URL": "ws://main/ocpp", "RELAY_DENIED_ACTIONS": "setvariables, RequestStartTransaction",
                    "RELAY_SECONDARY_URLS": "ws://sec/x", "RELAY_SECONDARY_RIGHTS": "RequestStopTransaction=forward"]
        let relay = try #require(try load(v201).relay)
        #expect(relay.denies("SetVariables", key: nil) && relay.denies("RequestStartTransaction", key: nil) && !relay.denies("Reset", key: nil))
        #expect(relay.secondaries.first?.forwards("RequestStopTransaction") == true)
        #expect(relay.secondaries.first?.forwards("GetVariables") == true && relay.secondaries.first?.forwards("SetVariables") == false)
    }

    @Test func theMirroringProxysNamesWorkAndTheGatewaysOwnWin() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(#"{"primary_csms_url": "ws://from-file/ocpp", "secondary_csms": [{"url": "ws://sec-file/x"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: directory).appendingPathComponent("config.json"))
        let fromFile = try #require(try load(["RELAY_STATIONS_FILE": "config.json"], directory: directory).relay)
        #expect(fromFile.url.host == "from-file" && fromFile.secondaries.map(\.url.host) == ["sec-file"])
        let aliases = try #require(try load(["RELAY_STATIONS_FILE": "config.json", "PRIMARY_CSMS_URL": "ws://alias/ocpp",
                                             "SECONDARY_CSMS_URLS": "ws://sec-alias/x"], directory: directory).relay)
        #expect(aliases.url.host == "alias" && aliases.secondaries.map(\.url.host) == ["sec-alias"])
        let own = try #require(try load(["RELAY_STATIONS_FILE": "config.json", "PRIMARY_CSMS_URL": "ws://alias/ocpp", "RELAY_URL": "ws://own/ocpp",
                                         "SECONDARY_CSMS_URLS": "ws://sec-alias/x", "RELAY_SECONDARY_URLS": "ws://sec-own/x"], directory: directory).relay)
        #expect(own.url.host == "own" && own.secondaries.map(\.url.host) == ["sec-own"])
        do {
            _ = try load(["PRIMARY_CSMS_URL": "http://wrong"])
            Issue.record("a bad alias was taken")
        } catch {
            #expect(error.variable == "PRIMARY_CSMS_URL")
        }
    }

    @Test func defaultsMatchTheReference() throws {
        let configuration = try load([:])
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.server.port == 3000)
        #expect(configuration.server.maxFrameSize == 1 << 20)
        #expect(configuration.server.pingInterval == .seconds(30))
        #expect(configuration.centralSystem.heartbeatInterval == .seconds(300))
        #expect(configuration.centralSystem.callTimeout == .seconds(30))
        #expect(configuration.centralSystem.authorizedTags == [])
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.logLevel == .info)
    }

    @Test func readsEveryValue() throws {
        let configuration = try load([
            "LISTEN_ADDR": "127.0.0.1", "LISTEN_PORT": "9000", "OCPP_HEARTBEAT_INTERVAL": "60", "OCPP_CALL_TIMEOUT": "2.5",
            "OCPP_PING_INTERVAL": "0", "OCPP_PING_TIMEOUT": "5", "OCPP_MAX_FRAME_SIZE": "65536",
            "AUTHORIZED_TAG_ID_LIST": #"["johnny-car", "other-car"]"#, "DATA_DIR": "/var/lib/gw", "LOG_LEVEL": "warning",
            "OCPP_REMOTE_START_AUTH_WINDOW": "0",
        ])
        #expect(configuration.server.host == "127.0.0.1")
        #expect(configuration.server.port == 9000)
        #expect(configuration.server.pingInterval == nil)
        #expect(configuration.server.pingTimeout == .seconds(5))
        #expect(configuration.server.maxFrameSize == 65536)
        #expect(configuration.centralSystem.heartbeatInterval == .seconds(60))
        #expect(configuration.centralSystem.callTimeout == .milliseconds(2500))
        #expect(configuration.centralSystem.remoteStartAuthorizationWindow == .zero)
        #expect(configuration.centralSystem.authorizedTags == ["johnny-car", "other-car"])
        #expect(configuration.dataDirectory == "/var/lib/gw")
        #expect(configuration.logLevel == .warning)
    }

    @Test func ocpp2mqttsLogFormatMeansText() throws {
        #expect(try load(["LOG_FORMAT": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"]).logging.format == .text)
        #expect(try load(["LOG_FORMAT": "JSON"]).logging.format == .json)
        #expect(throws: ConfigurationError(variable: "LOG_FORMAT", value: "xml", expected: "text or json")) { try load(["LOG_FORMAT": "xml"]) }
    }

    @Test func trustedAddressesAreExactIPAddresses() throws {
        #expect(try load([:]).admin.trustedAddresses.isEmpty)
        #expect(try load(["ADMIN_TRUSTED_ADDRESSES": " 172.30.32.2, ::1 "]).admin.trustedAddresses == ["172.30.32.2", "::1"])
        #expect(throws: ConfigurationError.self) { try load(["ADMIN_TRUSTED_ADDRESSES": "172.30.32.0/23"]) }
        #expect(throws: ConfigurationError.self) { try load(["ADMIN_TRUSTED_ADDRESSES": "supervisor"]) }
    }

    @Test func connectorOneTopicsAreForSeveralConnectorsUnlessSet() throws {
        #expect(try load([:]).bridge.topics.connectorOneTopics == .severalConnectors)
        #expect(try load(["MQTT_CONNECTOR_1_TOPICS": "AUTO"]).bridge.topics.connectorOneTopics == .severalConnectors)
        #expect(try load(["MQTT_CONNECTOR_1_TOPICS": "true"]).bridge.topics.connectorOneTopics == .always)
        #expect(try load(["MQTT_CONNECTOR_1_TOPICS": "on"]).bridge.topics.connectorOneTopics == .always)
        #expect(try load(["MQTT_CONNECTOR_1_TOPICS": "false"]).bridge.topics.connectorOneTopics == .never)
        #expect(throws: ConfigurationError(variable: "MQTT_CONNECTOR_1_TOPICS", value: "sometimes", expected: "auto, true or false")) {
            try load(["MQTT_CONNECTOR_1_TOPICS": "sometimes"])
        }
    }

    @Test func eventLoopThreadsAreHalfTheCoresUnlessSet() throws {
        func threads(_ value: String?, cores: Int) throws(ConfigurationError) -> Int {
            try GatewayConfiguration.eventLoopThreads(SettingsReader(values: value.map { ["EVENT_LOOP_THREADS": $0] } ?? [:]),
                                                      coreCount: cores)
        }
        #expect(try threads(nil, cores: 1) == 1)
        #expect(try threads(nil, cores: 2) == 1)
        #expect(try threads("AUTO", cores: 8) == 4)
        #expect(try threads("3", cores: 2) == 3)
        #expect(try load(["EVENT_LOOP_THREADS": "2"]).eventLoopThreads == 2)
        #expect(try load(["EVENT_LOOP_THREADS": "2"]).publicInfo(clientID: "x")["event_loop_threads"] == .int(2))
    }

    @Test func acceptsACommaSeparatedTagList() throws {
        #expect(try load(["AUTHORIZED_TAG_ID_LIST": " a, b ,,c "]).centralSystem.authorizedTags == ["a", "b", "c"])
    }

    @Test(arguments: [
        ("LISTEN_PORT", "abc", "LISTEN_PORT='abc' is invalid: expected a port number from 0 to 65535"),
        ("LISTEN_PORT", "70000", "LISTEN_PORT='70000' is invalid: expected a port number from 0 to 65535"),
        ("OCPP_HEARTBEAT_INTERVAL", "0", "OCPP_HEARTBEAT_INTERVAL='0' is invalid: expected whole seconds from 1 to 86400"),
        ("OCPP_CALL_TIMEOUT", "-1", "OCPP_CALL_TIMEOUT='-1' is invalid: expected a number of seconds above 0"),
        ("OCPP_PING_INTERVAL", "soon", "OCPP_PING_INTERVAL='soon' is invalid: expected a number of seconds, 0 or more"),
        ("AUTHORIZED_TAG_ID_LIST", "[\"a\",", #"AUTHORIZED_TAG_ID_LIST='["a",' is invalid: expected a JSON list of strings such as ["tag1","tag2"]"#),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is invalid: expected TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ("EVENT_LOOP_THREADS", "0", "EVENT_LOOP_THREADS='0' is invalid: expected a number of threads from 1 to 64, or auto"),
        ("EVENT_LOOP_THREADS", "many", "EVENT_LOOP_THREADS='many' is invalid: expected a number of threads from 1 to 64, or auto"),
    ])
    func badValuesAreNamedInOneLine(variable: String, value: String, message: String) {
        #expect(throws: ConfigurationError.self) { try load([variable: value]) }
        do {
            _ = try load([variable: value])
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func readsTheEnvFileAndTheEnvironmentWins() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envfile-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            # the reference's sample
            MQTT_BASEPATH='ocpp/chargerX'
            LISTEN_PORT=3100   # inline comment
            export LISTEN_ADDR="127.0.0.2"
            AUTHORIZED_TAG_ID_LIST='["johnny-car","other-car"]'
            LOG_LEVEL=debug
            """.write(to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let configuration = try load(["LOG_LEVEL": "ERROR"], directory: directory.path)
        #expect(configuration.server.port == 3100)
        #expect(configuration.server.host == "127.0.0.2")
        #expect(configuration.centralSystem.authorizedTags == ["johnny-car", "other-car"])
        #expect(configuration.logLevel == .error)

        try "LISTEN_PORT=3200\n".write(to: directory.appendingPathComponent("other.env"), atomically: true, encoding: .utf8)
        #expect(try load(["ENV_FILE": "other.env"], directory: directory.path).server.port == 3200)
    }

    @Test func aMissingExplicitEnvFileIsAnError() {
        #expect(throws: ConfigurationError(variable: "ENV_FILE", value: "missing.env", expected: "a readable env file")) {
            try load(["ENV_FILE": "missing.env"])
        }
    }

    @Test func envFileSyntax() throws {
        let entries = try EnvFile.parse("""
            A=1
            B = two words
            C="quoted # not a comment"
            D='single \\n literal'
            E="escaped \\"q\\" \\n"
            F=
            G=x # comment
            """)
        #expect(entries.map(\.key) == ["A", "B", "C", "D", "E", "F", "G"])
        #expect(entries.map(\.value) == ["1", "two words", "quoted # not a comment", "single \\n literal", "escaped \"q\" \n", "", "x"])
        #expect(throws: EnvFile.ParseError.self) { try EnvFile.parse("just words") }
        #expect(throws: EnvFile.ParseError.self) { try EnvFile.parse("A=\"unterminated") }
    }

    @Test func everySettingIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for setting in Settings.all {
            #expect(docs.contains("`\(setting.name)`"), "\(setting.name) is missing from docs/configuration.md")
            let documentedDefault = setting.defaultValue.isEmpty ? "—" : "`\(setting.defaultValue)`"
            #expect(docs.contains("`\(setting.name)` | \(documentedDefault) |"), "docs/configuration.md gives \(setting.name) another default")
        }
    }
}
