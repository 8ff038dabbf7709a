import CentralSystem
import Foundation
import OCPP
import Synchronization

/// The stations the bridge knows: the one that connected last (the target of commands when topics carry no
/// station names), and what `<base>/bridge/stations` lists.
///
/// An entry's keys are the station's state parameters of the same meaning (`connection_state`, `last_seen`, ...),
/// plus `id`, `vendor` and `model`. `bridge/stations` lists every station, so publishing it on every connect would cost O(stations) per connect,
/// O(stations²) for a reconnect storm: it is published at most once per ``interval``, the last change included
/// (``PublishThrottle``).
final class StationDirectory: Sendable {
    private struct State {
        var lastConnected: String?
        var entries: [String: [String: JSONValue]] = [:]
        var throttle = PublishThrottle(interval: StationDirectory.interval)
    }

    static let interval: Duration = .seconds(1)

    private let state = Mutex(State())
    private let topics: TopicLayout
    private let publish: @Sendable ([Publication]) -> Void
    private let now: @Sendable () -> Date
    /// Wakes ``run()`` when a change was held back (no wake-ups while nothing changes).
    private let heldBack = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(topics: TopicLayout, now: @escaping @Sendable () -> Date, publish: @escaping @Sendable ([Publication]) -> Void) {
        self.topics = topics
        self.now = now
        self.publish = publish
    }

    /// The station that connected last.
    var lastConnected: String? { state.withLock { $0.lastConnected } }

    /// Whether the station is listed.
    func contains(_ station: String) -> Bool { state.withLock { $0.entries[station] != nil } }

    /// How many stations are listed.
    var count: Int { state.withLock { $0.entries.count } }

    /// Lists `stations` as DISCONNECTED (at start-up, before any event), with what the store remembers of them.
    func addDisconnected(_ stations: [String], records: [String: StationRecord] = [:]) {
        state.withLock { state in
            for station in stations {
                var entry: [String: JSONValue] = ["id": .string(station), StateParameter.connectionState: .string("DISCONNECTED")]
                if let record = records[station] {
                    if let boot = record.boot {
                        entry["vendor"] = .string(boot.vendor)
                        entry["model"] = .string(boot.model)
                        entry[StateParameter.firmwareVersion] = boot.firmwareVersion.map { .string($0) } ?? .null
                    }
                    if let seen = record.lastSeen { entry[StateParameter.lastSeen] = .string(OCPPDateTime.format(seen)) }
                }
                state.entries[station] = entry
            }
        }
    }

    /// Updates the station's entry for `event`; publishes the list now, or once the interval has passed.
    func note(_ event: CentralSystemEvent) {
        // Most events (MeterValues, StatusNotification, ...) change nothing here: no clock, no lock for them.
        switch event {
        case .connected, .disconnected, .message(_, .bootNotification), .message(_, .v201(.bootNotification)): break
        default: return
        }
        let moment: JSONValue = .string(OCPPDateTime.format(now()))
        let instant = ContinuousClock.now
        let decision = state.withLock { state -> PublishThrottle.Decision in
            var entry = state.entries[event.station] ?? ["id": .string(event.station)]
            switch event {
            case .connected(let station, let info):
                state.lastConnected = station
                entry[StateParameter.ocppVersion] = .string(info.version.number)
                entry[StateParameter.connectionState] = .string("CONNECTED")
                entry[StateParameter.lastConnected] = moment
                entry[StateParameter.lastSeen] = moment
            case .disconnected(_, let reason):
                entry[StateParameter.connectionState] = .string("DISCONNECTED")
                entry[StateParameter.disconnectReason] = .string(StateValue.disconnectReason(reason))
                entry[StateParameter.lastDisconnected] = moment
            case .message(_, let message) where message.bootFacts != nil:
                let boot = message.bootFacts!
                entry["vendor"] = .string(boot.vendor)
                entry["model"] = .string(boot.model)
                entry[StateParameter.firmwareVersion] = boot.firmwareVersion.map { .string($0) } ?? .null
                entry[StateParameter.lastSeen] = moment
            default:
                break
            }
            state.entries[event.station] = entry
            return state.throttle.changed(at: instant)
        }
        switch decision {
        case .publishNow: publishList()
        case .wake: heldBack.continuation.yield()
        case .wait: break
        }
    }

    /// The stations as `<base>/bridge/stations` lists them (also for the admin API).
    func document() -> String {
        let entries = state.withLock { $0.entries }
        return JSONValue.array(entries.keys.sorted().map { JSONValue.object(entries[$0]!) }).text
    }

    /// Publishes the list now.
    func publishList() {
        state.withLock { $0.throttle.published(at: .now) }
        publish([Publication(topic: topics.bridgeStations, payload: document())])
    }

    /// Publishes a change held back, if any (at shutdown, with the chargers' last events).
    func publishPending() {
        if state.withLock({ $0.throttle.pending }) { publishList() }
    }

    /// Publishes each change held back by ``note(_:)`` once its interval has passed, until cancelled.
    func run() async {
        for await _ in heldBack.stream {
            let due = state.withLock { $0.throttle.due } ?? .now
            guard (try? await Task.sleep(until: due)) != nil else { return }
            publishPending()
        }
    }
}

/// When to publish a document that changes often but is costly to publish: at once when it was not published within
/// the interval, otherwise once the interval has passed (the changes meanwhile go out together). Pure: the caller
/// passes the time.
struct PublishThrottle {
    enum Decision: Equatable {
        /// Publish now.
        case publishNow
        /// Held back: wake the task that publishes it at ``due``.
        case wake
        /// Held back, and the task is awake already.
        case wait
    }

    let interval: Duration
    private(set) var lastPublished: ContinuousClock.Instant?
    /// A change is held back.
    private(set) var pending = false

    init(interval: Duration) {
        self.interval = interval
    }

    /// When a held-back change is due.
    var due: ContinuousClock.Instant? { lastPublished.map { $0 + interval } }

    mutating func changed(at now: ContinuousClock.Instant) -> Decision {
        guard let lastPublished, now - lastPublished < interval else { return .publishNow }
        defer { pending = true }
        return pending ? .wait : .wake
    }

    mutating func published(at now: ContinuousClock.Instant) {
        lastPublished = now
        pending = false
    }
}
