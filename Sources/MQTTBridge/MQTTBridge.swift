import CentralSystem
import Foundation
import Logging
import Metrics
import OCPP
import ServiceLifecycle
import Synchronization

/// The bridge between the central system and MQTT, as a Service: every event becomes retained state topics,
/// every command message becomes an OCPP call (or a change of the charging switch), with its result published.
///
/// Commands for one station run in the order they arrived; stations do not wait for each other. A command for
/// a station that is not connected is tried again with exponential backoff, and sent as soon as the station
/// connects.
public final class MQTTBridge: Service, DurableEventSink {
    private let configuration: MQTTBridgeConfiguration
    private let centralSystem: CentralSystem
    private let transportEvents: AsyncStream<MQTTTransportEvent>
    private let transport: any MQTTTransport
    private let publisher: StatePublisher
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// Events become publications here, on the thread of the charger's connection (the bridge is the central
    /// system's durable sink from its creation on, so no event of a charger that connects early is missed). When
    /// ``deliver(_:)`` returns, the event's kept publications are in the outbox, and only then is the charger
    /// answered.
    ///
    /// The state model and Home Assistant discovery are per station, so they are split in shards by station, each
    /// under its own lock: one station's events are turned into publications one at a time and in order, while the
    /// event loops rarely wait for each other (one lock for all was about a fifth of the CPU at saturation,
    /// docs/performance.md).
    private let shards: [Shard]
    private static let shardCount = 16
    /// The start-up publications are out (they come before any event's): read without a lock on the per-event
    /// path; `starting` makes the first events wait until they are.
    private let started = Atomic<Bool>(false)
    private let starting = Mutex(())
    /// Graceful shutdown has begun: later events are not published.
    private let finished = Atomic<Bool>(false)
    /// Ends ``run()``'s wait when graceful shutdown begins.
    private let shutdown = AsyncStream<Void>.makeStream()
    /// The station that connected last: the target of commands when topics carry no station names.
    private let lastConnected = Mutex<String?>(nil)
    /// What `<base>/bridge/stations` lists, by station.
    private let stationList = Mutex<[String: [String: JSONValue]]>([:])
    /// `bridge/stations` lists every station, so publishing it on every connect would cost O(stations) per
    /// connect, O(stations²) for a reconnect storm: it is published at most once per interval, the last change
    /// included.
    private let stationListSchedule = Mutex(StationListSchedule())
    private static let stationListInterval: Duration = .seconds(1)
    /// Wakes ``publishStationListChanges()`` when a change was held back (no wake-ups while nothing changes).
    private let stationListHeldBack = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// The stations of one shard: their state model and their discovery (nil when discovery is off).
    private final class Shard: Sendable {
        struct Models {
            var state: StationStateModel
            var discovery: DiscoveryModel?
        }

        let models: Mutex<Models>
        init(_ models: Models) { self.models = Mutex(models) }
    }

    private struct StationListSchedule {
        var lastPublished: ContinuousClock.Instant?
        var pending = false
    }

    private var topics: TopicLayout { configuration.topics }

    public init(
        configuration: MQTTBridgeConfiguration, centralSystem: CentralSystem, transport: any MQTTTransport,
        transportEvents: AsyncStream<MQTTTransportEvent>, logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.transport = transport
        self.transportEvents = transportEvents
        self.publisher = StatePublisher(
            transport: transport, qos: configuration.qos, store: configuration.outbox, outboxLimit: configuration.outboxLimit,
            intake: centralSystem.intake, logger: logger)
        self.logger = logger
        self.now = now
        self.shards = (0..<Self.shardCount).map { _ in
            Shard(Shard.Models(state: StationStateModel(topics: configuration.topics), discovery: configuration.discovery.map {
                DiscoveryModel(configuration: $0, topics: configuration.topics, controls: configuration.controls, version: configuration.version)
            }))
        }
        centralSystem.setDurableSink(self)
    }

    public func run() async throws {
        // Subscribed before anything is published: `online` reaches the broker after the SUBSCRIBE, so whoever sees
        // it can send commands.
        transport.subscribe(topics.commandFilters + [topics.bridgeRequestFilter] + (configuration.discovery.map { [$0.statusTopic] } ?? []))
        startOnce()

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.serveMQTT() }
                group.addTask { await self.publishStationListChanges() }
                // Events arrive through deliver(_:) until graceful shutdown begins, after the chargers' last events
                // (the server stops first).
                for await _ in shutdown.stream {}
                finished.store(true, ordering: .releasing)
                centralSystem.setDurableSink(nil)
                // The chargers' last events are in: the list goes out with them, not a second later.
                if stationListSchedule.withLock({ $0.pending }) { publishStationList() }
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
        if !started.load(ordering: .acquiring) { startOnce() }
        guard !finished.load(ordering: .acquiring) else { return nil }
        return shard(event.station).models.withLock { models in
            if case .connected(let station, _) = event {
                lastConnected.withLock { $0 = station }
            }
            let state = models.state.apply(event, at: now())
            var mark = publisher.stage(state)
            if case .connected(let station, _) = event {
                mark = publisher.stage([switchState(station)]) ?? mark
            }
            mark = publisher.stage(models.discovery?.apply(event, statePublications: state) ?? []) ?? mark
            if noteInStationList(event) { stationListChanged() }
            return mark
        }
    }

    public func commit(through mark: UInt64) {
        publisher.commit(through: mark)
    }

    /// The start-up publications, once, before any event's: the bridge is online, and every known station's last
    /// known state.
    private func startOnce() {
        starting.withLock { _ in
            guard !started.load(ordering: .acquiring) else { return }
            for transaction in centralSystem.activeTransactions {
                shard(transaction.station).models.withLock { $0.state.restore(transaction) }
            }
            publisher.publish([Publication(topic: topics.bridgeState, payload: "online")])
            publisher.publish([Publication(topic: topics.bridgeInfo, payload: JSONValue.object(configuration.info).text)])
            publisher.publish(initialState())
            publishStationList()
            started.store(true, ordering: .releasing)
        }
    }

    /// The shard that holds `station`'s state.
    private func shard(_ station: String) -> Shard {
        shards[Int(UInt(bitPattern: station.hashValue) % UInt(Self.shardCount))]
    }

    /// Publishes every station's discovery configs again, each shard's under its lock, so a config that an event
    /// publishes meanwhile (a boot's new firmware version) is not overtaken by an older one. Returns how many; nil
    /// when discovery is off.
    @discardableResult
    private func republishDiscovery() -> Int? {
        guard configuration.discovery != nil else { return nil }
        var count = 0
        for shard in shards {
            shard.models.withLock { models in
                guard let discovery = models.discovery else { return }
                for station in discovery.stations.keys.sorted() {
                    let configs = discovery.all(station)
                    publisher.publish(configs)
                    count += configs.count
                }
            }
        }
        return count
    }

    /// The stations as `<base>/bridge/stations` lists them (for the admin API).
    public func stationsDocument() -> String {
        let list = stationList.withLock { list in list.keys.sorted().map { JSONValue.object(list[$0]!) } }
        return JSONValue.array(list).text
    }

    /// Whether the MQTT connection is up.
    public var isMQTTConnected: Bool { publisher.isConnected }

    /// The broker acknowledged these messages. Safe from any thread: the MQTT client calls it on its event loop
    /// with the acknowledgements of one read, so they cost no task wake-up and one lock (they may also arrive
    /// through `transportEvents`).
    public func acknowledged(messageIDs: [Int32]) {
        publisher.acknowledged(messageIDs)
    }

    /// Expected and known stations as DISCONNECTED, with their charging switches.
    private func initialState() -> [Publication] {
        let connected = centralSystem.connectedStations
        var stations: [String] = []
        for station in configuration.expectedStations + centralSystem.knownStations where !stations.contains(station) {
            stations.append(station)
        }
        for station in stations {
            stationList.withLock { $0[station] = ["id": .string(station), "connection_state": .string("DISCONNECTED")] }
        }
        let records = centralSystem.stationRecords
        return stations.filter { connected[$0] == nil }.flatMap { station in
            [Publication(topic: topics.state(station, "connection_state"), payload: "DISCONNECTED"), switchState(station)]
                + lastKnownState(station, records[station])
        }
    }

    /// What the store remembers of a station (boot facts, last seen, connector statuses), published again at
    /// start-up so a broker that lost its retained messages still shows the station.
    private func lastKnownState(_ station: String, _ record: StationRecord?) -> [Publication] {
        guard let record else { return [] }
        var out: [Publication] = []
        var stationTopics = StationStateTopics(topics, station)
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
        add("charge_point_vendor", record.boot?.vendor)
        add("charge_point_model", record.boot?.model)
        add("charge_point_serial_number", record.boot?.serialNumber)
        add("firmware_version", record.boot?.firmwareVersion)
        add("last_seen", record.lastSeen.map(OCPPDateTime.format))
        for (connector, status) in (record.connectors ?? [:]).sorted(by: { $0.key < $1.key }) {
            add("status", status.status, connector: connector)
            add("error_code", status.errorCode, connector: connector)
        }
        return out
    }

    /// Updates `<base>/bridge/stations`' entry for the event; returns whether it changed.
    private func noteInStationList(_ event: CentralSystemEvent) -> Bool {
        // Most events (MeterValues, StatusNotification, ...) change nothing here: no clock, no lock for them.
        switch event {
        case .connected, .disconnected, .message(_, .bootNotification): break
        default: return false
        }
        let moment: JSONValue = .string(OCPPDateTime.format(now()))
        return stationList.withLock { list in
            var entry = list[event.station] ?? ["id": .string(event.station)]
            switch event {
            case .connected:
                entry["connection_state"] = .string("CONNECTED")
                entry["last_connected"] = moment
                entry["last_seen"] = moment
            case .disconnected(_, let reason):
                entry["connection_state"] = .string("DISCONNECTED")
                entry["disconnect_reason"] = .string("\(reason)")
                entry["last_disconnected"] = moment
            case .message(_, .bootNotification(let request, _)):
                entry["vendor"] = .string(request.chargePointVendor.value)
                entry["model"] = .string(request.chargePointModel.value)
                entry["firmware_version"] = request.firmwareVersion.map { .string($0.value) } ?? .null
                entry["last_seen"] = moment
            default:
                return false
            }
            list[event.station] = entry
            return true
        }
    }

    private func publishStationList() {
        stationListSchedule.withLock {
            $0.lastPublished = .now
            $0.pending = false
        }
        publisher.publish([Publication(topic: topics.bridgeStations, payload: stationsDocument())])
    }

    /// Publishes the list now if it has not been published within the interval; otherwise when the interval ends.
    private func stationListChanged() {
        let now = ContinuousClock.now
        let (publishNow, wake) = stationListSchedule.withLock { schedule -> (Bool, Bool) in
            guard let last = schedule.lastPublished, now - last < Self.stationListInterval else { return (true, false) }
            defer { schedule.pending = true }
            return (false, !schedule.pending)
        }
        if publishNow { publishStationList() }
        // Outside the lock: yielding may run the stream's termination handler.
        if wake { stationListHeldBack.continuation.yield() }
    }

    /// Publishes each change held back by ``stationListChanged()`` once its interval has passed, until cancelled.
    private func publishStationListChanges() async {
        for await _ in stationListHeldBack.stream {
            let last = stationListSchedule.withLock { $0.lastPublished } ?? .now
            guard (try? await Task.sleep(until: last + Self.stationListInterval)) != nil else { return }
            if stationListSchedule.withLock({ $0.pending }) { publishStationList() }
        }
    }

    private func switchState(_ station: String) -> Publication {
        Publication(topic: topics.state(station, "charging_enabled"),
                    payload: StateValue.onOff(centralSystem.chargingEnabled(station: station)))
    }

    // MARK: Commands

    private struct Job: Sendable {
        var command: Command
        /// The station named by the topic or the payload; nil means "the station that connected last".
        var station: String?
        /// A state parameter to publish when the command succeeds (a control's new value).
        var stateOnSuccess: (parameter: String, value: String)?
        /// Its id in the command store while it waits (OCPP commands only).
        var storedID: Int64?
    }

    /// Keeps an OCPP command in the store until its result is out, so a restart does not lose it.
    private func stored(_ job: Job) -> Job {
        guard case .ocpp(let action, let payload) = job.command.operation else { return job }
        var job = job
        do {
            job.storedID = try configuration.commands.add(StoredCommand(
                station: job.station, name: job.command.name, action: action.rawValue, payload: payload.description,
                requestID: job.command.requestID, stateParameter: job.stateOnSuccess?.parameter, stateValue: job.stateOnSuccess?.value))
        } catch {
            logger.error("Cannot store the command; it will not survive a restart", metadata: ["error": "\(error)"])
        }
        return job
    }

    /// The commands a previous run left waiting: resumed, or, when they had been sent, reported as lost.
    private func resumeStoredCommands() -> [Job] {
        let commands: [StoredCommand]
        do {
            commands = try configuration.commands.storedCommands()
        } catch {
            logger.error("Cannot read the stored commands", metadata: ["error": "\(error)"])
            return []
        }
        var jobs: [Job] = []
        for command in commands {
            guard !command.sent, let action = Action(rawValue: command.action) else {
                // Handed to the charger before the restart: whether it acted is unknown, and sending it again could
                // act twice (a second reset, a second start).
                publishResult(station: command.station ?? "", name: command.name, requestID: command.requestID,
                              .error(code: "ConnectionLost", description: "the gateway restarted before the charger answered; the command was not sent again"))
                try? configuration.commands.remove(command.id)
                continue
            }
            let state = command.stateParameter.flatMap { parameter in command.stateValue.map { (parameter, $0) } }
            jobs.append(Job(
                command: Command(name: command.name, operation: .ocpp(action, payload: RawJSON(validatedBytes: Data(command.payload.utf8))),
                                 requestID: command.requestID, station: command.station),
                station: command.station, stateOnSuccess: state, storedID: command.id))
        }
        if !jobs.isEmpty { logger.info("Resuming commands waiting from before the restart", metadata: ["mqtt.commands": "\(jobs.count)"]) }
        return jobs
    }

    /// Follows the MQTT connection and runs commands: one queue (and child task) per station.
    private func serveMQTT() async {
        await withDiscardingTaskGroup { group in
            var queues: [String: AsyncStream<Job>.Continuation] = [:]
            func enqueue(_ job: Job) {
                let key = job.station ?? ""
                if queues[key] == nil {
                    let (stream, continuation) = AsyncStream<Job>.makeStream()
                    queues[key] = continuation
                    group.addTask {
                        for await job in stream { await self.execute(job) }
                    }
                }
                queues[key]!.yield(job)
            }
            for job in resumeStoredCommands() { enqueue(job) }
            for await event in transportEvents {
                switch event {
                case .connected:
                    publisher.connected()
                    // Discovery configs are not in the retained cache: written anew for every known station.
                    republishDiscovery()
                case .disconnected:
                    publisher.disconnected()
                case .acknowledged(let messageIDs):
                    publisher.acknowledged(messageIDs)
                case .message(let topic, let payload, let retained):
                    guard let job = accept(topic: topic, payload: payload, retained: retained) else { continue }
                    enqueue(stored(job))
                }
            }
            for queue in queues.values { queue.finish() }
        }
    }

    /// Parses a command or control message; publishes the error result and returns nil when it is refused.
    /// Also handles bridge requests and Home Assistant's status, which are not jobs.
    private func accept(topic: String, payload: [UInt8], retained: Bool) -> Job? {
        if let status = configuration.discovery?.statusTopic, topic == status {
            if String(decoding: payload, as: UTF8.self) == "online" {
                logger.info("Home Assistant is online; publishing discovery again")
                republishDiscovery()
            }
            return nil
        }
        if let request = topics.bridgeRequest(of: topic) {
            if !retained { answer(request: request, payload: payload) }
            return nil
        }
        if let (topicStation, name) = topics.controlTarget(of: topic) {
            return acceptControl(station: topicStation, name: name, payload: payload, retained: retained)
        }
        let (topicStation, isCommand) = topics.commandTarget(of: topic)
        guard isCommand else { return nil }
        var logger = logger
        logger[metadataKey: "mqtt.topic"] = "\(topic)"
        let parsed = CommandParser.parse(payload)
        let fallbackStation = topicStation ?? (try? parsed.get().station) ?? lastConnected.withLock { $0 } ?? ""
        if retained {
            // A retained command would run again at every restart and reconnect: refuse it, once.
            logger.warning("Retained command ignored")
            publishResult(station: fallbackStation, name: try? parsed.get().name, requestID: try? parsed.get().requestID,
                          .error(code: "InvalidCommand", description: "retained commands are ignored; publish commands without the retain flag"))
            return nil
        }
        switch parsed {
        case .failure(let rejection):
            logger.warning("Command refused", metadata: ["mqtt.error": "\(rejection)"])
            publishResult(station: fallbackStation, name: rejection.name, requestID: rejection.requestID,
                          .error(code: rejection.code, description: rejection.message))
            return nil
        case .success(let command):
            return Job(command: command, station: topicStation ?? command.station)
        }
    }

    private func acceptControl(station topicStation: String?, name: String, payload: [UInt8], retained: Bool) -> Job? {
        let station = topicStation ?? lastConnected.withLock { $0 } ?? configuration.expectedStations.first
        if retained {
            publishResult(station: station ?? "", name: name, requestID: nil,
                          .error(code: "InvalidCommand", description: "retained commands are ignored; publish commands without the retain flag"))
            return nil
        }
        let transactions = station.map { target in centralSystem.activeTransactions.filter { $0.station == target } } ?? []
        switch Controls.convert(name: name, payload: payload, settings: configuration.controls,
                                transaction: { connector in transactions.last { $0.connectorId == connector }?.id }) {
        case .failure(let rejection):
            logger.warning("Control refused", metadata: ["mqtt.control": "\(name)", "mqtt.error": "\(rejection)"])
            publishResult(station: station ?? "", name: name, requestID: nil, .error(code: rejection.code, description: rejection.message))
            return nil
        case .success(let converted):
            return Job(command: converted.command, station: topicStation, stateOnSuccess: converted.stateOnSuccess)
        }
    }

    // MARK: Bridge requests

    /// Answers `<base>/bridge/request/<name>` on `<base>/bridge/response/<name>` with `{status, data, error, transaction}`.
    private func answer(request name: String, payload: [UInt8]) {
        let body = payload.isEmpty ? [:] : (JSONValue.parse(payload)?.objectValue ?? ["_invalid": .bool(true)])
        var response: [String: JSONValue] = [:]
        if let transaction = body["transaction"] { response["transaction"] = transaction }
        func fail(_ message: String) {
            response["status"] = .string("error")
            response["error"] = .string(message)
            response["data"] = .object([:])
        }
        func succeed(_ data: [String: JSONValue]) {
            response["status"] = .string("ok")
            response["data"] = .object(data)
        }
        if body["_invalid"] != nil {
            fail("the request must be empty or a JSON object")
        } else {
            switch name {
            case "health_check":
                let connected = centralSystem.connectedStations.count
                succeed(["healthy": .bool(true), "stations_connected": .int(connected),
                         "stations_known": .int(stationList.withLock { $0.count })])
            case "republish_discovery":
                if let count = republishDiscovery() {
                    succeed(["configs": .int(count)])
                } else {
                    fail("Home Assistant discovery is off (HA_DISCOVERY=false)")
                }
            case "forget_station":
                guard case .string(let station)? = body["station"] else {
                    fail(#"forget_station needs {"station": "<id>"}"#)
                    break
                }
                let cleared = shard(station).models.withLock { $0.discovery?.forget(station) } ?? []
                publisher.forget(cleared.map(\.topic))
                succeed(["station": .string(station), "removed_entities": .int(cleared.count)])
            default:
                fail("unknown request '\(name)'; expected health_check, republish_discovery or forget_station")
            }
        }
        publisher.publish([Publication(topic: topics.bridgeResponse(name), payload: JSONValue.object(response).text, retain: false)])
    }

    private func execute(_ job: Job) async {
        let command = job.command
        let outcome: CommandOutcome
        var station = job.station ?? lastConnected.withLock { $0 } ?? configuration.expectedStations.first
        switch command.operation {
        case .chargingEnabled(let enabled):
            guard let target = station else {
                outcome = .error(code: "StationOffline", description: "no station has connected yet; name one with \"station\"")
                break
            }
            do {
                try centralSystem.setChargingEnabled(enabled, station: target)
                outcome = .ok(response: ["status": .string("Accepted"), "charging_enabled": .string(StateValue.onOff(enabled))])
            } catch {
                outcome = .error(code: "InternalError", description: "\(error)")
            }
        case .ocpp(let action, let payload):
            let attempts = await call(action, payload, station: station, explicit: job.station != nil, storedID: job.storedID)
            station = attempts.station
            if let finished = attempts.outcome {
                outcome = finished
            } else if job.storedID != nil {
                return  // kept in the store: it goes on after the restart, and its result comes then
            } else {
                outcome = .error(code: "GatewayStopping", description: "the gateway is shutting down")
            }
        }
        if let id = job.storedID { try? configuration.commands.remove(id) }
        if case .ok = outcome, let (parameter, value) = job.stateOnSuccess, let station {
            publisher.publish([Publication(topic: topics.state(station, parameter), payload: value)])
        }
        publishResult(station: station ?? "", name: command.name, requestID: command.requestID, outcome)
    }

    /// Sends the call, trying again while the station is not connected.
    /// - Returns: the station tried last, and the outcome; `nil` when the gateway stopped before there was one.
    private func call(
        _ action: Action, _ payload: RawJSON, station initial: String?, explicit: Bool, storedID: Int64?
    ) async -> (station: String?, outcome: CommandOutcome?) {
        var station = initial
        var delay = configuration.retryBaseDelay
        var attempt = 0
        let started = ContinuousClock.now
        while true {
            if let target = station {
                var logger = logger
                logger[metadataKey: "ocpp.station_id"] = "\(target)"
                // Marked sent before the attempt: if the process dies during it, the command is not sent twice.
                if let storedID { try? configuration.commands.markSent(storedID, true) }
                let result = await centralSystem.sendRaw(action: action.rawValue, payload: payload, to: target)
                if let storedID, case .failure(let error) = result, error.kind == .notConnected {
                    try? configuration.commands.markSent(storedID, false)
                }
                switch result {
                case .success(let answer):
                    return (target, .ok(response: JSONValue.parse(answer.bytes)?.objectValue ?? [:]))
                case .failure(let error) where error.kind != .notConnected:
                    logger.warning("Command failed", metadata: ["ocpp.action": "\(action)", "ocpp.error": "\(error)"])
                    return (target, Self.outcome(of: error))
                case .failure:
                    break
                }
            }
            guard attempt < configuration.retryAttempts, !Task.isCancelled else { break }
            attempt += 1
            if let target = station {
                await centralSystem.waitForConnection(of: target, upTo: delay)
            } else {
                try? await Task.sleep(for: delay)
            }
            delay *= 2
            if !explicit { station = lastConnected.withLock { $0 } ?? station }
        }
        if Task.isCancelled { return (station, nil) }
        let waited = String(format: "%.1f", (ContinuousClock.now - started).seconds)
        let description = station.map { "station '\($0)' is not connected (tried \(attempt + 1) times over \(waited) s)" }
            ?? "no station is connected (waited \(waited) s)"
        return (station, .error(code: "StationOffline", description: description))
    }

    private static func outcome(of error: CommandError) -> CommandOutcome {
        switch error.kind {
        case .notConnected: .error(code: "StationOffline", description: error.message)
        case .timeout: .error(code: "Timeout", description: error.message)
        case .connectionLost: .error(code: "ConnectionLost", description: error.message)
        case .invalidRequest: .error(code: "InvalidArguments", description: error.message)
        case .invalidResponse: .error(code: "InvalidResponse", description: error.message)
        case .callError:
            .error(code: error.callError?.code.rawValue ?? "GenericError", description: error.callError?.description ?? error.message)
        }
    }

    private func publishResult(station: String, name: String?, requestID: String?, _ outcome: CommandOutcome) {
        switch outcome {
        case .ok: Counter(label: "mqtt_command_results_total", dimensions: [("status", "ok"), ("code", "")]).increment()
        case .error(let code, _): Counter(label: "mqtt_command_results_total", dimensions: [("status", "error"), ("code", code)]).increment()
        }
        publisher.publish(CommandResult.publications(topics: topics, station: station, name: name, requestID: requestID, outcome: outcome))
    }
}
