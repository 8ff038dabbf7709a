import Testing

@testable import Relay

/// `RELAY_URL`: where each station's upstream connection goes.
@Suite struct UpstreamURLTests {
    @Test func theStationIDIsAppendedOrReplacesItsPlaceholder() throws {
        let plain = try UpstreamURL("wss://csms.example.com/ocpp")
        #expect(plain.secure && plain.host == "csms.example.com" && plain.port == 443)
        #expect(plain.target(for: "CP 1/ü") == "/ocpp/CP%201%2F%C3%BC")
        let slash = try UpstreamURL("ws://10.0.0.5:9000/ocpp/")
        #expect(!slash.secure && slash.port == 9000 && slash.target(for: "CP1") == "/ocpp/CP1")
        let placeholder = try UpstreamURL("ws://[::1]:9000/cs/{station}/ws?tenant=7")
        #expect(placeholder.host == "::1" && placeholder.target(for: "CP1") == "/cs/CP1/ws?tenant=7")
        let query = try UpstreamURL("ws://h/ocpp?tenant=7")
        #expect(query.target(for: "CP1") == "/ocpp/CP1?tenant=7")
        #expect(try UpstreamURL("ws://h").target(for: "CP1") == "/CP1")
        #expect(try UpstreamURL("ws://h").description == "ws://h:80/{station}")
    }

    @Test(arguments: ["http://h/ocpp", "h/ocpp", "ws://", "ws://:80/x", "ws://h:0/x", "ws://h:99999/x", "ws://user:pw@h/x", "ws://[::1/x"])
    func badURLsAreRefused(_ text: String) {
        #expect(throws: UpstreamURL.Invalid.self) { try UpstreamURL(text) }
    }

    @Test func theAuthorizationFollowsRelayAuth() throws {
        let url = try UpstreamURL("ws://h/ocpp")
        #expect(RelayConfiguration(url: url).authorization(for: "CP1", charger: "Basic x") == "Basic x")
        #expect(RelayConfiguration(url: url, authentication: .none).authorization(for: "CP1", charger: "Basic x") == nil)
        #expect(RelayConfiguration(url: url, authentication: .basic(password: "secret")).authorization(for: "CP1", charger: "Basic x")
            == "Basic Q1AxOnNlY3JldA==")
    }
}

/// `RELAY_STATIONS_FILE`: per-station upstream, id and password.
@Suite struct RelayStationsFileTests {
    @Test func perStationSettingsTakeThePlaceOfTheGlobalOnes() throws {
        let stations = try RelayConfiguration.parseStations(Array("""
            {"garage": {"upstream_id": "DE*ABC*E1", "password": "p"}, "street": {"url": "wss://other/cs/{station}"}}
            """.utf8))
        let configuration = RelayConfiguration(url: try UpstreamURL("ws://main/ocpp"), stations: stations)
        #expect(configuration.upstream(for: "garage").target == "/ocpp/DE%2AABC%2AE1")
        #expect(configuration.authorization(for: "garage", charger: "Basic charger") == "Basic REUqQUJDKkUxOnA=")  // DE*ABC*E1:p
        let street = configuration.upstream(for: "street")
        #expect(street.url.secure && street.url.host == "other" && street.target == "/cs/street")
        #expect(configuration.authorization(for: "street", charger: "Basic charger") == "Basic charger")  // forward
        #expect(configuration.upstream(for: "other").target == "/ocpp/other")
    }

    @Test func secondariesComeFromTheStationsFileOrRelaySecondaryURLs() throws {
        let stations = try RelayConfiguration.parseStations(Array(#"""
            {"garage": {"secondaries": [{"url": "wss://sec/ocpp", "upstream_id": "S*1", "password": "p", "id_tags": {"a": "b"}, "queue_max": 50}]},
             "alone": {"secondaries": []}}
            """#.utf8))
        let configuration = RelayConfiguration(url: try UpstreamURL("ws://main/ocpp"), stations: stations,
                                               secondaries: try RelayConfiguration.parseSecondaries(" ws://one/x , ws://two/{station}/y,"))
        let garage = configuration.secondaries(for: "garage")
        #expect(garage.count == 1 && garage[0].target == "/ocpp/S%2A1" && garage[0].authorization == "Basic UyoxOnA=" && garage[0].idTags == ["a": "b"])
        #expect(garage[0].queueLimit == 50 && configuration.secondaries(for: "CP1").allSatisfy { $0.queueLimit == 5000 })
        #expect(!garage[0].isPrimary && configuration.primary(for: "garage", charger: "Basic c").authorization == "Basic c")
        #expect(configuration.secondaries(for: "alone").isEmpty)
        let other = configuration.secondaries(for: "CP1")
        #expect(other.map(\.target) == ["/x/CP1", "/CP1/y"], "\(other.map(\.target))")
        #expect(other.allSatisfy { $0.authorization == nil })  // never the charger's own
        #expect(throws: UpstreamURL.Invalid.self) { try RelayConfiguration.parseSecondaries("ws://ok/x,http://no/y") }
    }

    @Test func theMirroringProxysConfigJSONIsTakenAsItIs() throws {
        let file = try StationsFile.parse(Array(#"""
            {"primary_csms_url": "wss://billing.example/ocpp", "port": 9000,
             "secondary_csms": [
               {"url": "ws://energy.example/ocpp", "charger_map": [
                 {"charger_id": "CP1", "mapped_charger_id": "EM-1", "password": "pw", "id_tag": "EM-TAG"}]},
               {"url": "ws://analytics.example/cs"}]}
            """#.utf8))
        #expect(file.primary?.host == "billing.example" && file.ignoredKeys == ["port"])
        let configuration = RelayConfiguration(url: try #require(file.primary), stations: file.stations, secondaries: file.secondaries ?? [])
        let mapped = configuration.secondaries(for: "CP1")
        #expect(mapped.map(\.target) == ["/ocpp/EM-1", "/cs/CP1"] && mapped[0].authorization == "Basic RU0tMTpwdw==")  // EM-1:pw
        #expect(mapped[0].idTags == [RelayConfiguration.Secondary.everyTag: "EM-TAG"] && mapped[1].idTags.isEmpty)
        #expect(configuration.secondaries(for: "CP2").map(\.target) == ["/cs/CP2"])  // not mapped: everyone's only
        // The gateway's own form is read as before.
        #expect(try StationsFile.parse(Array(#"{"CP1": {"upstream_id": "X"}}"#.utf8)).stations["CP1"]?.upstreamID == "X")
    }

    @Test(arguments: [
        #"{"primary_csms_url": 7}"#, #"{"primary_csms_url": "http://x"}"#, #"{"secondary_csms": {}}"#, #"{"secondary_csms": [{"charger_map": []}]}"#,
        #"{"secondary_csms": [{"url": "ws://s", "extra": 1}]}"#, #"{"secondary_csms": [{"url": "ws://s", "charger_map": [{"mapped_charger_id": "x"}]}]}"#,
        #"{"secondary_csms": [{"url": "ws://s", "charger_map": [{"charger_id": "a", "pin": "1"}]}]}"#,
    ])
    func mistakesInTheProxysFormAreRefused(_ text: String) {
        #expect(throws: UpstreamURL.Invalid.self) { try StationsFile.parse(Array(text.utf8)) }
    }

    @Test func aSecondaryReadsUnlessItsRightsSayOtherwiseAndExclusiveActionsHaveOneSender() throws {
        let url = try UpstreamURL("ws://main/ocpp")
        let reader = RelayConfiguration.Secondary(url: try UpstreamURL("ws://reader/x"))
        #expect(reader.forwards("TriggerMessage") && reader.forwards("GetConfiguration") && !reader.forwards("Reset") && !reader.forwards("RemoteStartTransaction"))
        var configuration = RelayConfiguration(url: url, secondaries: [reader])
        configuration.applySecondaryRights(try RelayConfiguration.parseRights("RemoteStartTransaction=forward, getconfiguration=REJECT"))
        let secondary = try #require(configuration.secondaries.first)
        #expect(secondary.forwards("RemoteStartTransaction") && !secondary.forwards("GetConfiguration") && secondary.forwards("TriggerMessage"))
        #expect(configuration.exclusiveConflict() == nil)
        configuration.applySecondaryRights(["Reset": .forward])
        #expect(configuration.exclusiveConflict()?.hasPrefix("Reset for every station: the primary") == true)
        configuration.deniedActions = ["Reset"]
        #expect(configuration.exclusiveConflict() == nil)  // the primary may not: the secondary alone resets
        // A station's own secondaries, from the file, with their own rights.
        let stations = try RelayConfiguration.parseStations(Array(#"""
            {"garage": {"secondaries": [{"url": "ws://a/x", "rights": {"ChangeConfiguration": "forward"}}]}}
            """#.utf8))
        #expect(RelayConfiguration(url: url, stations: stations).exclusiveConflict()?.contains("station 'garage'") == true)
        #expect(try RelayConfiguration.parseRights("RemoteStartTransaction=answer")["RemoteStartTransaction"] == .answer)
        // ChangeConfiguration per key: the secondary may change its key while the primary keeps every other.
        var keys = RelayConfiguration(url: url, deniedActions: ["ChangeConfiguration:MeterValueSampleInterval"], secondaries: [
            RelayConfiguration.Secondary(url: try UpstreamURL("ws://energy/x"),
                                         rights: try RelayConfiguration.parseRights("changeconfiguration:MeterValueSampleInterval=forward"))])
        let energy = try #require(keys.secondaries.first)
        #expect(energy.forwards("ChangeConfiguration", key: "MeterValueSampleInterval") && !energy.forwards("ChangeConfiguration", key: "Other"))
        #expect(keys.denies("ChangeConfiguration", key: "MeterValueSampleInterval") && !keys.denies("ChangeConfiguration", key: "Other"))
        #expect(keys.exclusiveConflict() == nil)
        keys.deniedActions = []
        #expect(keys.exclusiveConflict()?.hasPrefix("ChangeConfiguration of MeterValueSampleInterval for every station") == true)
        #expect(RelayConfiguration.Secondary(url: url, rights: ["Reset": .answer]).forwards("Reset") == false)
        for bad in ["Reset", "Reset=maybe", "Heartbeat=forward", "NoSuchAction=reject", "GetConfiguration=answer", "Reset:Key=forward",
                    "ChangeConfiguration:=forward"] {
            #expect(throws: UpstreamURL.Invalid.self) { try RelayConfiguration.parseRights(bad) }
        }
    }

    @Test func anIDTagRewriteIsReadAsWritten() throws {
        let stations = try RelayConfiguration.parseStations(Array(#"{"garage": {"id_tags": {"Card-1": "DE-ABC-1", "card-2": "DE-ABC-2"}}}"#.utf8))
        #expect(stations["garage"]?.idTags == ["Card-1": "DE-ABC-1", "card-2": "DE-ABC-2"])
    }

    @Test(arguments: [
        "[1]", #"{"garage": 1}"#, #"{"garage": {"pasword": "p"}}"#, #"{"garage": {"password": ""}}"#,
        #"{"garage": {"url": "http://x"}}"#, #"{"garage": {"upstream_id": 7}}"#, "not json",
        #"{"garage": {"id_tags": ["a"]}}"#, #"{"garage": {"id_tags": {"a": 1}}}"#, #"{"garage": {"id_tags": {"a": "123456789012345678901"}}}"#,
        #"{"garage": {"id_tags": {"": "b"}}}"#, #"{"garage": {"id_tags": {"card": "b", "CARD": "c"}}}"#,
        #"{"garage": {"secondaries": {"url": "ws://s"}}}"#, #"{"garage": {"secondaries": [{"upstream_id": "x"}]}}"#,
        #"{"garage": {"secondaries": [{"url": "ws://s", "secondaries": []}]}}"#, #"{"garage": {"secondaries": ["ws://s"]}}"#,
        #"{"garage": {"rights": {"Reset": "reject"}}}"#, #"{"garage": {"secondaries": [{"url": "ws://s", "queue_max": 5}]}}"#, #"{"garage": {"secondaries": [{"url": "ws://s", "rights": {"GetDiagnostics": "answer"}}]}}"#,
    ])
    func mistakesAreRefusedNamingWhatAndWhere(_ text: String) {
        #expect(throws: UpstreamURL.Invalid.self) { try RelayConfiguration.parseStations(Array(text.utf8)) }
    }
}
