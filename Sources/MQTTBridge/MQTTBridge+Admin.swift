import CentralSystem
import OCPP

/// What the admin API (and its web console) asks of the bridge: commands and controls that take the MQTT path
/// (the same checks, per-station queue, retries, stored across restarts, results published on `<S>/cmd_result`), the
/// owner's override, and the retained state as the console shows it.
extension MQTTBridge {
    /// A command from the admin API.
    public enum LocalRequest: Sendable {
        /// The JSON `<S>/cmd` takes.
        case command([UInt8])
        /// A control by name and the plain value `<S>/set/<name>` takes.
        case control(name: String, value: [UInt8])
    }

    /// Runs a command for `station` as if it had come from MQTT, and returns its result document once it has one
    /// (after the station's earlier commands, and after the retries while the station is away).
    public func run(_ request: LocalRequest, station: String) async -> CommandReply {
        let outcome: CommandIntake.Outcome
        switch request {
        case .command(let payload):
            outcome = intake.accept(command: payload, station: station)
        case .control(let name, let value):
            let centralSystem = centralSystem
            outcome = intake.acceptControl(station: station, name: name, payload: value, retained: false, lastConnected: station) { station in
                centralSystem.activeTransactions.filter { $0.station == station }
            }
        }
        switch outcome {
        case .refused(let refusal):
            runner.refuse(refusal, topic: "admin API")
            let result = CommandOutcome.error(code: refusal.code, description: refusal.description)
            return CommandReply(document: CommandResult.document(station: station, name: refusal.name, requestID: refusal.requestID,
                                                                 outcome: result), code: refusal.code)
        case .ignored:
            // Only an empty control value is ignored on MQTT (a retained control cleared); here it is a mistake.
            let result = CommandOutcome.error(code: .invalidCommand, description: "the value is empty")
            return CommandReply(document: CommandResult.document(station: station, name: nil, requestID: nil, outcome: result),
                                code: .invalidCommand)
        case .job(var job):
            job.station = station
            let name = job.command.name
            return await withCheckedContinuation { continuation in
                job.reply = CommandReplySlot(continuation, station: station, name: name)
                // No queue (the bridge has not started, or is stopping): the slot, dropped here, answers GatewayStopping.
                ownJobs.withLock { $0 }?.yield(job)
            }
        }
    }

    /// What setting the owner's override from the admin API came to.
    public enum OverrideOutcome: Equatable, Sendable {
        case set(Bool)
        /// The body is not `ON`/`OFF` (or `true`/`false`, `{"override": true}`).
        case invalid
        /// Relay mode is off: there is no override.
        case notRelayMode
    }

    /// Turns the owner's override on or off, as `<S>/relay/set/override` does, from the body of a request: a switch
    /// value as the controls take it (`ON`, `off`, `true`, `1`), or `{"override": <that>}`. Unlike a retained MQTT
    /// switch being cleared, an empty body is a mistake, not `OFF`.
    public func setOverride(_ body: [UInt8], station: String) -> OverrideOutcome {
        guard relayMode else { return .notRelayMode }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let value = JSONValue.parse(body).map { $0.objectValue?["override"] ?? $0 } ?? .string(text)
        guard !text.isEmpty, let on = CommandParser.switchValue(value) else { return .invalid }
        applyOverride(on, station: station)
        return .set(on)
    }

    /// Whether the gateway relays to an upstream central system (`RELAY_URL`).
    public var relayMode: Bool { configuration.controls.relayMode }

    /// Whether a station is one the bridge lists (it connected once, or is expected).
    public func knows(_ station: String) -> Bool {
        directory.contains(station)
    }

    /// How many messages wait for the broker.
    public var outboxDepth: Int { publisher.waiting }

    /// Starts watching the retained state: nil when too many watch already. Its first changes are every retained
    /// topic.
    public func watchState() -> Int? {
        guard let id = feed.watch() else { return nil }
        // Watching first, then the snapshot: a value published in between comes twice, never not at all.
        let snapshot = feed.snapshot(publisher.retainedTopics)
        feed.seed(id, snapshot)
        return id
    }

    /// The state that changed since the watcher last took it, by station (see ``StateFeed``); `reset` when the
    /// watcher fell behind and this is the whole state instead.
    public func takeStateChanges(_ watcher: Int) -> (changes: StateFeed.Changes, reset: Bool) {
        switch feed.take(watcher) {
        case .changes(let changes): (named(changes), false)
        case .behind: (stateSnapshot(), true)
        }
    }

    /// Topics without station names belong to the station that connected last.
    private func named(_ changes: StateFeed.Changes) -> StateFeed.Changes {
        var changes = changes
        if let sole = changes.removeValue(forKey: "") {
            changes[directory.lastConnected ?? configuration.expectedStations.first ?? "station"] = sole
        }
        return changes
    }

    /// How many watch the state now.
    public var stateWatchers: Int { feed.watcherCount }

    public func stopWatchingState(_ watcher: Int) {
        feed.stopWatching(watcher)
    }
}

extension MQTTBridge {
    /// Every retained topic now, by station, tags masked (for `/api/status`).
    public func stateSnapshot() -> StateFeed.Changes {
        named(feed.snapshot(publisher.retainedTopics))
    }

    /// How many stations are listed (connected once, or expected).
    public var knownStations: Int { directory.count }
}
