import Synchronization

/// The bridge's retained state for watchers that are not on MQTT (the web console's event stream): what a Home
/// Assistant user sees on the broker, as each station's topics below its root (`state/status`,
/// `connector/1/state/power_active_import`, `relay/queue`), so the console can never disagree with MQTT.
///
/// Costs nothing while nobody watches (one atomic load per batch of publications). A watcher's changes are
/// coalesced per topic until it takes them (``take(_:)``, about once a second), so a watcher is never behind by
/// more than one value per topic, whatever the rate of readings; a watcher that stops taking is dropped when it
/// stops watching, not earlier, and holds at most one entry per retained topic.
///
/// RFID tags (`id_tag`, `authorize`, `parent_id_tag`) are masked before they leave (``mask(_:)``).
public final class StateFeed: Sendable {
    /// A station's topics below its root and their payloads; an empty payload: the topic was cleared. Without
    /// station names in the topics (`MQTT_USESTATIONNAME=false`) every topic is the station "".
    public typealias Changes = [String: [String: String]]

    private let topics: TopicLayout
    private let watchers = Mutex<[Int: Changes]>([:])
    private let nextID = Atomic<Int>(0)
    private let watched = Atomic<Bool>(false)

    /// The most watchers at once; more are refused (each costs a dictionary write per publication).
    public static let maxWatchers = 32

    init(topics: TopicLayout) {
        self.topics = topics
    }

    /// Whether anybody watches: the publisher hands publications over only then.
    var isWatched: Bool { watched.load(ordering: .relaxed) }

    /// How many watch now.
    var watcherCount: Int { watchers.withLock { $0.count } }

    /// Starts a watcher; nil when ``maxWatchers`` watch already. Take its changes with ``take(_:)``, end it with
    /// ``stopWatching(_:)``.
    public func watch() -> Int? {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let admitted = watchers.withLock { watchers -> Bool in
            guard watchers.count < Self.maxWatchers else { return false }
            watchers[id] = [:]
            return true
        }
        guard admitted else { return nil }
        watched.store(true, ordering: .relaxed)
        return id
    }

    public func stopWatching(_ id: Int) {
        watchers.withLock { watchers in
            watchers.removeValue(forKey: id)
            if watchers.isEmpty { watched.store(false, ordering: .relaxed) }
        }
    }

    /// Puts `changes` before whatever the watcher has collected since it started (its first view).
    func seed(_ id: Int, _ changes: Changes) {
        watchers.withLock { watchers in
            guard let collected = watchers[id] else { return }
            var seeded = changes
            for (station, paths) in collected {
                seeded[station, default: [:]].merge(paths) { _, new in new }
            }
            watchers[id] = seeded
        }
    }

    /// The changes since the watcher last took them (empty when none).
    public func take(_ id: Int) -> Changes {
        watchers.withLock { watchers in
            guard let changes = watchers[id], !changes.isEmpty else { return [:] }
            watchers[id] = [:]
            return changes
        }
    }

    /// Notes retained publications (topic and payload; an empty payload clears the topic) for every watcher.
    func note(_ publications: [(topic: String, payload: String)]) {
        let changes = group(publications)
        guard !changes.isEmpty else { return }
        watchers.withLock { watchers in
            for id in watchers.keys {
                for (station, paths) in changes {
                    watchers[id]![station, default: [:]].merge(paths) { _, new in new }
                }
            }
        }
    }

    /// Every retained topic of `retained` (the publisher's cache), grouped by station: a new watcher's first view.
    func snapshot(_ retained: [(topic: String, payload: String)]) -> Changes {
        group(retained)
    }

    private func group(_ publications: [(topic: String, payload: String)]) -> Changes {
        var changes: Changes = [:]
        for (topic, payload) in publications {
            guard let (station, path) = topics.stationPath(of: topic) else { continue }
            changes[station ?? "", default: [:]][path] = Self.mask(path: path, payload)
        }
        return changes
    }

    /// Topics whose payload is an RFID tag.
    static let tagParameters: Set<Substring> = ["id_tag", "authorize", "parent_id_tag"]

    /// The payload, with an RFID tag masked when the topic carries one.
    static func mask(path: String, _ payload: String) -> String {
        guard let last = path.split(separator: "/").last, tagParameters.contains(last) else { return payload }
        return mask(payload)
    }

    /// A tag masked for display: its last two characters for a tag of six or more, nothing of a shorter one
    /// (`04A1B2C3` → `••••••C3`).
    public static func mask(_ tag: String) -> String {
        guard !tag.isEmpty else { return tag }
        let visible = tag.count >= 6 ? 2 : 0
        return String(repeating: "•", count: tag.count - visible) + tag.suffix(visible)
    }
}
