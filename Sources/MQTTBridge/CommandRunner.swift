import CentralSystem
import Foundation
import Logging
import Metrics
import OCPP
import Synchronization

/// Runs commands from MQTT: keeps each OCPP command in the ``CommandStore`` from acceptance to result, sends it
/// to its station (trying again with exponential backoff while the station is not connected), and publishes its
/// result. Each station has one queue and one child task, so one station's commands run in order while stations
/// run in parallel.
///
/// Each command's retry window runs on its own clock, from when it was taken: the back-offs of
/// `OCPP_COMMAND_RETRY_ATTEMPTS` tries (``retryWindow``). A command whose window passed while it waited behind
/// others for a station that is not connected gets its `StationOffline` result at its turn and is never sent, so
/// a station that comes back does not receive a backlog of stale commands, and every command waiting for an
/// offline station has its result about one window after it was sent. A station's queue holds at most
/// `OCPP_COMMAND_QUEUE_MAX` commands; more get a `QueueFull` result at once.
///
/// ```swift
/// let runner = CommandRunner(settings: settings, target: centralSystem, store: store, logger: logger,
///                            lastConnected: { directory.lastConnected }, publish: { publisher.publish($0) })
/// await runner.run(jobs: accepted)   // until `jobs` ends
/// ```
final class CommandRunner: Sendable {
    /// What the runner needs of the bridge's configuration.
    struct Settings: Sendable {
        var topics: TopicLayout
        /// How many times a command for a station that is not connected is tried again.
        var retryAttempts: Int
        /// The first wait between tries; it doubles each time.
        var retryBaseDelay: Duration
        /// Targets of commands that name no station when none has connected yet.
        var expectedStations: [String]
        /// The most commands waiting in one station's queue (`OCPP_COMMAND_QUEUE_MAX`).
        var queueLimit: Int = 100

        /// How long a command waits for its station to connect: the back-offs of every retry, added up.
        var retryWindow: Duration {
            var window = Duration.zero, delay = retryBaseDelay
            for _ in 0..<retryAttempts {
                window += delay
                delay = min(delay * 2, CommandRunner.longestRetryDelay)
            }
            return window
        }
    }

    private let settings: Settings
    private let target: any CommandTarget
    private let store: any CommandStore
    private let logger: Logger
    private let lastConnected: @Sendable () -> String?
    private let publish: @Sendable ([Publication]) -> Void
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Commands queued or running, by queue (station; "" for the last connected).
    private let queued = Mutex<[String: Int]>([:])

    /// - Parameters:
    ///   - lastConnected: the station that connected last: the target of commands that name none.
    ///   - publish: publishes results (and a control's new state) through the bridge's publisher.
    ///   - now: the clock results measure the time spent waiting for a station with.
    init(
        settings: Settings, target: any CommandTarget, store: any CommandStore, logger: Logger,
        lastConnected: @escaping @Sendable () -> String?, publish: @escaping @Sendable ([Publication]) -> Void,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.settings = settings
        self.target = target
        self.store = store
        self.logger = logger
        self.lastConnected = lastConnected
        self.publish = publish
        self.now = now
    }

    /// Runs the commands a previous run left in the store, then every job from `jobs`, until `jobs` ends and every
    /// queue is done (or the task is cancelled: commands in the store stay there for the next start).
    func run(jobs: AsyncStream<CommandJob>) async {
        await withDiscardingTaskGroup { group in
            var queues: [String: AsyncStream<CommandJob>.Continuation] = [:]
            func enqueue(_ job: CommandJob) {
                let key = job.station ?? ""
                var job = job
                job.accepted = now()
                if queues[key] == nil {
                    let (stream, continuation) = AsyncStream<CommandJob>.makeStream()
                    queues[key] = continuation
                    group.addTask {
                        for await job in stream {
                            await self.execute(job)
                            self.queued.withLock { $0[key, default: 1] -= 1 }
                        }
                    }
                }
                queued.withLock { $0[key, default: 0] += 1 }
                queues[key]!.yield(job)
            }
            for job in resumeStoredCommands() { enqueue(job) }
            for await job in jobs {
                let key = job.station ?? ""
                guard queued.withLock({ $0[key, default: 0] }) < settings.queueLimit else {
                    refuseFull(job)
                    continue
                }
                enqueue(stored(job))
            }
            for queue in queues.values { queue.finish() }
        }
    }

    /// Commands queued or running, in every queue.
    var waitingCommands: Int { queued.withLock { $0.values.reduce(0, +) } }

    /// Publishes the error result of a command refused before it was queued.
    func refuse(_ refusal: RefusedCommand, topic: String) {
        logger.warning("Command refused", metadata: [
            "mqtt.topic": "\(topic)", "mqtt.error": "\(refusal.code): \(refusal.description)",
        ])
        publishResult(station: refusal.station, name: refusal.name, requestID: refusal.requestID,
                      .error(code: refusal.code, description: refusal.description))
    }

    /// A command for a station whose queue is full: its error result, at once; nothing is stored or sent.
    private func refuseFull(_ job: CommandJob) {
        let station = job.station ?? lastConnected() ?? ""
        logger.warning("Command refused: the station's queue is full", metadata: [
            "ocpp.station_id": "\(station)", "mqtt.queue_limit": "\(settings.queueLimit)",
        ])
        publishResult(station: station, name: job.command.name, requestID: job.command.requestID, .error(
            code: .queueFull,
            description: "the station already has \(settings.queueLimit) commands waiting (OCPP_COMMAND_QUEUE_MAX)"), reply: job.reply)
    }

    /// Keeps an OCPP command in the store until its result is out, so a restart does not lose it.
    private func stored(_ job: CommandJob) -> CommandJob {
        let action: String
        let payload: RawJSON
        switch job.command.operation {
        case .ocpp(let call, let body): (action, payload) = (call.rawValue, body)
        case .ocpp201(let call, let body): (action, payload) = (Self.stored201Prefix + call, body)
        case .chargingEnabled: return job
        }
        var job = job
        do {
            job.storedID = try store.add(StoredCommand(
                station: job.station, name: job.command.name, action: action, payload: payload.description,
                requestID: job.command.requestID, stateParameter: job.stateOnSuccess?.parameter, stateValue: job.stateOnSuccess?.value))
        } catch {
            logger.error("Cannot store the command; it will not survive a restart", metadata: ["error": "\(error)"])
        }
        return job
    }

    /// The commands a previous run left waiting: resumed, or, when they had been sent, reported as lost.
    private func resumeStoredCommands() -> [CommandJob] {
        let commands: [StoredCommand]
        do {
            commands = try store.storedCommands()
        } catch {
            logger.error("Cannot read the stored commands", metadata: ["error": "\(error)"])
            return []
        }
        var jobs: [CommandJob] = []
        for command in commands {
            let operation: Command.Operation? = if command.action.hasPrefix(Self.stored201Prefix) {
                .ocpp201(String(command.action.dropFirst(Self.stored201Prefix.count)), payload: RawJSON(validatedBytes: Data(command.payload.utf8)))
            } else {
                Action(rawValue: command.action).map { .ocpp($0, payload: RawJSON(validatedBytes: Data(command.payload.utf8))) }
            }
            guard !command.sent, let operation else {
                // Handed to the charger before the restart: whether it acted is unknown, and sending it again could
                // act twice (a second reset, a second start).
                publishResult(station: command.station ?? "", name: command.name, requestID: command.requestID,
                              .error(code: .connectionLost, description: "the gateway restarted before the charger answered; the command was not sent again"))
                try? store.remove(command.id)
                continue
            }
            let state = command.stateParameter.flatMap { parameter in command.stateValue.map { (parameter, $0) } }
            jobs.append(CommandJob(
                command: Command(name: command.name, operation: operation,
                                 requestID: command.requestID, station: command.station),
                station: command.station, stateOnSuccess: state, storedID: command.id))
        }
        if !jobs.isEmpty { logger.info("Resuming commands waiting from before the restart", metadata: ["mqtt.commands": "\(jobs.count)"]) }
        return jobs
    }

    private func execute(_ job: CommandJob) async {
        let command = job.command
        let outcome: CommandOutcome
        var station = job.station ?? lastConnected() ?? settings.expectedStations.first
        switch command.operation {
        case .chargingEnabled(let enabled):
            guard let station else {
                outcome = .error(code: .stationOffline, description: "no station has connected yet; name one with \"station\"")
                break
            }
            do {
                try target.setChargingEnabled(enabled, station: station)
                outcome = .ok(response: ["status": .string("Accepted"), "charging_enabled": .string(StateValue.onOff(enabled))])
            } catch {
                outcome = .error(code: .internalError, description: "\(error)")
            }
        case .ocpp, .ocpp201:
            let (action, v201, payload): (String, Bool, RawJSON) = switch command.operation {
            case .ocpp(let action, let payload): (action.rawValue, false, payload)
            case .ocpp201(let action, let payload): (action, true, payload)
            case .chargingEnabled: ("", false, .emptyObject)
            }
            let attempts = await call(action, v201: v201, payload, station: station, explicit: job.station != nil, storedID: job.storedID,
                                      accepted: job.accepted ?? now())
            station = attempts.station
            if let finished = attempts.outcome {
                outcome = finished
            } else if job.storedID != nil {
                return  // kept in the store: it goes on after the restart, and its result comes then
            } else {
                outcome = .error(code: .gatewayStopping, description: "the gateway is shutting down")
            }
        }
        if let id = job.storedID { try? store.remove(id) }
        if case .ok = outcome, let (parameter, value) = job.stateOnSuccess, let station {
            publish([Publication(topic: settings.topics.state(station, parameter), payload: value)])
            if parameter == StateParameter.maxCurrent, let amperes = Double(value) { target.noteCurrentLimit(amperes, station: station) }
        }
        publishResult(station: station ?? "", name: command.name, requestID: command.requestID, outcome, reply: job.reply)
    }

    /// Sends the call, trying again while the station is not connected, until the command's retry window (from
    /// `accepted`) has passed.
    /// - Returns: the station tried last, and the outcome; `nil` when the gateway stopped before there was one.
    private func call(
        _ action: String, v201: Bool, _ payload: RawJSON, station initial: String?, explicit: Bool, storedID: Int64?,
        accepted: ContinuousClock.Instant
    ) async -> (station: String?, outcome: CommandOutcome?) {
        var station = initial
        var delay = settings.retryBaseDelay
        var attempt = 0
        let deadline = accepted + settings.retryWindow
        while true {
            if let station {
                // Marked sent before the attempt: if the process dies during it, the command is not sent twice.
                if let storedID { try? store.markSent(storedID, true) }
                let result = v201 ? await target.send201(action: action, payload: payload, to: station)
                    : await target.sendRaw(action: action, payload: payload, to: station)
                if let storedID, case .failure(let error) = result, error.kind == .notConnected {
                    try? store.markSent(storedID, false)
                }
                switch result {
                case .success(let answer):
                    return (station, .ok(response: JSONValue.parse(answer.bytes)?.objectValue ?? [:]))
                case .failure(let error) where error.kind != .notConnected:
                    logger.warning("Command failed", metadata: [
                        "ocpp.station_id": "\(station)", "ocpp.action": "\(action)", "ocpp.error": "\(error)",
                    ])
                    return (station, .error(code: Self.code(of: error), description: error.callError?.description ?? error.message))
                case .failure:
                    break
                }
            }
            // Tried once more after each back-off, within the window; a window that passed while the command
            // waited its turn leaves just the try above, which sends nothing to a station that is not connected.
            let remaining = deadline - now()
            guard remaining > .zero, !Task.isCancelled else { break }
            attempt += 1
            let wait = min(delay, remaining)
            if let station {
                _ = await target.waitForConnection(of: station, upTo: wait)
            } else {
                try? await Task.sleep(for: wait)
            }
            delay = min(delay * 2, Self.longestRetryDelay)
            if !explicit { station = lastConnected() ?? station }
        }
        if Task.isCancelled { return (station, nil) }
        let waited = String(format: "%.1f", (now() - accepted).seconds)
        let description = station.map { "station '\($0)' is not connected (tried \(attempt + 1) times over \(waited) s)" }
            ?? "no station is connected (waited \(waited) s)"
        return (station, .error(code: .stationOffline, description: description))
    }

    /// How the store marks a 2.0.1 call's action (1.6 actions are stored by their names).
    static let stored201Prefix = "ocpp2.0.1:"

    /// The delay between tries doubles up to this (a large `OCPP_COMMAND_RETRY_ATTEMPTS` would otherwise overflow it).
    static let longestRetryDelay: Duration = .seconds(3600)

    private static func code(of error: CommandError) -> CommandResultCode {
        switch error.kind {
        case .notConnected: .stationOffline
        case .timeout: .timeout
        case .connectionLost: .connectionLost
        case .invalidRequest: .invalidArguments
        case .invalidResponse: .invalidResponse
        case .callError: error.callError.map { .callError($0.code) } ?? .callError(.genericError)
        }
    }

    private func publishResult(station: String, name: String?, requestID: String?, _ outcome: CommandOutcome,
                               reply: CommandReplySlot? = nil) {
        switch outcome {
        case .ok: Counter(label: "mqtt_command_results_total", dimensions: [("status", "ok"), ("code", "")]).increment()
        case .error(let code, _): Counter(label: "mqtt_command_results_total", dimensions: [("status", "error"), ("code", "\(code)")]).increment()
        }
        publish(CommandResult.publications(topics: settings.topics, station: station, name: name, requestID: requestID, outcome: outcome))
        reply?.resolve(station: station, name: name, requestID: requestID, outcome)
    }
}
