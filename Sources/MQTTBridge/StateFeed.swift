import Synchronization

/// The bridge's retained state for watchers that are not on MQTT (the web console's event stream): what a Home
/// Assistant user sees on the broker, as each station's topics below its root (`state/status`,
/// `connector/1/state/power_active_import`, `relay/queue`), so the console can never disagree with MQTT.
///
/// Costs nothing while nobody watches (one atomic load per batch of publications), and little while somebody does:
/// a publication is appended to a log (no parsing, under the publisher's lock), and a watcher that takes its changes
/// (``take(_:)``, about once a second) coalesces them per topic and places each topic under its station, once per
/// topic for the feed's life (a cache). The log is bounded (``maxLogEntries``): a watcher that stops taking does not
/// hold memory; it falls behind, and its next take is a fresh snapshot instead of changes.
///
/// RFID tags (`id_tag`, `authorize`, `parent_id_tag`) are masked before they leave (``mask(_:)``).
public final class StateFeed: Sendable {
    /// A station's topics below its root and their payloads; an empty payload: the topic was cleared. Without
    /// station names in the topics (`MQTT_USESTATIONNAME=false`) every topic is the station "".
    public typealias Changes = [String: [String: String]]

    /// What a watcher takes.
    public enum Take: Equatable, Sendable {
        case changes(Changes)
        /// The watcher fell behind the log's bound: it needs the whole state again.
        case behind
    }

    private struct Log {
        var entries: [(topic: String, payload: String)] = []
        /// The position (counted from the feed's start) of `entries[0]`.
        var first = 0
        /// Each watcher's next position in the log.
        var positions: [Int: Int] = [:]
        /// A new watcher's first view, taken before its log entries.
        var seeds: [Int: Changes] = [:]
        var nextID = 0
    }

    /// Where a topic belongs, and whether it carries a tag; nil for topics that are not a station's.
    private struct Place {
        var station: String
        var path: String
        var tag: Bool
    }

    private let topics: TopicLayout
    private let log = Mutex(Log())
    private let watched = Atomic<Bool>(false)
    private let places = Mutex<[String: Place?]>([:])

    /// The most watchers at once; more are refused.
    public static let maxWatchers = 32
    /// The most log entries kept for the slowest watcher (about 30 s of 1,000 chargers' readings).
    static let maxLogEntries = 500_000

    init(topics: TopicLayout) {
        self.topics = topics
    }

    /// Whether anybody watches: the publisher hands publications over only then.
    var isWatched: Bool { watched.load(ordering: .relaxed) }

    /// How many watch now.
    var watcherCount: Int { log.withLock { $0.positions.count } }

    /// How many publications the log holds (for the slowest watcher).
    var loggedEntries: Int { log.withLock { $0.entries.count } }

    /// Starts a watcher; nil when ``maxWatchers`` watch already. Take its changes with ``take(_:)``, end it with
    /// ``stopWatching(_:)``.
    public func watch() -> Int? {
        let id = log.withLock { log -> Int? in
            guard log.positions.count < Self.maxWatchers else { return nil }
            log.nextID += 1
            log.positions[log.nextID] = log.first + log.entries.count
            return log.nextID
        }
        if id != nil { watched.store(true, ordering: .relaxed) }
        return id
    }

    public func stopWatching(_ id: Int) {
        log.withLock { log in
            log.positions.removeValue(forKey: id)
            log.seeds.removeValue(forKey: id)
            if log.positions.isEmpty {
                watched.store(false, ordering: .relaxed)
                log.first += log.entries.count
                log.entries = []
            } else {
                trim(&log)
            }
        }
    }

    /// Puts `changes` (the state when the watcher started) before the watcher's log entries.
    func seed(_ id: Int, _ changes: Changes) {
        log.withLock { log in
            if log.positions[id] != nil { log.seeds[id] = changes }
        }
    }

    /// The changes since the watcher last took them (empty when none), or `.behind`.
    public func take(_ id: Int) -> Take {
        let taken = log.withLock { log -> (seed: Changes?, entries: ArraySlice<(topic: String, payload: String)>)? in
            guard let position = log.positions[id] else { return (nil, []) }
            guard position >= log.first else {
                log.positions[id] = log.first + log.entries.count
                return nil
            }
            let slice = log.entries[(position - log.first)...]
            log.positions[id] = log.first + log.entries.count
            let seed = log.seeds.removeValue(forKey: id)
            trim(&log)
            return (seed, slice)
        }
        guard let taken else { return .behind }
        var changes = taken.seed ?? [:]
        guard !taken.entries.isEmpty else { return .changes(changes) }
        // Each entry under its station, in log order: a topic's later payload replaces its earlier one.
        places.withLock { places in
            for entry in taken.entries {
                guard let place = Self.place(entry.topic, in: &places, topics: topics) else { continue }
                changes[place.station, default: [:]][place.path] = place.tag ? Self.mask(entry.payload) : entry.payload
            }
        }
        return .changes(changes)
    }

    /// Appends retained publications (topic and payload; an empty payload clears the topic) to the log.
    func note(_ publications: [(topic: String, payload: String)]) {
        log.withLock { log in
            guard !log.positions.isEmpty else { return }
            log.entries.append(contentsOf: publications)
            if log.entries.count > Self.maxLogEntries {
                // Every watcher behind this point takes a snapshot next; the taking ones lose nothing that matters.
                log.first += log.entries.count
                log.entries = []
            }
        }
    }

    /// Every retained topic of `retained` (the publisher's cache), grouped by station: a new watcher's first view.
    func snapshot(_ retained: [(topic: String, payload: String)]) -> Changes {
        var changes: Changes = [:]
        places.withLock { places in
            for (topic, payload) in retained {
                guard let place = Self.place(topic, in: &places, topics: topics) else { continue }
                changes[place.station, default: [:]][place.path] = place.tag ? Self.mask(payload) : payload
            }
        }
        return changes
    }

    /// Drops the entries every watcher has taken.
    private func trim(_ log: inout Log) {
        guard let slowest = log.positions.values.min(), slowest > log.first else { return }
        let taken = min(slowest - log.first, log.entries.count)
        // Removing from the front is O(n): done when at least half the log goes, so amortised O(1) per entry.
        guard taken * 2 >= log.entries.count else { return }
        log.entries.removeFirst(taken)
        log.first += taken
    }

    /// Where a topic belongs, from the cache or worked out once (the cache is bounded: topics of stations long gone).
    private static func place(_ topic: String, in places: inout [String: Place?], topics: TopicLayout) -> Place? {
        if let known = places[topic] { return known }
        if places.count > 4 * maxLogEntries { places.removeAll() }
        let place = topics.stationPath(of: topic).map { station, path in
            Place(station: station ?? "", path: path, tag: carriesTag(path))
        }
        places[topic] = place
        return place
    }

    /// Topics whose payload is an RFID tag.
    static let tagParameters: Set<Substring> = ["id_tag", "authorize", "parent_id_tag"]

    static func carriesTag(_ path: String) -> Bool {
        path.split(separator: "/").last.map { tagParameters.contains($0) } ?? false
    }

    /// A tag masked for display: its last two characters for a tag of six or more, nothing of a shorter one
    /// (`04A1B2C3` → `••••••C3`).
    public static func mask(_ tag: String) -> String {
        guard !tag.isEmpty else { return tag }
        let visible = tag.count >= 6 ? 2 : 0
        return String(repeating: "•", count: tag.count - visible) + tag.suffix(visible)
    }
}
