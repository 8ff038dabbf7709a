import CentralSystem
import Foundation
import OCPP
import Synchronization

/// Turns the central system's events into publications, on the thread of the charger's connection: the bridge's
/// part of ``DurableEventSink``.
///
/// The state model and Home Assistant discovery are per station, so they are split in shards by station, each
/// under its own lock: one station's events are turned into publications one at a time and in order, while the
/// event loops rarely wait for each other (one lock for all was about a fifth of the CPU at saturation,
/// docs/performance.md). Under a shard's lock only the shard's models and the publisher's staging run (lock order:
/// shard, then publisher; nothing else is called with a shard's lock held).
final class EventSink: Sendable {
    /// The stations of one shard: their state model and their discovery (nil when discovery is off).
    private final class Shard: Sendable {
        struct Models {
            var state: StationStateModel
            var discovery: DiscoveryModel?
        }

        let models: Mutex<Models>
        init(_ models: Models) { self.models = Mutex(models) }
    }

    private let shards: [Shard]
    private static let shardCount = 16
    private let configuration: MQTTBridgeConfiguration
    private let centralSystem: CentralSystem
    private let publisher: StatePublisher
    private let directory: StationDirectory
    private let now: @Sendable () -> Date
    /// The start-up publications are out (they come before any event's): read without a lock on the per-event
    /// path; `starting` makes the first events wait until they are.
    private let started = Atomic<Bool>(false)
    private let starting = Mutex(())
    /// Graceful shutdown has begun: later events are not published.
    private let finished = Atomic<Bool>(false)

    private var topics: TopicLayout { configuration.topics }

    init(
        configuration: MQTTBridgeConfiguration, centralSystem: CentralSystem, publisher: StatePublisher,
        directory: StationDirectory, now: @escaping @Sendable () -> Date
    ) {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.publisher = publisher
        self.directory = directory
        self.now = now
        self.shards = (0..<Self.shardCount).map { _ in
            Shard(Shard.Models(state: StationStateModel(topics: configuration.topics), discovery: configuration.discovery.map {
                DiscoveryModel(configuration: $0, topics: configuration.topics, controls: configuration.controls, version: configuration.version)
            }))
        }
    }

    /// Turns one event into publications, in order with the station's other events, and hands them to the
    /// publisher without waiting for the outbox (see ``DurableEventSink``). Returns the mark to commit through.
    func stage(_ event: CentralSystemEvent) -> UInt64? {
        if !started.load(ordering: .acquiring) { startOnce() }
        guard !finished.load(ordering: .acquiring) else { return nil }
        // Read before the shard's lock: the central system's lock is not taken under ours.
        let connectState: [Publication] = if case .connected(let station, _) = event {
            recordPublications(station, centralSystem.stationRecord(station))
        } else {
            []
        }
        let mark = shard(event.station).models.withLock { models in
            let state = models.state.update(event, at: now())
            var mark = publisher.stage(state.publications)
            if !state.copies.isEmpty { mark = publisher.stageCopies(state.copies) ?? mark }
            if !connectState.isEmpty { mark = publisher.stage(connectState) ?? mark }
            return publisher.stage(models.discovery?.apply(event, state: state) ?? []) ?? mark
        }
        // What goes straight to MQTT (retained state with nothing waiting before it) goes now, outside the lock.
        publisher.handOverQueued()
        directory.note(event)
        return mark
    }

    /// No event is published after this (graceful shutdown, after the chargers' last events).
    func finish() {
        finished.store(true, ordering: .releasing)
    }

    /// The start-up publications, once, before any event's: the bridge is online, and every known station's last
    /// known state.
    func startOnce() {
        starting.withLock { _ in
            guard !started.load(ordering: .acquiring) else { return }
            for transaction in centralSystem.activeTransactions {
                shard(transaction.station).models.withLock { $0.state.restore(transaction) }
            }
            for transaction in centralSystem.activeTransactions201 {
                shard(transaction.station).models.withLock { $0.state.restore(transaction) }
            }
            for (station, record) in centralSystem.stationRecords where record.hasSeveralConnectors {
                shard(station).models.withLock { $0.state.noteSeveralConnectors(station) }
            }
            publisher.publish([Publication(topic: topics.bridgeState, payload: "online")])
            publisher.publish([Publication(topic: topics.bridgeInfo, payload: JSONValue.object(configuration.info).text)])
            publisher.publish(initialState())
            // Stations an earlier version kept from a connection alone: what it announced for them goes.
            for station in centralSystem.forgottenAtStart { forget(station, known: StationRecord()) }
            directory.publishList()
            started.store(true, ordering: .releasing)
        }
    }

    /// Publishes every station's discovery configs again, each shard's under its lock, so a config that an event
    /// stages meanwhile (a boot's new firmware version) is not overtaken by an older one. Returns how many; nil when
    /// discovery is off.
    @discardableResult
    func republishDiscovery() -> Int? {
        guard configuration.discovery != nil else { return nil }
        var count = 0
        var mark: UInt64?
        for shard in shards {
            shard.models.withLock { models in
                guard let discovery = models.discovery else { return }
                for station in discovery.stations.keys.sorted() {
                    let configs = discovery.all(station)
                    mark = publisher.stage(configs) ?? mark
                    count += configs.count
                }
            }
        }
        // Configs go straight to MQTT when nothing waits before them (no mark to commit): hand them over either way.
        if let mark { publisher.commit(through: mark) }
        publisher.handOverQueued()
        return count
    }

    /// Clears a station's discovery configs; returns how many. A station the gateway announced in an earlier run
    /// (the store knows it) has every config it may have had cleared.
    func forget(_ station: String, known: StationRecord? = nil) -> Int {
        let record = known ?? centralSystem.stationRecord(station)
        let cleared = shard(station).models.withLock { $0.discovery?.forget(station, known: record) } ?? []
        publisher.forget(cleared.map(\.topic))
        return cleared.count
    }

    /// The shard that holds `station`'s state.
    private func shard(_ station: String) -> Shard {
        shards[Int(UInt(bitPattern: station.hashValue) % UInt(Self.shardCount))]
    }

    /// What a station's record says on MQTT at each connect and at start-up: its charging switch, and `max_current`
    /// (the limit the gateway set; when it set none, the control's top, since the charger's own maximum applies;
    /// nothing when it is not known, for a station kept before limits were).
    private func recordPublications(_ station: String, _ record: StationRecord?) -> [Publication] {
        var out = [Publication(topic: topics.state(station, StateParameter.chargingEnabled),
                               payload: StateValue.onOff(record?.chargingEnabled ?? true))]
        switch record?.currentLimit ?? .none {
        case .none: out.append(limit(station, configuration.controls.maxCurrent))
        case .amperes(let amperes): out.append(limit(station, amperes))
        case .unknown: break
        }
        return out
    }

    private func limit(_ station: String, _ amperes: Double) -> Publication {
        Publication(topic: topics.state(station, StateParameter.maxCurrent), payload: StateValue.number(amperes))
    }

    /// Expected and known stations as DISCONNECTED, with their charging switches and current limits.
    private func initialState() -> [Publication] {
        let connected = centralSystem.connectedStations
        var stations: [String] = []
        for station in configuration.expectedStations + centralSystem.knownStations where !stations.contains(station) {
            stations.append(station)
        }
        let records = centralSystem.stationRecords
        directory.addDisconnected(stations, records: records)
        let started = OCPPDateTime.format(now())
        let expected = configuration.expectedStations.map { Publication(topic: topics.state($0, StateParameter.serviceStarted), payload: started) }
        return expected + stations.filter { connected[$0] == nil }.flatMap { station in
            [Publication(topic: topics.state(station, StateParameter.connectionState), payload: "DISCONNECTED")]
                + recordPublications(station, records[station]) + lastKnownState(station, records[station])
        }
    }

    /// What the store remembers of a station (boot facts, last seen, connector statuses), published again at
    /// start-up so a broker that lost its retained messages still shows the station.
    private func lastKnownState(_ station: String, _ record: StationRecord?) -> [Publication] {
        guard let record else { return [] }
        var out: [Publication] = []
        var stationTopics = StationStateTopics(topics, station)
        stationTopics.severalConnectors = record.hasSeveralConnectors
        func add(_ parameter: String, _ value: String?) {
            guard let value else { return }
            out.append(Publication(topic: stationTopics.state(parameter), payload: value))
        }
        func add(_ parameter: String, _ value: String?, connector: Int) {
            guard let value else { return }
            let (topic, flat) = stationTopics.connectorState(parameter, connector: connector)
            out.append(Publication(topic: topic, payload: value))
            if let flat { out.append(Publication(topic: flat, payload: value)) }
        }
        add(StateParameter.chargePointVendor, record.boot?.vendor)
        add(StateParameter.chargePointModel, record.boot?.model)
        add(StateParameter.chargePointSerialNumber, record.boot?.serialNumber)
        add(StateParameter.firmwareVersion, record.boot?.firmwareVersion)
        add(StateParameter.lastSeen, record.lastSeen.map(OCPPDateTime.format))
        for (connector, status) in (record.connectors ?? [:]).sorted(by: { $0.key < $1.key }) {
            add(StateParameter.status, status.status, connector: connector)
            add(StateParameter.errorCode, status.errorCode, connector: connector)
        }
        return out
    }
}
