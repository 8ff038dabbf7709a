import CentralSystem
import Foundation
import OCPP

/// Home Assistant MQTT discovery: one retained config per entity at `<prefix>/<component>/<node_id>/<object_id>/config`.
///
/// Pure state: it remembers per station the device facts from BootNotification, which optional entities have
/// been announced (phases, SoC, temperature appear when the charger first reports them) and which connectors
/// exist, and returns the configs to publish.
struct DiscoveryModel {
    let configuration: DiscoveryConfiguration
    let topics: TopicLayout
    let controls: ControlConfiguration
    let version: String
    private(set) var stations: [String: Station] = [:]
    /// State parameters that have no optional entity (`energy_active_import_register`, `status`, …).
    private var ordinaryParameters: Set<String> = []

    /// Kept small: there is one per connected station. The config topics announced are not kept but derived
    /// again when the station is forgotten (entities are only ever added).
    struct Station {
        var device = Device()
        /// Optional parameters already announced (`current_import_l2`, `soc`, …).
        var parameters: Set<String> = []
        /// Connectors above 1 that have their own entities.
        var connectors: Set<Int> = []
        /// The parameter ids of the station's last MeterValues on connector 1, once all of them were checked.
        var checkedMeterParameters: [Int] = []
        /// Relay mode: the station's upstream connection has its entity.
        var relayed = false
        /// Relay mode: how many secondary central systems have their entities (and the backend in control).
        var secondaries = 0
    }

    /// The device facts from BootNotification.
    struct Device {
        var manufacturer: String?
        var model: String?
        var serialNumber: String?
        var firmware: String?

        var fields: [String: JSONValue] {
            var fields: [String: JSONValue] = [:]
            if let manufacturer { fields["manufacturer"] = .string(manufacturer) }
            if let model { fields["model"] = .string(model) }
            if let serialNumber { fields["serial_number"] = .string(serialNumber) }
            if let firmware { fields["sw_version"] = .string(firmware) }
            return fields
        }
    }

    /// One entity: where it lives in HA and what it shows or does.
    struct Entity {
        var component: String
        var object: String
        var name: String
        var fields: [String: JSONValue]
        /// Only the bridge's availability (for the connectivity sensor, which must work while the station is away).
        var bridgeAvailabilityOnly = false
    }

    init(configuration: DiscoveryConfiguration, topics: TopicLayout, controls: ControlConfiguration, version: String) {
        self.configuration = configuration
        self.topics = topics
        self.controls = controls
        self.version = version
    }

    /// The configs an event calls for, given what the state model made of it (its connector, its meter
    /// parameters): entities appear with the data (a new measurand on connector 1, a second connector).
    mutating func apply(_ event: CentralSystemEvent, state: StationStateModel.Update) -> [Publication] {
        let station = event.station
        var out: [Publication] = []
        switch event {
        case .connected:
            if stations[station] == nil { stations[station] = Station() }
            out += all(station)
        case .message(_, let message) where message.bootFacts != nil:
            let boot = message.bootFacts!
            stations[station, default: Station()].device = Device(
                manufacturer: boot.vendor, model: boot.model, serialNumber: boot.serialNumber, firmware: boot.firmwareVersion)
            out += all(station)
        case .upstreamDetail(_, .secondaries(let list)) where list.count > stations[station, default: Station()].secondaries:
            let known = stations[station, default: Station()].secondaries
            stations[station, default: Station()].secondaries = list.count
            out += configs(station, secondaryEntities(station, from: known, to: list.count))
        case .upstream:
            if !stations[station, default: Station()].relayed {
                stations[station, default: Station()].relayed = true
                out += configs(station, upstreamEntities(station))
            }
        default:
            break
        }
        guard let connector = state.connector else { return out }
        if connector >= 2 {
            if stations[station, default: Station()].connectors.insert(connector).inserted {
                out += configs(station, connectorEntities(station, connector))
            }
            return out
        }
        // Optional sensors are connector 1's (on the flat topics). A MeterValues with the parameters of the last
        // one checked (the usual case) announces nothing new: found by comparing their ids.
        guard connector == 1, !state.meterParameters.isEmpty else { return out }
        let checked = stations[station]?.checkedMeterParameters ?? []
        if checked == state.meterParameters { return out }
        for id in state.meterParameters {
            let name = StationStateModel.parameterName(id)
            guard !ordinaryParameters.contains(name), !stations[station, default: Station()].parameters.contains(name) else { continue }
            guard let sensor = Self.sensor(forOptional: name) else {
                ordinaryParameters.insert(name)
                continue
            }
            stations[station, default: Station()].parameters.insert(name)
            out += configs(station, [sensor])
        }
        stations[station, default: Station()].checkedMeterParameters = state.meterParameters
        return out
    }

    /// Every config of a station (at connect, after boot, when HA comes online).
    func all(_ station: String) -> [Publication] {
        configs(station, entities(station))
    }

    /// Every entity of a station.
    private func entities(_ station: String) -> [Entity] {
        let known = stations[station, default: Station()]
        var entities = baseEntities(station)
        entities += known.parameters.sorted().compactMap(Self.sensor(forOptional:))
        for connector in known.connectors.sorted() { entities += connectorEntities(station, connector) }
        if known.relayed { entities += upstreamEntities(station) }
        entities += secondaryEntities(station, from: 0, to: known.secondaries)
        return entities
    }

    /// Relay mode: the upstream central system's connection, as a sensor (`connected`, `connecting`, `offline`), and
    /// the owner's override, as a switch (retained, so it holds across restarts).
    /// The secondaries `from..<to` of a station (their state from `<S>/relay/secondaries`, the rest of their entry as
    /// attributes), and with the first one the backend in control.
    private func secondaryEntities(_ station: String, from: Int, to: Int) -> [Entity] {
        guard from < to else { return [] }
        var entities: [Entity] = []
        if from == 0 {
            entities.append(Entity(component: "sensor", object: "upstream_control", name: "Backend in control", fields: [
                "state_topic": .string(topics.relay(station, "control")), "entity_category": .string("diagnostic"), "icon": .string("mdi:account-key"),
            ]))
        }
        for index in from..<to {
            entities.append(Entity(component: "sensor", object: "secondary_\(index + 1)", name: "Secondary central system \(index + 1)", fields: [
                "state_topic": .string(topics.relay(station, "secondaries")),
                "value_template": .string("{{ value_json[\(index)].state if value_json | length > \(index) else None }}"),
                "json_attributes_topic": .string(topics.relay(station, "secondaries")),
                "json_attributes_template": .string("{{ (value_json[\(index)] if value_json | length > \(index) else {}) | tojson }}"),
                "device_class": .string("enum"),
                "options": .array([.string("connected"), .string("connecting"), .string("offline"), .string("disabled")]),
                "entity_category": .string("diagnostic"), "icon": .string("mdi:server-network"),
            ]))
        }
        return entities
    }

    private func upstreamEntities(_ station: String) -> [Entity] {
        [
            Entity(component: "sensor", object: "upstream", name: "Upstream central system", fields: [
                "state_topic": .string(topics.relay(station, "state")), "device_class": .string("enum"),
                "options": .array([.string("connected"), .string("connecting"), .string("offline"), .string("disabled")]),
                "entity_category": .string("diagnostic"), "icon": .string("mdi:server-network"),
            ]),
            Entity(component: "binary_sensor", object: "upstream_connected", name: "Upstream central system connected", fields: [
                "state_topic": .string(topics.relay(station, "state")), "payload_on": .string("connected"),
                "value_template": .string("{{ 'connected' if value == 'connected' else 'not' }}"), "payload_off": .string("not"),
                "device_class": .string("connectivity"), "entity_category": .string("diagnostic"),
            ]),
            Entity(component: "sensor", object: "upstream_queue", name: "Messages waiting for the upstream", fields: [
                "state_topic": .string(topics.relay(station, "queue")), "state_class": .string("measurement"),
                "unit_of_measurement": .string("messages"), "entity_category": .string("diagnostic"), "icon": .string("mdi:tray-full"),
            ]),
            Entity(component: "switch", object: "upstream_override", name: "Override the upstream central system", fields: [
                "command_topic": .string(topics.relayControl(station, "override")), "state_topic": .string(topics.relay(station, "override")),
                "payload_on": .string("ON"), "payload_off": .string("OFF"), "retain": .bool(true),
                "entity_category": .string("config"), "icon": .string("mdi:shield-lock"),
            ]),
        ]
    }

    /// Empty retained configs for every entity of a station, which removes them from Home Assistant. A station not
    /// seen in this run but `known` from the store (announced in an earlier one) gets every config it may have had
    /// cleared: its base entities, every optional sensor and its connectors'.
    mutating func forget(_ station: String, known: StationRecord? = nil) -> [Publication] {
        if stations[station] == nil, let known {
            var everything = Station()
            everything.parameters = Set(Self.optionalSensors.keys)
            everything.connectors = Set((known.connectors ?? [:]).keys.filter { $0 >= 2 })
            stations[station] = everything
        }
        guard stations[station] != nil else { return [] }
        let node = nodeID(station)
        let topics = entities(station).map { configTopic(node, $0) }
        stations[station] = nil
        return topics.map { Publication(topic: $0, payload: "") }
    }

    // MARK: Entities

    private func state(_ station: String, _ parameter: String, connector: Int? = nil) -> JSONValue {
        .string(topics.state(station, parameter, connector: connector))
    }

    private func control(_ station: String, _ name: String) -> JSONValue {
        .string(topics.control(station, name))
    }

    private func baseEntities(_ station: String) -> [Entity] {
        let diagnostic: JSONValue = .string("diagnostic")
        return [
            Entity(component: "sensor", object: "energy", name: "Energy", fields: [
                "state_topic": state(station, StateParameter.meter(.energyActiveImportRegister)), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "session_energy", name: "Session energy", fields: [
                "state_topic": state(station, StateParameter.sessionEnergy), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "power", name: "Power", fields: [
                "state_topic": state(station, StateParameter.meter(.powerActiveImport)), "device_class": .string("power"),
                "state_class": .string("measurement"), "unit_of_measurement": .string("W"),
            ]),
            Entity(component: "sensor", object: "status", name: "Status", fields: [
                "state_topic": state(station, StateParameter.status), "device_class": .string("enum"),
                "options": .array(ChargePointStatus.allCases.map { .string($0.rawValue) }),
            ]),
            Entity(component: "sensor", object: "error_code", name: "Error code", fields: [
                "state_topic": state(station, StateParameter.errorCode), "device_class": .string("enum"),
                "options": .array(ChargePointErrorCode.allCases.map { .string($0.rawValue) }), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "last_seen", name: "Last seen", fields: [
                "state_topic": state(station, StateParameter.lastSeen), "device_class": .string("timestamp"), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "transaction_id", name: "Transaction", fields: [
                // No open transaction is an empty payload on MQTT (ocpp2mqtt's), unknown in Home Assistant.
                "state_topic": state(station, StateParameter.transactionId), "icon": .string("mdi:identifier"),
                "value_template": .string("{{ value if value else None }}"),
            ]),
            Entity(component: "sensor", object: "vendor", name: "Vendor", fields: [
                "state_topic": state(station, StateParameter.chargePointVendor), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "model", name: "Model", fields: [
                "state_topic": state(station, StateParameter.chargePointModel), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "firmware", name: "Firmware", fields: [
                "state_topic": state(station, StateParameter.firmwareVersion), "entity_category": diagnostic,
            ]),
            Entity(component: "binary_sensor", object: "connected", name: "Connected", fields: [
                "state_topic": state(station, StateParameter.connectionState), "payload_on": .string("CONNECTED"),
                "payload_off": .string("DISCONNECTED"), "device_class": .string("connectivity"), "entity_category": diagnostic,
            ], bridgeAvailabilityOnly: true),
            Entity(component: "binary_sensor", object: "charging", name: "Charging", fields: [
                "state_topic": state(station, StateParameter.charging), "payload_on": .string("ON"), "payload_off": .string("OFF"),
                "device_class": .string("battery_charging"),
            ]),
            Entity(component: "binary_sensor", object: "plugged", name: "Plugged in", fields: [
                "state_topic": state(station, StateParameter.plugged), "payload_on": .string("ON"), "payload_off": .string("OFF"),
                "device_class": .string("plug"),
            ]),
            Entity(component: "switch", object: "charging_enabled", name: "Charging enabled", fields: [
                "command_topic": control(station, ControlName.chargingEnabled), "state_topic": state(station, StateParameter.chargingEnabled),
                "payload_on": .string("ON"), "payload_off": .string("OFF"), "state_on": .string("ON"), "state_off": .string("OFF"),
                "icon": .string("mdi:ev-station"),
            ]),
            Entity(component: "select", object: "availability", name: "Availability", fields: [
                "command_topic": control(station, ControlName.availability), "state_topic": state(station, StateParameter.availability),
                "options": .array([.string("Operative"), .string("Inoperative")]),
            ]),
            Entity(component: "number", object: "max_current", name: "Max current", fields: [
                "command_topic": control(station, ControlName.maxCurrent), "state_topic": state(station, StateParameter.maxCurrent),
                "min": .double(0), "max": .double(controls.maxCurrent), "step": .double(controls.currentStep),
                "unit_of_measurement": .string("A"), "device_class": .string("current"), "mode": .string("slider"),
            ]),
            Entity(component: "button", object: "reset_soft", name: "Soft reset", fields: [
                "command_topic": control(station, ControlName.reset), "payload_press": .string("Soft"), "entity_category": .string("config"),
            ]),
            Entity(component: "button", object: "reset_hard", name: "Hard reset", fields: [
                "command_topic": control(station, ControlName.reset), "payload_press": .string("Hard"), "device_class": .string("restart"),
                "entity_category": .string("config"),
            ]),
            Entity(component: "button", object: "unlock", name: "Unlock connector", fields: [
                "command_topic": control(station, ControlName.unlockConnector), "payload_press": .string("1"), "icon": .string("mdi:lock-open"),
            ]),
            Entity(component: "button", object: "remote_start", name: "Start charging", fields: [
                "command_topic": control(station, ControlName.remoteStart), "payload_press": .string("1"), "icon": .string("mdi:play"),
            ]),
            Entity(component: "button", object: "remote_stop", name: "Stop charging", fields: [
                "command_topic": control(station, ControlName.remoteStop), "payload_press": .string("1"), "icon": .string("mdi:stop"),
            ]),
        ]
    }

    private func connectorEntities(_ station: String, _ connector: Int) -> [Entity] {
        let suffix = "_c\(connector)"
        let label = "Connector \(connector)"
        return [
            Entity(component: "sensor", object: "status" + suffix, name: "\(label) status", fields: [
                "state_topic": state(station, StateParameter.status, connector: connector), "device_class": .string("enum"),
                "options": .array(ChargePointStatus.allCases.map { .string($0.rawValue) }),
            ]),
            Entity(component: "sensor", object: "energy" + suffix, name: "\(label) energy", fields: [
                "state_topic": state(station, StateParameter.meter(.energyActiveImportRegister), connector: connector), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "session_energy" + suffix, name: "\(label) session energy", fields: [
                "state_topic": state(station, StateParameter.sessionEnergy, connector: connector), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "power" + suffix, name: "\(label) power", fields: [
                "state_topic": state(station, StateParameter.meter(.powerActiveImport), connector: connector), "device_class": .string("power"),
                "state_class": .string("measurement"), "unit_of_measurement": .string("W"),
            ]),
            Entity(component: "binary_sensor", object: "charging" + suffix, name: "\(label) charging", fields: [
                "state_topic": state(station, StateParameter.charging, connector: connector), "payload_on": .string("ON"),
                "payload_off": .string("OFF"), "device_class": .string("battery_charging"),
            ]),
            Entity(component: "binary_sensor", object: "plugged" + suffix, name: "\(label) plugged in", fields: [
                "state_topic": state(station, StateParameter.plugged, connector: connector), "payload_on": .string("ON"),
                "payload_off": .string("OFF"), "device_class": .string("plug"),
            ]),
            Entity(component: "button", object: "unlock" + suffix, name: "\(label) unlock", fields: [
                "command_topic": control(station, ControlName.unlockConnector), "payload_press": .string(String(connector)),
            ]),
            Entity(component: "button", object: "remote_start" + suffix, name: "\(label) start charging", fields: [
                "command_topic": control(station, ControlName.remoteStart), "payload_press": .string(String(connector)),
            ]),
            Entity(component: "button", object: "remote_stop" + suffix, name: "\(label) stop charging", fields: [
                "command_topic": control(station, ControlName.remoteStop), "payload_press": .string(String(connector)),
            ]),
        ]
    }

    /// Sensors for parameters a charger may or may not report; nil for parameters without one.
    static func sensor(forOptional parameter: String) -> Entity? {
        guard let (name, deviceClass, unit) = optionalSensors[parameter] else { return nil }
        let phase = parameter.split(separator: "_").last.flatMap { ["l1", "l2", "l3"].contains($0) ? $0.uppercased() : nil }
        return Entity(component: "sensor", object: parameter, name: name + (phase.map { " \($0)" } ?? ""), fields: [
            "device_class": .string(deviceClass), "state_class": .string("measurement"), "unit_of_measurement": .string(unit),
        ])
    }

    /// The meter parameters with an optional sensor: name, device class and unit.
    static let optionalSensors: [String: (String, String, String)] = {
        var sensors: [String: (String, String, String)] = [:]
        for phase in [nil, .l1, .l2, .l3] as [Phase?] {
            sensors[StateParameter.meter(.currentImport, phase: phase)] = ("Current", "current", "A")
            sensors[StateParameter.meter(.voltage, phase: phase)] = ("Voltage", "voltage", "V")
        }
        sensors[StateParameter.meter(.soc)] = ("State of charge", "battery", "%")
        sensors[StateParameter.meter(.temperature)] = ("Temperature", "temperature", "°C")
        sensors[StateParameter.meter(.temperature, location: .body)] = ("Temperature", "temperature", "°C")
        sensors[StateParameter.meter(.currentOffered)] = ("Current offered", "current", "A")
        return sensors
    }()

    // MARK: Configs

    /// `[a-zA-Z0-9_-]` only, as HA requires; ids that had to change get a short hash so they stay distinct.
    static func identifier(_ text: String) -> String {
        let cleaned = String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
        guard cleaned != text else { return cleaned }
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return cleaned + "_" + String(hash % 0x1000000, radix: 16)
    }

    func nodeID(_ station: String) -> String {
        Self.identifier(topics.basePath.replacingOccurrences(of: "/", with: "_") + "_" + station)
    }

    private func configs(_ station: String, _ entities: [Entity]) -> [Publication] {
        let node = nodeID(station)
        var device = stations[station, default: Station()].device.fields
        device["identifiers"] = .array([.string("ocppgw_" + node)])
        device["name"] = .string(station)
        let origin: JSONValue = .object(["name": .string("ocpp-gateway"), "sw_version": .string(version)])
        let bridge: JSONValue = .object([
            "topic": .string(topics.bridgeState), "payload_available": .string("online"), "payload_not_available": .string("offline"),
        ])
        let stationAvailability: JSONValue = .object([
            "topic": .string(topics.state(station, StateParameter.connectionState)),
            "payload_available": .string("CONNECTED"), "payload_not_available": .string("DISCONNECTED"),
        ])
        return entities.map { entity in
            var fields = entity.fields
            fields["name"] = .string(entity.name)
            fields["unique_id"] = .string("ocppgw_\(node)_\(entity.object)")
            fields["device"] = .object(device)
            fields["origin"] = origin
            fields["availability"] = .array(entity.bridgeAvailabilityOnly ? [bridge] : [bridge, stationAvailability])
            if !entity.bridgeAvailabilityOnly { fields["availability_mode"] = .string("all") }
            if fields["state_topic"] == nil, entity.component == "sensor" {
                fields["state_topic"] = state(station, entity.object)
            }
            return Publication(topic: configTopic(node, entity), payload: JSONValue.object(fields).text, cached: false)
        }
    }

    private func configTopic(_ node: String, _ entity: Entity) -> String {
        "\(configuration.prefix)/\(entity.component)/\(node)/\(entity.object)/config"
    }
}
