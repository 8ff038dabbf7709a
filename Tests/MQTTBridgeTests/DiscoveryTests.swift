import CentralSystem
import Foundation
import OCPP
import Testing

@testable import MQTTBridge

@Suite struct DiscoveryTests {
    let topics = TopicLayout(basePath: "ocpp", useStationName: true)
    let t0 = Date(timeIntervalSince1970: 1_795_269_090)

    /// A station's life: connect, boot, three-phase readings, a second connector.
    func announce() -> [Publication] {
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1.2.3")
        return announce(&model)
    }

    func announce(_ model: inout DiscoveryModel) -> [Publication] {
        var state = StationStateModel(topics: topics)
        var out: [Publication] = []
        func apply(_ event: CentralSystemEvent) {
            out += model.apply(event, state: state.update(event, at: t0))
        }
        apply(.connected(station: "CP 1", info: ConnectionInfo(remoteAddress: "x", subprotocol: nil)))
        let boot = BootNotificationRequest(chargePointVendor: "Acme", chargePointModel: "Wallbox", chargePointSerialNumber: "S-1", firmwareVersion: "2.0")
        apply(.message(station: "CP 1", .bootNotification(boot, BootNotificationResponse(status: .accepted, currentTime: t0, interval: 300))))
        let values = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "16", measurand: .currentImport, phase: .l1, unit: .a),
            SampledValue(value: "230", measurand: .voltage, phase: .l1N, unit: .v),
            SampledValue(value: "50", measurand: .soc, location: .ev, unit: .percent),
        ])]
        apply(.message(station: "CP 1", .meterValues(MeterValuesRequest(connectorId: 1, meterValue: values), samples: MeterSample.normalise(values))))
        apply(.message(station: "CP 1", .statusNotification(StatusNotificationRequest(connectorId: 2, errorCode: .noError, status: .available))))
        return out
    }

    /// The last config per topic, as Home Assistant would hold it.
    func configs() throws -> [String: [String: Any]] {
        var latest: [String: [String: Any]] = [:]
        for publication in announce() {
            latest[publication.topic] = try #require(try JSONSerialization.jsonObject(with: Data(publication.payload.utf8)) as? [String: Any])
        }
        return latest
    }

    @Test func matchesTheGoldenDiscoverySet() throws {
        var lines: [String] = []
        var seen: Set<String> = []
        for publication in announce().reversed() where seen.insert(publication.topic).inserted {
            lines.append("\(publication.topic) \(publication.payload)")
        }
        let actual = lines.sorted().joined(separator: "\n") + "\n"
        let url = try #require(Bundle.module.url(forResource: "discovery", withExtension: "txt", subdirectory: "Fixtures"))
        let golden = try String(contentsOf: url, encoding: .utf8)
        if actual != golden, ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try actual.write(toFile: #filePath.replacingOccurrences(of: "DiscoveryTests.swift", with: "Fixtures/discovery.txt"), atomically: true, encoding: .utf8)
        }
        #expect(actual == golden)
    }

    /// Home Assistant's documented required keys per platform, and what every config here must carry.
    @Test func everyConfigHasWhatHomeAssistantRequires() throws {
        let required: [String: [String]] = [
            "sensor": ["state_topic"], "binary_sensor": ["state_topic"], "switch": ["command_topic"],
            "button": ["command_topic"], "number": ["command_topic"], "select": ["command_topic", "options"],
        ]
        let all = try configs()
        #expect(all.count == 21 + 5 + 9)  // base, the five reported measurands (current and voltage from their phases), connector 2
        for (topic, config) in all {
            let levels = topic.split(separator: "/")
            #expect(levels.count == 5 && levels[0] == "homeassistant" && levels[4] == "config", "\(topic)")
            let component = String(levels[1])
            for key in try #require(required[component], "\(component)") + ["unique_id", "name", "device", "origin", "availability"] {
                #expect(config[key] != nil, "\(topic) lacks \(key)")
            }
            #expect(levels[2].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            #expect(levels[3].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            let device = try #require(config["device"] as? [String: Any])
            #expect(device["name"] as? String == "CP 1")
            #expect(device["manufacturer"] as? String == "Acme")
        }
        let uniqueIDs = all.values.compactMap { $0["unique_id"] as? String }
        #expect(Set(uniqueIDs).count == uniqueIDs.count)
    }

    @Test func theEnergySensorsAreReadyForTheEnergyDashboard() throws {
        let all = try configs()
        let node = DiscoveryModel.identifier("ocpp_CP 1")
        let energy = try #require(all["homeassistant/sensor/\(node)/energy/config"])
        #expect(energy["device_class"] as? String == "energy")
        #expect(energy["state_class"] as? String == "total_increasing")
        #expect(energy["unit_of_measurement"] as? String == "Wh")
        #expect(energy["state_topic"] as? String == "ocpp/CP 1/state/energy_active_import_register")
        #expect(all["homeassistant/sensor/\(node)/current_import_l1/config"]?["state_topic"] as? String == "ocpp/CP 1/state/current_import_l1")
        #expect(all["homeassistant/sensor/\(node)/status_c2/config"]?["state_topic"] as? String == "ocpp/CP 1/connector/2/state/status")
        let connected = try #require(all["homeassistant/binary_sensor/\(node)/connected/config"])
        #expect((connected["availability"] as? [Any])?.count == 1)
    }

    /// Also the entities that came with the data (measurands, a second connector): the model derives the topics
    /// again rather than keeping them.
    /// Relay mode: the first upstream status announces a sensor for the upstream connection and the owner's override
    /// switch, once, and they are part of the station's configs from then on; the state is on `<S>/relay/state`.
    @Test func secondariesAnnounceTheirSensorsAndTheBackendInControlOnce() throws {
        let topics = TopicLayout(basePath: "ocpp", useStationName: true)
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1.2.3")
        var state = StationStateModel(topics: topics)
        let two = CentralSystemEvent.upstreamDetail(station: "CP1", .secondaries([
            SecondaryStatus(url: "ws://a:80/x", state: .connected, queued: 0), SecondaryStatus(url: "ws://b:80/y", state: .connecting, queued: 3),
        ]))
        let update = state.update(two, at: t0)
        #expect(update.publications.map(\.topic) == ["ocpp/CP1/relay/secondaries"])
        let first = model.apply(two, state: update)
        #expect(first.map { $0.topic.split(separator: "/").suffix(2).joined(separator: "/") } == [
            "upstream_control/config", "secondary_1/config", "secondary_2/config"])
        let second = try #require(JSONValue.parse(Array(first[2].payload.utf8))?.objectValue)
        #expect(second["value_template"] == "{{ value_json[1].state if value_json | length > 1 else None }}")
        #expect(model.apply(two, state: state.update(two, at: t0)).isEmpty)
        #expect(model.all("CP1").filter { $0.topic.contains("secondary_") }.count == 2)
    }

    @Test func anUpstreamStatusAnnouncesTheUpstreamSensorOnce() throws {
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1.2.3")
        var state = StationStateModel(topics: topics)
        _ = announce(&model)
        let event = CentralSystemEvent.upstream(station: "CP 1", UpstreamStatus(.connecting, lastError: "refused"))
        let update = state.update(event, at: t0)
        #expect(update.publications.map { "\($0.topic)=\($0.payload)" } == ["ocpp/CP 1/relay/state=connecting", "ocpp/CP 1/relay/last_error=refused"])
        let first = model.apply(event, state: update)
        #expect(first.map { $0.topic.split(separator: "/").suffix(2).joined(separator: "/") } == ["upstream/config", "upstream_connected/config", "upstream_queue/config", "upstream_override/config"])
        let override = try #require(JSONValue.parse(Array(first[3].payload.utf8))?.objectValue)
        #expect(override["command_topic"] == "ocpp/CP 1/relay/set/override" && override["retain"] == .bool(true))
        let config = try #require(JSONValue.parse(Array(first[0].payload.utf8))?.objectValue)
        #expect(config["state_topic"] == "ocpp/CP 1/relay/state" && config["device_class"] == "enum")
        #expect(model.apply(.upstream(station: "CP 1", UpstreamStatus(.connected)), state: state.update(.upstream(station: "CP 1", UpstreamStatus(.connected)), at: t0)).isEmpty)
        #expect(model.all("CP 1").contains { $0.topic == first[0].topic })
    }

    @Test func forgettingClearsEveryConfig() {
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1")
        let announced = announce(&model)
        let cleared = model.forget("CP 1")
        #expect(Set(cleared.map(\.topic)) == Set(announced.map(\.topic)))
        #expect(cleared.count == 21 + 5 + 9)
        #expect(cleared.allSatisfy { $0.payload.isEmpty && $0.retain })
        #expect(model.forget("CP 1").isEmpty)
    }

    /// A station announced in an earlier run of the gateway (the store knows it, this run's model does not): every
    /// config it may have had is cleared, what this run announces for a station included.
    @Test func forgettingAStationKnownOnlyFromTheStoreClearsEverythingItMayHaveHad() {
        var earlier = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1")
        let announced = Set(announce(&earlier).map(\.topic))
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1")
        #expect(model.forget("CP 1").isEmpty)  // unknown to the store as well: nothing to clear
        let record = StationRecord(connectors: [1: ConnectorStatus(status: "Available", errorCode: "NoError"),
                                                2: ConnectorStatus(status: "Available", errorCode: "NoError")])
        let cleared = Set(model.forget("CP 1", known: record).map(\.topic))
        #expect(cleared.isSuperset(of: announced))
        #expect(model.forget("CP 1").isEmpty)
    }

    /// A MeterValues with the topics of the one before announces nothing; a new measurand among the same number of
    /// values still does (the shortcut compares topics, not counts).
    @Test func repeatedReadingsAnnounceNothingAndANewMeasurandStillDoes() {
        var model = DiscoveryModel(configuration: DiscoveryConfiguration(), topics: topics, controls: ControlConfiguration(), version: "1")
        var state = StationStateModel(topics: topics)
        func meter(_ measurand: Measurand, _ phase: Phase?) -> [Publication] {
            let values = [MeterValue(timestamp: t0, sampledValue: [
                SampledValue(value: "1", measurand: .energyActiveImportRegister, unit: .wh),
                SampledValue(value: "16", measurand: measurand, phase: phase, unit: .a),
            ])]
            let event = CentralSystemEvent.message(station: "CP1", .meterValues(
                MeterValuesRequest(connectorId: 1, meterValue: values), samples: MeterSample.normalise(values)))
            return model.apply(event, state: state.update(event, at: t0))
        }
        _ = model.apply(.connected(station: "CP1", info: ConnectionInfo(remoteAddress: "x", subprotocol: nil)), state: .init())
        #expect(meter(.currentImport, .l1).map(\.topic).contains { $0.hasSuffix("/current_import_l1/config") })
        #expect(meter(.currentImport, .l1).isEmpty)
        #expect(meter(.currentImport, .l2).map(\.topic).contains { $0.hasSuffix("/current_import_l2/config") })
        #expect(meter(.currentImport, .l2).isEmpty)
    }

    @Test func identifiersStayWithinWhatHomeAssistantAllows() {
        #expect(DiscoveryModel.identifier("ocpp_CP-1") == "ocpp_CP-1")
        #expect(DiscoveryModel.identifier("ocpp_CP 1") != DiscoveryModel.identifier("ocpp_CP_1"))
        #expect(DiscoveryModel.identifier("ocpp_é/x").allSatisfy { $0.isASCII })
    }
}

@Suite struct ControlTests {
    private func convert(_ name: String, _ payload: String, transaction: Int? = 42) -> Result<Controls.Converted, CommandRejection> {
        Controls.convert(name: name, payload: Array(payload.utf8), settings: ControlConfiguration(maxCurrent: 32), transaction: { _ in transaction })
    }

    private func call(_ name: String, _ payload: String) throws -> (String, String) {
        let converted = try convert(name, payload).get()
        guard case .ocpp(let action, let body) = converted.command.operation else { throw CommandRejection(code: .invalidCommand, message: "local") }
        return (action.rawValue, body.description)
    }

    @Test func eachControlBecomesItsOCPPCall() throws {
        #expect(try call("availability", "inoperative") == ("ChangeAvailability", #"{"connectorId":0,"type":"Inoperative"}"#))
        #expect(try call("max_current", "16") == ("SetChargingProfile",
            #"{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"chargingProfileKind":"Relative","chargingProfilePurpose":"TxDefaultProfile","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"limit":16,"startPeriod":0}]},"stackLevel":0}}"#))
        #expect(try call("max_current", "6.25").1.contains(#""limit":6.3"#))
        #expect(try call("reset", "Hard") == ("Reset", #"{"type":"Hard"}"#))
        #expect(try call("reset", "") == ("Reset", #"{"type":"Soft"}"#))
        #expect(try call("unlock_connector", "2") == ("UnlockConnector", #"{"connectorId":2}"#))
        #expect(try call("remote_start", "") == ("RemoteStartTransaction", #"{"connectorId":1,"idTag":"ocpp-gateway"}"#))
        #expect(try call("remote_stop", "1") == ("RemoteStopTransaction", #"{"transactionId":42}"#))
        #expect(try call("trigger", "metervalues") == ("TriggerMessage", #"{"requestedMessage":"MeterValues"}"#))
        #expect(try convert("charging_enabled", "off").get().command.operation == .chargingEnabled(false))
        #expect(try convert("max_current", "0").get().stateOnSuccess! == ("max_current", "0"))
    }

    @Test(arguments: [
        ("max_current", "33", "InvalidArguments"), ("max_current", "-1", "InvalidArguments"), ("max_current", "lots", "InvalidArguments"),
        ("availability", "maybe", "InvalidArguments"), ("reset", "gentle", "InvalidArguments"), ("unlock_connector", "0", "InvalidArguments"),
        ("trigger", "Coffee", "InvalidArguments"), ("charging_enabled", "sometimes", "InvalidArguments"), ("self_destruct", "1", "UnknownAction"),
    ])
    func badValuesAreRefused(name: String, payload: String, code: String) {
        guard case .failure(let rejection) = convert(name, payload) else {
            Issue.record("accepted \(name)=\(payload)")
            return
        }
        #expect(rejection.code.description == code)
    }

    @Test func remoteStopWithoutATransactionSaysSo() {
        guard case .failure(let rejection) = convert("remote_stop", "", transaction: nil) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.code == .noTransaction)
    }
}
