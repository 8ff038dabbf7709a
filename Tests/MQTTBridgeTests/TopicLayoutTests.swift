import Testing

@testable import MQTTBridge

@Suite struct TopicLayoutTests {
    @Test func withStationNames() {
        let topics = TopicLayout(basePath: "/ocpp/chargers/", useStationName: true)
        #expect(topics.stationRoot("CP1") == "ocpp/chargers/CP1")
        #expect(topics.state("CP1", "status") == "ocpp/chargers/CP1/state/status")
        #expect(topics.state("CP1", "status", connector: 2) == "ocpp/chargers/CP1/connector/2/state/status")
        #expect(topics.commandResult("CP1") == "ocpp/chargers/CP1/cmd_result")
        #expect(topics.commandResult("CP1", field: "status") == "ocpp/chargers/CP1/cmd_result/status")
        #expect(topics.bridgeState == "ocpp/chargers/bridge/state")
        #expect(topics.commandFilters == ["ocpp/chargers/+/cmd", "ocpp/chargers/+/cmd/#", "ocpp/chargers/+/set/+",
                                          "ocpp/chargers/+/relay/set/+"])
        #expect(topics.relayControl("CP1", "override") == "ocpp/chargers/CP1/relay/set/override")
        #expect(topics.relayControlTarget(of: "ocpp/chargers/CP1/relay/set/override")! == ("CP1", "override"))
        #expect(topics.relayControlTarget(of: "ocpp/chargers/CP1/set/override") == nil)
        #expect(topics.controlTarget(of: "ocpp/chargers/CP1/relay/set/override") == nil)
        #expect(topics.controlTarget(of: "ocpp/chargers/CP1/set/max_current")! == ("CP1", "max_current"))
        #expect(topics.controlTarget(of: "ocpp/chargers/CP1/set/a/b") == nil)
        #expect(topics.bridgeRequest(of: "ocpp/chargers/bridge/request/health_check") == "health_check")
        #expect(topics.commandTarget(of: "ocpp/chargers/bridge/cmd") == (nil, false))
        #expect(topics.commandTarget(of: "ocpp/chargers/CP1/cmd") == ("CP1", true))
        #expect(topics.commandTarget(of: "ocpp/chargers/CP1/cmd/anything") == ("CP1", true))
        #expect(topics.commandTarget(of: "ocpp/chargers/CP1/state/status") == (nil, false))
        #expect(topics.commandTarget(of: "other/CP1/cmd") == (nil, false))
    }

    @Test func withoutStationNamesEveryStationSharesTheBase() {
        let topics = TopicLayout(basePath: "ocpp/charger1", useStationName: false)
        #expect(topics.state("anything", "status") == "ocpp/charger1/state/status")
        #expect(topics.commandResult("anything", field: "status") == "ocpp/charger1/cmd_result/status")
        #expect(topics.commandFilters == ["ocpp/charger1/cmd", "ocpp/charger1/cmd/#", "ocpp/charger1/set/+", "ocpp/charger1/relay/set/+"])
        #expect(topics.relayControlTarget(of: "ocpp/charger1/relay/set/override")! == (nil, "override"))
        #expect(topics.controlTarget(of: "ocpp/charger1/set/reset")! == (nil, "reset"))
        #expect(topics.commandTarget(of: "ocpp/charger1/cmd") == (nil, true))
        #expect(topics.commandTarget(of: "ocpp/charger1/cmd/x") == (nil, true))
        #expect(topics.commandTarget(of: "ocpp/charger1/cmd_result") == (nil, false))
    }

    /// An event's topics, built from per-station prefixes, for every kind of base path; and the connector-1 rule.
    @Test(arguments: [("/ocpp/chargers/", true, "ocpp/chargers/CP1/"), ("ocpp", false, "ocpp/"), ("", true, "CP1/"), ("", false, "")])
    func stationStateTopics(basePath: String, useStationName: Bool, root: String) {
        for (connectorOneTopics, several) in [(TopicLayout.ConnectorOneTopics.always, false), (.never, true), (.severalConnectors, false),
                                              (.severalConnectors, true)] {
            let layout = TopicLayout(basePath: basePath, useStationName: useStationName, connectorOneTopics: connectorOneTopics)
            var topics = StationStateTopics(layout, "CP1")
            topics.severalConnectors = several
            let copy = connectorOneTopics == .always || (connectorOneTopics == .severalConnectors && several)
            #expect(topics.connectorOneCopy == copy)
            for parameter in ["status", "current_import_l1"] {
                #expect(topics.state(parameter) == root + "state/" + parameter)
                #expect(layout.state("CP1", parameter) == root + "state/" + parameter)
                for connector in [0, 1, 2] {
                    #expect(topics.state(parameter, connector: connector) == root + "connector/\(connector)/state/" + parameter)
                    #expect(layout.state("CP1", parameter, connector: connector) == root + "connector/\(connector)/state/" + parameter)
                }
            }
            #expect(topics.connectorState("power", connector: 0) == (root + "connector/0/state/power", nil))
            #expect(topics.connectorState("power", connector: 2) == (root + "connector/2/state/power", nil))
            // Connector 1 on the flat topic, and also under connector/1 when the layout (and the station) asks for it.
            #expect(topics.connectorState("power", connector: 1)
                == (copy ? (root + "connector/1/state/power", root + "state/power") : (root + "state/power", nil)))
        }
    }

    @Test func anEmptyBaseAddsNoLevel() {
        let named = TopicLayout(basePath: "/", useStationName: true)
        #expect(named.state("CP1", "status") == "CP1/state/status")
        #expect(named.state("CP1", "status", connector: 12) == "CP1/connector/12/state/status")
        #expect(TopicLayout(basePath: "", useStationName: false).state("CP1", "status") == "state/status")
    }
}
