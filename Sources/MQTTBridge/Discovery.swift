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
        /// The state topics of the station's last MeterValues, once all of them were checked: a MeterValues with the
        /// same topics (the usual case) announces nothing new, found with a comparison instead of parsing and
        /// looking up each topic. Empty for a station that sends no MeterValues.
        var checkedMeterTopics: [String] = []
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

    /// The configs an event calls for, given the state publications it produced.
    mutating func apply(_ event: CentralSystemEvent, statePublications: [Publication]) -> [Publication] {
        let station = event.station
        var out: [Publication] = []
        switch event {
        case .connected:
            if stations[station] == nil { stations[station] = Station() }
            out += all(station)
        case .message(_, .bootNotification(let request, _)):
            stations[station, default: Station()].device = Device(
                manufacturer: request.chargePointVendor.value, model: request.chargePointModel.value,
                serialNumber: (request.chargePointSerialNumber ?? request.chargeBoxSerialNumber)?.value,
                firmware: request.firmwareVersion?.value)
            out += all(station)
        default:
            break
        }
        // Entities that appear with the data: a new measurand, a second connector. This runs for every state
        // publication, so it compares bytes and remembers what it has seen rather than rebuilding entities.
        guard !statePublications.isEmpty else { return out }
        var isMeterValues = false
        if case .message(_, .meterValues) = event {
            isMeterValues = true
            if let checked = stations[station]?.checkedMeterTopics, checked.count == statePublications.count,
                checked.indices.allSatisfy({ checked[$0] == statePublications[$0].topic })  // in place: no publication copied
            {
                return out
            }
        }
        defer {
            if isMeterValues { stations[station, default: Station()].checkedMeterTopics = statePublications.map(\.topic) }
        }
        let root = topics.stationRoot(station)
        let statePrefix = root + "/state/", connectorPrefix = root + "/connector/"
        for publication in statePublications {
            let topic = publication.topic.utf8
            if topic.starts(with: statePrefix.utf8) {
                let parameter = String(Substring(topic.dropFirst(statePrefix.utf8.count)))
                guard !ordinaryParameters.contains(parameter), !stations[station, default: Station()].parameters.contains(parameter) else { continue }
                guard let sensor = Self.sensor(forOptional: parameter) else {
                    ordinaryParameters.insert(parameter)
                    continue
                }
                stations[station, default: Station()].parameters.insert(parameter)
                out += configs(station, [sensor])
            } else if topic.starts(with: connectorPrefix.utf8),
                let connector = Self.leadingNumber(topic.dropFirst(connectorPrefix.utf8.count)),
                connector >= 2, stations[station, default: Station()].connectors.insert(connector).inserted
            {
                out += configs(station, connectorEntities(station, connector))
            }
        }
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
        return entities
    }

    /// Empty retained configs for every entity of a station, which removes them from Home Assistant.
    mutating func forget(_ station: String) -> [Publication] {
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
                "state_topic": state(station, "energy_active_import_register"), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "session_energy", name: "Session energy", fields: [
                "state_topic": state(station, "session_energy"), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "power", name: "Power", fields: [
                "state_topic": state(station, "power_active_import"), "device_class": .string("power"),
                "state_class": .string("measurement"), "unit_of_measurement": .string("W"),
            ]),
            Entity(component: "sensor", object: "status", name: "Status", fields: [
                "state_topic": state(station, "status"), "device_class": .string("enum"),
                "options": .array(ChargePointStatus.allCases.map { .string($0.rawValue) }),
            ]),
            Entity(component: "sensor", object: "error_code", name: "Error code", fields: [
                "state_topic": state(station, "error_code"), "device_class": .string("enum"),
                "options": .array(ChargePointErrorCode.allCases.map { .string($0.rawValue) }), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "last_seen", name: "Last seen", fields: [
                "state_topic": state(station, "last_seen"), "device_class": .string("timestamp"), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "transaction_id", name: "Transaction", fields: [
                "state_topic": state(station, "transaction_id"), "icon": .string("mdi:identifier"),
            ]),
            Entity(component: "sensor", object: "vendor", name: "Vendor", fields: [
                "state_topic": state(station, "charge_point_vendor"), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "model", name: "Model", fields: [
                "state_topic": state(station, "charge_point_model"), "entity_category": diagnostic,
            ]),
            Entity(component: "sensor", object: "firmware", name: "Firmware", fields: [
                "state_topic": state(station, "firmware_version"), "entity_category": diagnostic,
            ]),
            Entity(component: "binary_sensor", object: "connected", name: "Connected", fields: [
                "state_topic": state(station, "connection_state"), "payload_on": .string("CONNECTED"),
                "payload_off": .string("DISCONNECTED"), "device_class": .string("connectivity"), "entity_category": diagnostic,
            ], bridgeAvailabilityOnly: true),
            Entity(component: "binary_sensor", object: "charging", name: "Charging", fields: [
                "state_topic": state(station, "charging"), "payload_on": .string("ON"), "payload_off": .string("OFF"),
                "device_class": .string("battery_charging"),
            ]),
            Entity(component: "binary_sensor", object: "plugged", name: "Plugged in", fields: [
                "state_topic": state(station, "plugged"), "payload_on": .string("ON"), "payload_off": .string("OFF"),
                "device_class": .string("plug"),
            ]),
            Entity(component: "switch", object: "charging_enabled", name: "Charging enabled", fields: [
                "command_topic": control(station, "charging_enabled"), "state_topic": state(station, "charging_enabled"),
                "payload_on": .string("ON"), "payload_off": .string("OFF"), "state_on": .string("ON"), "state_off": .string("OFF"),
                "icon": .string("mdi:ev-station"),
            ]),
            Entity(component: "select", object: "availability", name: "Availability", fields: [
                "command_topic": control(station, "availability"), "state_topic": state(station, "availability"),
                "options": .array([.string("Operative"), .string("Inoperative")]),
            ]),
            Entity(component: "number", object: "max_current", name: "Max current", fields: [
                "command_topic": control(station, "max_current"), "state_topic": state(station, "max_current"),
                "min": .double(0), "max": .double(controls.maxCurrent), "step": .double(controls.currentStep),
                "unit_of_measurement": .string("A"), "device_class": .string("current"), "mode": .string("slider"),
            ]),
            Entity(component: "button", object: "reset_soft", name: "Soft reset", fields: [
                "command_topic": control(station, "reset"), "payload_press": .string("Soft"), "entity_category": .string("config"),
            ]),
            Entity(component: "button", object: "reset_hard", name: "Hard reset", fields: [
                "command_topic": control(station, "reset"), "payload_press": .string("Hard"), "device_class": .string("restart"),
                "entity_category": .string("config"),
            ]),
            Entity(component: "button", object: "unlock", name: "Unlock connector", fields: [
                "command_topic": control(station, "unlock_connector"), "payload_press": .string("1"), "icon": .string("mdi:lock-open"),
            ]),
            Entity(component: "button", object: "remote_start", name: "Start charging", fields: [
                "command_topic": control(station, "remote_start"), "payload_press": .string("1"), "icon": .string("mdi:play"),
            ]),
            Entity(component: "button", object: "remote_stop", name: "Stop charging", fields: [
                "command_topic": control(station, "remote_stop"), "payload_press": .string("1"), "icon": .string("mdi:stop"),
            ]),
        ]
    }

    private func connectorEntities(_ station: String, _ connector: Int) -> [Entity] {
        let suffix = "_c\(connector)"
        let label = "Connector \(connector)"
        return [
            Entity(component: "sensor", object: "status" + suffix, name: "\(label) status", fields: [
                "state_topic": state(station, "status", connector: connector), "device_class": .string("enum"),
                "options": .array(ChargePointStatus.allCases.map { .string($0.rawValue) }),
            ]),
            Entity(component: "sensor", object: "energy" + suffix, name: "\(label) energy", fields: [
                "state_topic": state(station, "energy_active_import_register", connector: connector), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "session_energy" + suffix, name: "\(label) session energy", fields: [
                "state_topic": state(station, "session_energy", connector: connector), "device_class": .string("energy"),
                "state_class": .string("total_increasing"), "unit_of_measurement": .string("Wh"),
            ]),
            Entity(component: "sensor", object: "power" + suffix, name: "\(label) power", fields: [
                "state_topic": state(station, "power_active_import", connector: connector), "device_class": .string("power"),
                "state_class": .string("measurement"), "unit_of_measurement": .string("W"),
            ]),
            Entity(component: "binary_sensor", object: "charging" + suffix, name: "\(label) charging", fields: [
                "state_topic": state(station, "charging", connector: connector), "payload_on": .string("ON"),
                "payload_off": .string("OFF"), "device_class": .string("battery_charging"),
            ]),
            Entity(component: "binary_sensor", object: "plugged" + suffix, name: "\(label) plugged in", fields: [
                "state_topic": state(station, "plugged", connector: connector), "payload_on": .string("ON"),
                "payload_off": .string("OFF"), "device_class": .string("plug"),
            ]),
            Entity(component: "button", object: "unlock" + suffix, name: "\(label) unlock", fields: [
                "command_topic": control(station, "unlock_connector"), "payload_press": .string(String(connector)),
            ]),
            Entity(component: "button", object: "remote_start" + suffix, name: "\(label) start charging", fields: [
                "command_topic": control(station, "remote_start"), "payload_press": .string(String(connector)),
            ]),
            Entity(component: "button", object: "remote_stop" + suffix, name: "\(label) stop charging", fields: [
                "command_topic": control(station, "remote_stop"), "payload_press": .string(String(connector)),
            ]),
        ]
    }

    /// Sensors for parameters a charger may or may not report; nil for parameters without one.
    static func sensor(forOptional parameter: String) -> Entity? {
        let phase = parameter.split(separator: "_").last.flatMap { ["l1", "l2", "l3"].contains($0) ? $0.uppercased() : nil }
        let suffix = phase.map { " \($0)" } ?? ""
        func measurement(_ name: String, _ deviceClass: String, _ unit: String) -> Entity {
            Entity(component: "sensor", object: parameter, name: name + suffix, fields: [
                "device_class": .string(deviceClass), "state_class": .string("measurement"), "unit_of_measurement": .string(unit),
            ])
        }
        switch parameter {
        case "current_import", "current_import_l1", "current_import_l2", "current_import_l3": return measurement("Current", "current", "A")
        case "voltage", "voltage_l1", "voltage_l2", "voltage_l3": return measurement("Voltage", "voltage", "V")
        case "soc": return measurement("State of charge", "battery", "%")
        case "temperature", "temperature_body": return measurement("Temperature", "temperature", "°C")
        case "current_offered": return measurement("Current offered", "current", "A")
        default: return nil
        }
    }

    /// The flat parameter of a publication to `<S>/state/<parameter>` that has an optional sensor.
    /// `12` from `12/state/status`.
    private static func leadingNumber(_ bytes: Substring.UTF8View) -> Int? {
        var value = 0, digits = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            guard digits < 9 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }

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
            "topic": .string(topics.state(station, "connection_state")),
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
