import CentralSystem
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The bridge between the central system and MQTT, as a Service: every event becomes retained state topics,
/// every command message becomes an OCPP call (or a change of the charging switch), with its result published.
///
/// It wires four pieces, each in a file of its own: ``EventSink`` (events to publications, on the chargers'
/// threads), ``StationDirectory`` (the station that connected last, `bridge/stations`), ``CommandRunner``
/// (commands: store, per-station queues, retries, results) with ``CommandIntake`` (topics and payloads to jobs),
/// and the bridge requests (`MQTTBridge+Requests.swift`). ``StatePublisher`` puts everything on the broker.
public final class MQTTBridge: Service, DurableEventSink {
    let configuration: MQTTBridgeConfiguration
    let centralSystem: CentralSystem
    private let transportEvents: AsyncStream<MQTTTransportEvent>
    private let transport: any MQTTTransport
    let publisher: StatePublisher
    let logger: Logger
    let events: EventSink
    let directory: StationDirectory
    let intake: CommandIntake
    let runner: CommandRunner
    /// The retained state for watchers off MQTT (the web console).
    let feed: StateFeed
    /// The runner's queue of jobs, while ``run()`` runs (for the jobs the bridge makes itself).
    let ownJobs = Mutex<AsyncStream<CommandJob>.Continuation?>(nil)
    /// Ends ``run()``'s wait when graceful shutdown begins.
    private let shutdown = AsyncStream<Void>.makeStream()

    var topics: TopicLayout { configuration.topics }

    /// Creates the bridge and makes it the central system's durable sink at once, before chargers can connect, so
    /// no event is missed.
    /// - Parameters:
    ///   - outbox: where messages wait for the broker's acknowledgement (the SQLite store in the gateway).
    ///   - commands: where commands waiting for their station are kept across restarts.
    ///   - now: the wall clock of published times.
    public init(
        configuration: MQTTBridgeConfiguration, centralSystem: CentralSystem, outbox: any OutboxStore, commands: any CommandStore,
        transport: any MQTTTransport, transportEvents: AsyncStream<MQTTTransportEvent>, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.transport = transport
        self.transportEvents = transportEvents
        self.logger = logger
        let feed = StateFeed(topics: configuration.topics)
        self.feed = feed
        let publisher = StatePublisher(
            transport: transport, qos: configuration.qos, store: outbox, limits: configuration.outboxLimits,
            gate: centralSystem.durability, intake: centralSystem.intake, feed: feed, skipUnchanged: configuration.skipUnchanged,
            logger: logger)
        self.publisher = publisher
        let directory = StationDirectory(topics: configuration.topics, now: now) { publisher.publish($0) }
        self.directory = directory
        self.events = EventSink(configuration: configuration, centralSystem: centralSystem, publisher: publisher, directory: directory, now: now)
        self.intake = CommandIntake(topics: configuration.topics, controls: configuration.controls, expectedStations: configuration.expectedStations,
                                    transactions201: { [centralSystem] station in centralSystem.openTransactions201(of: station) })
        self.runner = CommandRunner(
            settings: .init(topics: configuration.topics, retryAttempts: configuration.retryAttempts, retryBaseDelay: configuration.retryBaseDelay,
                            expectedStations: configuration.expectedStations, queueLimit: configuration.commandQueueLimit),
            target: centralSystem, store: commands, logger: logger, lastConnected: { directory.lastConnected },
            publish: { publisher.publish($0) })
        centralSystem.setDurableSink(self)
        if configuration.controls.relayMode {
            centralSystem.setProfilesClearedHandler { [weak self] station in self?.sendLimitAgain(station) }
        }
    }

    /// Relay mode: the upstream cleared the charger's charging profiles, which may include the local limit: the
    /// `max_current` the gateway set (kept in the store) is sent again, as a command like the control's own.
    private func sendLimitAgain(_ station: String) {
        guard case .amperes(let amperes)? = centralSystem.stationRecord(station)?.currentLimit else { return }
        let outcome = intake.accept(topic: topics.control(station, ControlName.maxCurrent), payload: Array(StateValue.number(amperes).utf8),
                                    retained: false, lastConnected: station) { _ in [] }
        guard case .job(var job) = outcome else { return }
        job.station = station
        logger.info("The upstream cleared the charger's profiles: sending the local current limit again", metadata: [
            "ocpp.station_id": "\(station)", "ocpp.limit_amperes": "\(amperes)",
        ])
        ownJobs.withLock { $0 }?.yield(job)
    }

    public func run() async throws {
        // Subscribed before anything is published: `online` reaches the broker after the SUBSCRIBE, so whoever sees
        // it can send commands.
        transport.subscribe(topics.commandFilters + [topics.bridgeRequestFilter] + (configuration.discovery.map { [$0.statusTopic] } ?? []))
        events.startOnce()

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                let (jobs, accepted) = AsyncStream<CommandJob>.makeStream()
                ownJobs.withLock { $0 = accepted }
                group.addTask { await self.runner.run(jobs: jobs) }
                group.addTask {
                    await self.serveMQTT(jobs: accepted)
                    accepted.finish()
                }
                group.addTask { await self.directory.run() }
                group.addTask { await self.maintain() }
                // Events arrive through deliver(_:) until graceful shutdown begins, after the chargers' last events
                // (the server stops first).
                for await _ in shutdown.stream {}
                events.finish()
                centralSystem.setDurableSink(nil)
                // The chargers' last events are in: the list goes out with them, not a second later.
                directory.publishPending()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.shutdown.continuation.finish()
        }
    }

    /// Publishes one event's state (see ``DurableEventSink``): called by the central system on the thread of the
    /// connection the event came from. Its kept publications are in the outbox when this returns.
    public func deliver(_ event: CentralSystemEvent) {
        if let mark = stage(event) { publisher.commit(through: mark) }
    }

    /// Turns one event into publications, in order with the station's other events, and hands them to the
    /// publisher without waiting for the outbox: ``commit(through:)`` does that, for the events of many messages
    /// at once (see ``DurableEventSink``).
    public func stage(_ event: CentralSystemEvent) -> UInt64? {
        events.stage(event)
    }

    public func commit(through mark: UInt64) {
        publisher.commit(through: mark)
    }

    /// The stations as `<base>/bridge/stations` lists them (for the admin API).
    public func stationsDocument() -> String {
        directory.document()
    }

    /// Every second: checks that a broker the chargers wait for is alive (a hung one releases the intake gate). Every
    /// five, while the outbox's store fails (a full disk), tries the write again: transaction messages are answered
    /// again once it succeeds. Ends when the task is cancelled.
    private func maintain() async {
        var seconds = 0
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            publisher.tick()
            seconds += 1
            if seconds % 5 == 0, !publisher.storeWritable { publisher.retryUnwritten() }
        }
    }

    /// Whether the outbox's store took its last write (`/readyz` is not ready while it does not).
    public var isOutboxWritable: Bool { publisher.storeWritable }

    /// Relay mode's owner's override (`<S>/relay/set/override`, `ON`/`OFF`): retained on purpose, so it holds across
    /// restarts. Its state goes to `<S>/relay/override`. An empty payload (a retained switch cleared) turns it off.
    func relaySwitch(station: String?, name: String, payload: [UInt8]) {
        let text = String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard let station, name == "override" else {
            logger.warning("Unknown relay switch", metadata: ["mqtt.switch": "\(name.prefix(64))"])
            return
        }
        guard let on = text.isEmpty ? false : CommandParser.switchValue(.string(text)) else {
            logger.warning("The relay override takes ON or OFF", metadata: ["ocpp.station_id": "\(station)", "mqtt.payload": "\(text.prefix(32))"])
            return
        }
        applyOverride(on, station: station)
    }

    /// Sets the owner's override and publishes its state (from MQTT or the admin API).
    func applyOverride(_ on: Bool, station: String) {
        centralSystem.setUpstreamOverride(on, station: station)
        publisher.publish([Publication(topic: topics.relay(station, "override"), payload: StateValue.onOff(on))])
    }

    /// Whether the MQTT connection is up.
    public var isMQTTConnected: Bool { publisher.isConnected }

    /// The broker acknowledged these messages. Safe from any thread: the MQTT client calls it on its event loop
    /// with the acknowledgements of one read, so they cost no task wake-up and one lock (they may also arrive
    /// through `transportEvents`).
    public func acknowledged(messageIDs: [Int32]) {
        publisher.acknowledged(messageIDs)
    }

    /// Follows the MQTT connection; hands command and control messages to the runner as jobs.
    private func serveMQTT(jobs: AsyncStream<CommandJob>.Continuation) async {
        for await event in transportEvents {
            switch event {
            case .connected:
                publisher.connected()
                // Discovery configs are not in the retained cache: written anew for every known station.
                events.republishDiscovery()
            case .disconnected:
                publisher.disconnected()
            case .acknowledged(let messageIDs):
                publisher.acknowledged(messageIDs)
            case .message(let topic, let payload, let retained):
                receive(topic: topic, payload: payload, retained: retained, jobs: jobs)
            }
        }
    }

    private func receive(topic: String, payload: [UInt8], retained: Bool, jobs: AsyncStream<CommandJob>.Continuation) {
        if let status = configuration.discovery?.statusTopic, topic == status {
            if String(decoding: payload, as: UTF8.self) == "online" {
                logger.info("Home Assistant is online; publishing discovery again")
                events.republishDiscovery()
            }
            return
        }
        if let request = topics.bridgeRequest(of: topic) {
            if !retained { answer(request: request, payload: payload) }
            return
        }
        if let (station, name) = topics.relayControlTarget(of: topic) {
            relaySwitch(station: station ?? directory.lastConnected, name: name, payload: payload)
            return
        }
        let centralSystem = centralSystem
        let outcome = intake.accept(topic: topic, payload: payload, retained: retained, lastConnected: directory.lastConnected) { station in
            centralSystem.activeTransactions.filter { $0.station == station }
        }
        switch outcome {
        case .job(let job): jobs.yield(job)
        case .refused(let refusal): runner.refuse(refusal, topic: topic)
        case .ignored: break
        }
    }
}
