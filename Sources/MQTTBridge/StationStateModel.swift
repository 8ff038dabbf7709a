import CentralSystem
import Foundation
import OCPP

/// Turns central-system events into the retained state topics of the MQTT contract (docs/mqtt-api.md).
///
/// Pure state: it remembers, per station and connector, only what later topics depend on (the open
/// transaction and its meter start, the status, which power and current topics are non-zero).
struct StationStateModel {
    let topics: TopicLayout
    /// How often `last_seen` is refreshed by messages other than Heartbeat and BootNotification.
    var lastSeenInterval: TimeInterval = 60
    var stations: [String: Station] = [:]

    struct Station {
        var connectors: [Int: Connector] = [:]
        var lastSeenPublished: Date?
        /// A status, transaction or reading of connector (EVSE) 2 or above was seen, now or before a restart: with
        /// `MQTT_CONNECTOR_1_TOPICS=auto`, connector 1 then has its `connector/1` copy.
        var severalConnectors = false
    }

    struct Connector {
        var status: ChargePointStatus?
        var transactionID: Int?
        var meterStart: Int?
        /// Power and current parameters last published with a non-zero value.
        var flowing: Set<String> = []
        /// The topics of the meter parameters this connector reported, by ``Parameter/id`` (-1: `session_energy`),
        /// with their places in the publisher's retained cache: made at the first MeterValues that carries the
        /// parameter, then carried by every publication of it. Only metering connectors have them.
        var meterTopics: [Int: (topic: RetainedSlot, flat: RetainedSlot?)] = [:]
        /// OCPP 2.0.1 (``StationStateModel/apply201(_:_:_:)``): the EVSE's transaction and what its status derives from.
        var v201: V201?
    }

    struct V201 {
        var transactionID: String?
        var meterStart: Double?
        var connectorStatus: String?
        var chargingState: String?
        /// The time of the newest reading published: an older one (an offline backlog) is not published again.
        var newestReading: Date?
        /// A transaction ended and the connector has not been Available since (Occupied then means Finishing).
        var finished = false
        /// The last energy register reading published (for meter_stop when Ended carries none).
        var lastEnergy: Double?
    }

    init(topics: TopicLayout) {
        self.topics = topics
    }

    /// Remembers that `station` has connectors above 1 (a status of one kept from before a restart), without copying
    /// anything: what is on the broker was published under that layout.
    mutating func noteSeveralConnectors(_ station: String) {
        stations[station, default: Station()].severalConnectors = true
    }

    /// The event is about `connector`. The first time a station shows a connector above 1, connector 1's values get
    /// their `connector/1` copy when the layout wants one for such stations: what was published on the flat topics
    /// is copied there, and its meter topics are made anew with both.
    mutating func focus(on connector: Int, _ out: inout Output) {
        out.update.connector = connector
        guard connector > 1, !out.topics.severalConnectors else { return }
        let station = out.stationID
        stations[station, default: Station()].severalConnectors = true
        out.topics.severalConnectors = true
        guard out.topics.connectorOneCopy, let one = stations[station]?.connectors[1] else { return }
        var copied = StateParameter.perConnector + one.meterTopics.keys.filter { $0 >= 0 }.sorted().map(Self.parameterName)
        if one.transactionID != nil || one.v201?.transactionID != nil { copied.append(StateParameter.idTag) }
        for parameter in copied {
            let (topic, flat) = out.topics.connectorState(parameter, connector: 1)
            if let flat { out.update.copies.append((from: flat, to: topic)) }
        }
        stations[station]?.connectors[1]?.meterTopics = [:]
    }

    /// Remembers a transaction that was open before the gateway restarted, for session energy.
    mutating func restore(_ transaction: Transaction) {
        update(transaction.station, transaction.connectorId) {
            $0.transactionID = transaction.id
            $0.meterStart = transaction.meterStart
        }
    }

    /// Changes one connector's record, creating the station and connector on first use.
    mutating func update(_ station: String, _ connector: Int, _ change: (inout Connector) -> Void) {
        change(&stations[station, default: Station()].connectors[connector, default: Connector()])
    }

    /// What one event changed: its publications, and what Home Assistant discovery announces entities from.
    struct Update {
        var publications: [Publication] = []
        /// The connector the event is about (StatusNotification, a transaction, MeterValues).
        var connector: Int?
        /// A MeterValues' parameters (``Parameter/id``s: no string to retain), one per parameter, in the order of
        /// their first sample. ``StationStateModel/parameterName(_:)`` names them.
        var meterParameters: [Int] = []
        /// Retained topics to publish again on other topics, with the payload published last on the first: connector
        /// 1's values, copied under `connector/1` when the station turns out to have several connectors.
        var copies: [(from: String, to: String)] = []
    }

    /// The publications of `event`.
    mutating func apply(_ event: CentralSystemEvent, at now: Date) -> [Publication] {
        update(event, at: now).publications
    }

    /// The publications of `event`, with what discovery needs to know of it.
    mutating func update(_ event: CentralSystemEvent, at now: Date) -> Update {
        var out = Output(topics: topics, station: event.station)
        out.topics.severalConnectors = stations[event.station]?.severalConnectors ?? false
        switch event {
        case .connected(_, let info):
            out.station(StateParameter.connectionState, "CONNECTED")
            out.station(StateParameter.ocppVersion, info.version.number)
            out.station(StateParameter.lastConnected, OCPPDateTime.format(now))
            seen(&out, now, force: true)
        case .disconnected(_, let reason):
            out.station(StateParameter.connectionState, "DISCONNECTED")
            out.station(StateParameter.lastDisconnected, OCPPDateTime.format(now))
            out.station(StateParameter.disconnectReason, StateValue.disconnectReason(reason))
            for connector in stations[event.station]?.connectors.keys.sorted() ?? [] {
                stopFlows(&out, connector: connector)
            }
        case .chargingEnabledChanged(_, let enabled):
            out.station(StateParameter.chargingEnabled, StateValue.onOff(enabled))
        case .upstream(let station, let status):
            out.update.publications.append(Publication(topic: topics.relay(station, "state"), payload: status.state.rawValue))
            if let error = status.lastError {
                out.update.publications.append(Publication(topic: topics.relay(station, "last_error"), payload: error))
            }
        case .upstreamDetail(let station, .queue(let depth)):
            out.update.publications.append(Publication(topic: topics.relay(station, "queue"), payload: String(depth)))
        case .upstreamDetail(let station, .secondaries(let secondaries)):
            let list = JSONValue.array(secondaries.map {
                .object(["url": .string($0.url), "state": .string($0.state.rawValue), "queue": .int($0.queued),
                         "last_error": $0.lastError.map(JSONValue.string) ?? .null])
            })
            out.update.publications.append(Publication(topic: topics.relay(station, "secondaries"), payload: list.text))
        case .upstreamDetail(let station, .control(let holder)):
            out.update.publications.append(Publication(topic: topics.relay(station, "control"), payload: holder ?? "none"))
        case .upstreamDetail(let station, .refused(let backend, let action, let reason, let holder)):
            let event = JSONValue.object(["event": .string("refused"), "backend": .string(backend), "action": .string(action),
                                          "reason": .string(reason), "holder": holder.map(JSONValue.string) ?? .null,
                                          "time": .string(OCPPDateTime.format(now))])
            out.update.publications.append(Publication(topic: topics.relay(station, "event"), payload: event.text, retain: false, cached: false))
        case .upstreamDetail(let station, .transactions(let transactions)):
            let list = JSONValue.array(transactions.map {
                .object(["connector_id": .int($0.connectorId), "transaction_id": .int($0.local),
                         "upstream_transaction_id": $0.upstream.map(JSONValue.int) ?? .null])
            })
            out.update.publications.append(Publication(topic: topics.relay(station, "transactions"), payload: list.text))
        case .message(_, let message):
            apply(message, &out, now)
        }
        return out.update
    }

    private mutating func apply(_ message: ChargePointMessage, _ out: inout Output, _ now: Date) {
        switch message {
        case .bootNotification(let request, _):
            out.station(StateParameter.chargePointVendor, request.chargePointVendor.value)
            out.station(StateParameter.chargePointModel, request.chargePointModel.value)
            out.station(StateParameter.chargePointSerialNumber, request.chargePointSerialNumber?.value)
            out.station(StateParameter.chargeBoxSerialNumber, request.chargeBoxSerialNumber?.value)
            out.station(StateParameter.firmwareVersion, request.firmwareVersion?.value)
            out.station(StateParameter.iccid, request.iccid?.value)
            out.station(StateParameter.imsi, request.imsi?.value)
            out.station(StateParameter.meterType, request.meterType?.value)
            out.station(StateParameter.meterSerialNumber, request.meterSerialNumber?.value)
            seen(&out, now, force: true)
        case .heartbeat:
            out.station(StateParameter.heartbeat, "ON")
            seen(&out, now, force: true)
        case .statusNotification(let request):
            let connector = request.connectorId
            let previous = stations[out.stationID]?.connectors[connector]?.status
            focus(on: connector, &out)
            update(out.stationID, connector) { $0.status = request.status }
            out.connector(connector, StateParameter.status, request.status.rawValue)
            out.connector(connector, StateParameter.errorCode, request.errorCode.rawValue)
            out.connector(connector, StateParameter.connectorId, String(connector))
            out.connector(connector, StateParameter.info, request.info?.value)
            out.connector(connector, StateParameter.vendorId, request.vendorId?.value)
            out.connector(connector, StateParameter.vendorErrorCode, request.vendorErrorCode?.value)
            out.connector(connector, StateParameter.charging, StateValue.onOff(request.status == .charging))
            out.connector(connector, StateParameter.plugged, StateValue.onOff(Self.pluggedStatuses.contains(request.status)))
            if connector == 0 {
                // The whole charger's availability, as the availability control sets it.
                out.station(StateParameter.availability, request.status == .unavailable ? "Inoperative" : "Operative")
            }
            if previous == .charging && request.status != .charging {
                stopFlows(&out, connector: connector)
            }
            seen(&out, now)
        case .authorize(let request, let response):
            out.station(StateParameter.authorize, response.idTagInfo.status.rawValue)
            out.station(StateParameter.idTag, request.idTag.value)
            seen(&out, now)
        case .startTransaction(let request, let response):
            let connector = request.connectorId
            focus(on: connector, &out)
            update(out.stationID, connector) {
                $0.transactionID = response.transactionId
                $0.meterStart = request.meterStart
            }
            out.connector(connector, StateParameter.transactionId, String(response.transactionId), kept: true)
            out.connector(connector, StateParameter.idTag, request.idTag.value, kept: true)
            out.connector(connector, StateParameter.meterStart, String(request.meterStart), kept: true)
            out.connector(connector, StateParameter.meterStartTimestamp, OCPPDateTime.format(request.timestamp), kept: true)
            out.connector(connector, StateParameter.sessionEnergy, "0", kept: true)
            out.connector(connector, StateParameter.evConnected, "ON", kept: true)
            seen(&out, now)
        case .stopTransaction(let request, _, let transaction, _):
            let connector = transaction?.connectorId ?? connectorOf(transaction: request.transactionId, station: out.stationID) ?? 1
            let meterStart = transaction?.meterStart
                ?? stations[out.stationID]?.connectors[connector].flatMap { $0.transactionID == request.transactionId ? $0.meterStart : nil }
            focus(on: connector, &out)
            out.connector(connector, StateParameter.meterStop, String(request.meterStop), kept: true)
            out.connector(connector, StateParameter.meterStopTimestamp, OCPPDateTime.format(request.timestamp), kept: true)
            out.connector(connector, StateParameter.meterStopReason, (request.reason ?? .local).rawValue, kept: true)
            if let meterStart {
                out.connector(connector, StateParameter.sessionEnergy, String(request.meterStop - meterStart), kept: true)
            }
            out.connector(connector, StateParameter.transactionId, "", kept: true)
            out.connector(connector, StateParameter.evConnected, "OFF", kept: true)
            update(out.stationID, connector) {
                $0.transactionID = nil
                $0.meterStart = nil
            }
            stopFlows(&out, connector: connector)
            seen(&out, now)
        case .meterValues(let request, let samples):
            applyMeterValues(request, samples, &out)
            seen(&out, now)
        case .dataTransfer(let request, _):
            out.station(StateParameter.dataTransferVendorId, request.vendorId.value)
            out.station(StateParameter.dataTransferMessageId, request.messageId?.value)
            out.station(StateParameter.dataTransferData, request.data)
            seen(&out, now)
        case .diagnosticsStatusNotification(let request):
            out.station(StateParameter.diagnosticsStatus, request.status.rawValue)
            seen(&out, now)
        case .firmwareStatusNotification(let request):
            out.station(StateParameter.firmwareStatus, request.status.rawValue)
            seen(&out, now)
        case .signedFirmwareStatusNotification(let request):
            out.station(StateParameter.firmwareStatus, request.status.rawValue)
            seen(&out, now)
        case .logStatusNotification(let request):
            out.station(StateParameter.logStatus, request.status.rawValue)
            seen(&out, now)
        case .securityEventNotification(let request):
            out.station(StateParameter.securityEvent, request.type.value)
            out.station(StateParameter.securityEventTimestamp, OCPPDateTime.format(request.timestamp))
            seen(&out, now)
        case .v201(let message):
            apply201(message, &out, now)
        }
    }

    static let pluggedStatuses: Set<ChargePointStatus> = [.preparing, .charging, .suspendedEV, .suspendedEVSE, .finishing]

    private mutating func applyMeterValues(_ request: MeterValuesRequest, _ samples: [MeterSample], _ out: inout Output) {
        let connector = request.connectorId
        focus(on: connector, &out)
        let (readings, energy) = Self.readings(samples, &out)
        // The connector's state changed in place: one lookup per level, no copy of it to write back.
        let stationID = out.stationID
        Self.updateMeter(&stations[stationID, default: Station()].connectors[connector, default: Connector()],
                         connector, readings, energy, &out) { state in
            let transactionID = request.transactionId ?? state.transactionID
            return transactionID != nil && transactionID == state.transactionID ? state.meterStart.map(Double.init) : nil
        }
    }

    typealias Reading = (parameter: Parameter, value: String, number: Double?)

    /// One publication per parameter (the last sample of each), the whole charger's value of what came only per
    /// phase, and the energy register's reading.
    static func readings(_ samples: [MeterSample], _ out: inout Output) -> (readings: [Reading], energy: Double?) {
        // Later samples of the same parameter supersede earlier ones: one publish per parameter. A list, not a
        // table: a MeterValues has a dozen parameters at most, and their names are the shared strings of
        // `parameters`, so comparing them is mostly comparing pointers.
        var readings: [Reading] = []
        readings.reserveCapacity(samples.count)
        out.update.meterParameters.reserveCapacity(samples.count)
        var energy: Double?
        for sample in samples {
            let parameter = Self.parameter(sample.measurand, sample.phase, sample.location)
            let value = sample.value.map(StateValue.number) ?? sample.rawValue
            if let index = readings.firstIndex(where: { $0.parameter.name == parameter.name }) {
                readings[index].value = value
                readings[index].number = sample.value
            } else {
                readings.append((parameter, value, sample.value))
                out.update.meterParameters.append(parameter.id)
            }
            if sample.measurand == .energyActiveImportRegister, sample.phase == nil, let value = sample.value {
                energy = value
            }
        }
        // The whole charger's value of what came only per phase, after the phases (PhaseAggregates).
        for (measurand, total) in PhaseAggregates.aggregates(samples) {
            let parameter = Self.parameter(measurand, nil, nil)
            readings.append((parameter, StateValue.number(total), total))
            out.update.meterParameters.append(parameter.id)
            if measurand == .energyActiveImportRegister, energy == nil { energy = total }
        }
        return (readings, energy)
    }

    /// Publishes the readings on the connector's meter topics, and the session energy when `sessionStart` gives the
    /// open transaction's meter start (the readings are that transaction's).
    static func updateMeter(
        _ state: inout Connector, _ connector: Int, _ readings: [Reading], _ energy: Double?, _ out: inout Output,
        sessionStart: (Connector) -> Double?
    ) {
        for (parameter, value, number) in readings {
            out.publish(meterTopics(parameter.id, parameter.name), value, kept: true)
            if parameter.isFlow {
                // A value that is not a number (kept as sent) counts as flowing, as it always did.
                if number == 0 { state.flowing.remove(parameter.name) } else { state.flowing.insert(parameter.name) }
            }
        }
        if let energy, let meterStart = sessionStart(state) {
            out.publish(meterTopics(-1, StateParameter.sessionEnergy), StateValue.number(energy - meterStart), kept: true)
        }

        func meterTopics(_ id: Int, _ name: String) -> (topic: RetainedSlot, flat: RetainedSlot?) {
            if let known = state.meterTopics[id] { return known }
            let made = out.topics.connectorState(name, connector: connector)
            let topics = (RetainedSlot(topic: made.0), made.1.map(RetainedSlot.init))
            state.meterTopics[id] = topics
            return topics
        }
    }

    /// A meter value's state parameter: its name, and whether it is a power or current flow.
    struct Parameter {
        /// Its position in the table of parameters, for per-connector tables.
        let id: Int
        let name: String
        let isFlow: Bool
    }

    private struct ParameterKey: Hashable {
        let measurand: Measurand
        let phase: Phase?
        let location: Location?
    }

    /// Every measurand, phase and location combination's parameter, made once instead of per sample.
    private static let parameters: [ParameterKey: Parameter] = {
        var table: [ParameterKey: Parameter] = [:]
        for measurand in Measurand.allCases {
            for phase in [nil] + Phase.allCases.map(Optional.some) {
                for location in [nil] + Location.allCases.map(Optional.some) {
                    let name = StateParameter.meter(measurand, phase: phase, location: location)
                    table[ParameterKey(measurand: measurand, phase: phase, location: location)] =
                        Parameter(id: table.count, name: name, isFlow: StateParameter.isFlow(name))
                }
            }
        }
        return table
    }()

    static func parameter(_ measurand: Measurand, _ phase: Phase?, _ location: Location?) -> Parameter {
        parameters[ParameterKey(measurand: measurand, phase: phase, location: location)]!
    }

    /// The names of the parameters by ``Parameter/id``.
    private static let names: [String] = {
        var names = [String](repeating: "", count: parameters.count)
        for parameter in parameters.values { names[parameter.id] = parameter.name }
        return names
    }()

    /// The name of the parameter with this ``Parameter/id``.
    static func parameterName(_ id: Int) -> String { names[id] }

    mutating func stopFlows(_ out: inout Output, connector: Int) {
        guard let flowing = stations[out.stationID]?.connectors[connector]?.flowing, !flowing.isEmpty else { return }
        for parameter in flowing.sorted() {
            out.connector(connector, parameter, "0")
        }
        stations[out.stationID]?.connectors[connector]?.flowing = []
    }

    private func connectorOf(transaction id: Int, station: String) -> Int? {
        stations[station]?.connectors.first { $0.value.transactionID == id }?.key
    }

    mutating func seen(_ out: inout Output, _ now: Date, force: Bool = false) {
        let last = stations[out.stationID]?.lastSeenPublished
        guard force || last == nil || now.timeIntervalSince(last!) >= lastSeenInterval else { return }
        stations[out.stationID, default: Station()].lastSeenPublished = now
        out.station(StateParameter.lastSeen, OCPPDateTime.format(now))
    }
}

/// Collects one event's publications.
struct Output {
    var topics: StationStateTopics
    var update = StationStateModel.Update()

    var stationID: String { topics.station }

    init(topics: TopicLayout, station: String) {
        self.topics = StationStateTopics(topics, station)
    }

    /// A station-wide parameter: `<S>/state/<parameter>`. Nothing for a nil value.
    mutating func station(_ parameter: String, _ value: String?) {
        guard let value else { return }
        update.publications.append(Publication(topic: topics.state(parameter), payload: value))
    }

    /// A connector parameter: `<S>/connector/<n>/state/<parameter>`, mirrored on `<S>/state/<parameter>` for connector 1
    /// (only there when the layout leaves out `connector/1`).
    mutating func connector(_ connector: Int, _ parameter: String, _ value: String?, kept: Bool = false) {
        guard let value else { return }
        publish(topics.connectorState(parameter, connector: connector), value, kept: kept)
    }

    /// A connector parameter on topics made before (``StationStateTopics/connectorState(_:connector:)``).
    mutating func publish(_ topics: (topic: String, flat: String?), _ value: String, kept: Bool) {
        update.publications.append(Publication(topic: topics.topic, payload: value, kept: kept))
        if let flat = topics.flat { update.publications.append(Publication(topic: flat, payload: value, kept: kept)) }
    }

    /// A meter parameter on its connector's slots (``RetainedSlot``).
    mutating func publish(_ slots: (topic: RetainedSlot, flat: RetainedSlot?), _ value: String, kept: Bool) {
        update.publications.append(Publication(slot: slots.topic, payload: value, kept: kept))
        if let flat = slots.flat { update.publications.append(Publication(slot: flat, payload: value, kept: kept)) }
    }
}
