import CentralSystem
import Logging
import Metrics
import Synchronization

/// Puts publications on the broker, and keeps what must survive broker outages and restarts.
///
/// - Kept publications (meter readings, transaction events) and command results go through the outbox: written
///   to it before they are handed to the MQTT client, removed when the broker acknowledges them. During an
///   outage they wait there, in order; after a reconnect, or a restart, they are sent again in order. A message
///   in flight when the connection dropped may arrive twice (QoS 1 semantics), never not at all.
/// - Other retained state keeps only its latest value per topic (superseded values are coalesced).
/// - After every (re)connect, the latest retained value of every topic the outbox did not just resend is
///   published again, so a broker that lost its retained messages gets them back.
/// - The outbox is bounded (`OUTBOX_MAX_MESSAGES`); past it the oldest tenth is dropped, logged and counted.
/// - While connected, a backlog of ``intakePauseLevel`` entries pauses the central system's ``IntakeGate`` (chargers
///   are not read) until it is down to ``intakeResumeLevel``, so a broker slower than the chargers slows them down
///   instead of filling the outbox.
final class StatePublisher: Sendable {
    private let transport: any MQTTTransport
    private let qos: Int
    private let outboxLimit: Int
    private let store: any OutboxStore
    private let logger: Logger
    private let state: Mutex<State>
    private let publishing = Mutex(())

    private struct State {
        var connected = false
        /// The latest payload of every retained topic, with the order the topic first appeared in (republished in
        /// that order). Removing a topic is O(1): with thousands of stations, a list of topics in order made each
        /// cleared topic (a transaction's end, a disconnect) cost O(all topics).
        var retained: [String: Retained] = [:]
        var nextOrder: UInt64 = 0
        /// Unacknowledged outbox entries, oldest first.
        var outbox = OutboxQueue()
        /// The entries handed to the MQTT client and not yet acknowledged, by message id.
        var inFlight = InFlightQueue()
        /// The highest sequence handed to the MQTT client since the connection came up.
        var sentUpTo: UInt64 = 0
        /// The window filled up: nothing more is handed over until acknowledgements bring the messages in flight
        /// down to ``refillLevel``.
        var windowFull = false
        /// Outbox entries that were not written to the store: ordinary state queued behind a backlog.
        var volatile: Set<UInt64> = []
        /// Entries staged and not committed yet (not in `outbox`, kept ones not in the store), in sequence order,
        /// and the kept ones among them.
        var unstored: [OutboxEntry] = []
        var unstoredKept: [OutboxEntry] = []
        /// The last sequence committed (moved to `outbox`).
        var committedThrough: UInt64 = 0
        /// A publisher is writing entries to the store that are not in `outbox` yet: no rewrite meanwhile (it
        /// would remove them from the store).
        var storing = false
        var nextSequence: UInt64 = 1
        var acknowledgedSinceRewrite = 0
        /// The intake gate is paused by this publisher.
        var intakePaused = false
    }

    /// A retained topic's latest payload and its order, held here, or in a slot its publications carry (the
    /// publisher then updates the slot without a lookup).
    private enum Retained {
        case value(payload: String, order: UInt64)
        case slot(RetainedSlot)

        var payload: String {
            switch self {
            case .value(let payload, _): payload
            case .slot(let slot): slot.payload
            }
        }

        var order: UInt64 {
            switch self {
            case .value(_, let order): order
            case .slot(let slot): slot.order
            }
        }
    }

    /// While connected, chargers' messages stop being read when this many outbox entries wait (the broker takes
    /// less than the gateway publishes), and are read again once no more than ``intakeResumeLevel`` do. During an
    /// outage the gate stays open: chargers are served as usual and the outbox keeps what they send.
    static let intakePauseLevel = 4 * window
    static let intakeResumeLevel = 2 * window

    /// Outbox entries handed to the MQTT client at once, at most. The rest wait in the outbox and go as
    /// acknowledgements come back. MQTT message ids have 16 bits: a client with more messages outstanding
    /// would reuse ids and mismatch acknowledgements.
    static let window = 1000

    /// Once the window is full, it is refilled when no more than this many messages are in flight: in one write of
    /// half a window, instead of a write of a message or two after every acknowledgement the broker sends.
    static let refillLevel = window / 2

    private static let queued = Gauge(label: "mqtt_queued_messages")
    private static let dropped = Counter(label: "mqtt_outbox_dropped_total")
    private static let intakePausedGauge = Gauge(label: "ocpp_intake_paused")
    private let intake: IntakeGate?

    init(
        transport: any MQTTTransport, qos: Int, store: any OutboxStore = MemoryOutbox(), outboxLimit: Int = 100_000,
        intake: IntakeGate? = nil, logger: Logger
    ) {
        self.transport = transport
        self.intake = intake
        self.qos = qos
        self.store = store
        self.outboxLimit = max(10, outboxLimit)
        self.logger = logger
        var initial = State()
        do {
            initial.outbox = OutboxQueue(try store.load())
            initial.nextSequence = (initial.outbox.last?.sequence ?? 0) + 1
            initial.committedThrough = initial.nextSequence - 1
            if !initial.outbox.isEmpty {
                logger.info("Messages waiting from before the restart", metadata: ["mqtt.outbox": "\(initial.outbox.count)"])
            }
        } catch {
            logger.error("Cannot read the outbox; starting with an empty one", metadata: ["error": "\(error)"])
        }
        state = Mutex(initial)
        Self.queued.record(initial.outbox.count)
    }

    /// Publishes `publications` (kept ones are in the outbox when this returns).
    func publish(_ publications: [Publication]) {
        if let mark = stage(publications) { commit(through: mark) }
    }

    /// Takes `publications` in order: ordinary retained state goes straight to MQTT when nothing waits before it;
    /// the rest gets outbox sequences and waits for ``commit(through:)``. Returns the last sequence given, nil when
    /// nothing waits.
    ///
    /// Ordinary retained state waits behind outbox entries still waiting for the window or for the store (in memory
    /// only), so a topic's values reach the broker in order.
    func stage(_ publications: [Publication]) -> UInt64? {
        guard !publications.isEmpty else { return nil }
        return state.withLock { state -> UInt64? in
            var mark: UInt64?
            // Each publication read where it is: copying one out (its strings retained and released) cost 2.5 % of
            // the CPU at saturation.
            for index in publications.indices {
                if publications[index].retain {
                    remember(publications[index].topic, publications[index].payload, cached: publications[index].cached,
                             slot: publications[index].slot, in: &state)
                }
                let mustKeep = publications[index].kept || !publications[index].retain
                if !mustKeep && mark == nil && !hasBacklog(state) {
                    // Retained (only retained state that need not be kept goes straight).
                    if state.connected { _ = send(publications[index].topic, publications[index].payload, true) }
                    continue
                }
                let entry = OutboxEntry(sequence: state.nextSequence, topic: publications[index].topic,
                                        payload: publications[index].payload, retain: publications[index].retain)
                state.nextSequence += 1
                if mustKeep { state.unstoredKept.append(entry) } else { state.volatile.insert(entry.sequence) }
                state.unstored.append(entry)
                mark = entry.sequence
            }
            return mark
        }
    }

    /// Returns once every entry staged up to `mark` is in the outbox (the kept ones written to the store) and
    /// handed to the MQTT client as the window allows.
    ///
    /// Group commit: one caller at a time writes everything staged so far, by anyone, in one write to the store;
    /// callers whose entries were written meanwhile return without writing. The store is written outside the state
    /// lock, so acknowledgements on the MQTT connection's event loop do not wait for the disk.
    func commit(through mark: UInt64) {
        publishing.withLock { _ in
            let taken = state.withLock { state -> (all: [OutboxEntry], kept: [OutboxEntry])? in
                guard state.committedThrough < mark, !state.unstored.isEmpty else { return nil }
                defer {
                    state.unstored = []
                    state.unstoredKept = []
                }
                state.storing = !state.unstoredKept.isEmpty
                return (state.unstored, state.unstoredKept)
            }
            guard let taken else { return }
            if !taken.kept.isEmpty {
                do {
                    try store.append(taken.kept)
                } catch {
                    logger.error("Cannot write to the outbox; the message is kept in memory only", metadata: ["error": "\(error)"])
                }
            }
            let change = state.withLock { state in
                state.storing = false
                state.committedThrough = taken.all[taken.all.count - 1].sequence
                for entry in taken.all {
                    state.outbox.append(entry)
                    if state.outbox.count > outboxLimit && !(state.connected && state.intakePaused) { dropOldest(&state) }
                }
                sendWaiting(&state)
                Self.queued.record(state.outbox.count)
                return intakeChange(&state)
            }
            apply(change)
        }
    }

    /// Whether the intake gate must be paused (true) or resumed (false) now; nil when it stays as it is.
    private func intakeChange(_ state: inout State) -> Bool? {
        guard intake != nil else { return nil }
        let pause = state.connected
            && (state.intakePaused ? state.outbox.count > Self.intakeResumeLevel : state.outbox.count >= Self.intakePauseLevel)
        guard pause != state.intakePaused else { return nil }
        state.intakePaused = pause
        return pause
    }

    /// Pauses or resumes the gate, outside the state lock (resuming wakes the connections that wait).
    private func apply(_ change: Bool?) {
        guard let change, let intake else { return }
        Self.intakePausedGauge.record(change ? 1 : 0)
        if change {
            intake.pause()
            logger.info("The broker falls behind: reading from chargers paused", metadata: [
                "mqtt.pause_level": "\(Self.intakePauseLevel)", "mqtt.resume_level": "\(Self.intakeResumeLevel)",
            ])
        } else {
            intake.resume()
            logger.info("Reading from chargers resumed")
        }
    }

    /// Whether outbox entries wait for the window or for the store. (Without a connection, ordinary state is
    /// coalesced instead: the latest value of each topic goes after the outbox at the reconnect.)
    private func hasBacklog(_ state: State) -> Bool {
        guard state.connected else { return false }
        if !state.unstored.isEmpty { return true }
        guard let last = state.outbox.last else { return false }
        return last.sequence > state.sentUpTo
    }

    /// Hands waiting outbox entries to the MQTT client, in order, while the window has room; once it was full, from
    /// when acknowledgements bring it down to ``refillLevel``.
    private func sendWaiting(_ state: inout State) {
        guard state.connected else { return }
        if state.windowFull {
            guard state.inFlight.count <= Self.refillLevel else { return }
            state.windowFull = false
        }
        var position = state.outbox.position(after: state.sentUpTo)
        while let entry = state.outbox.entry(at: position) {
            guard state.inFlight.count < Self.window else {
                state.windowFull = true
                return
            }
            if let id = send(entry.topic, entry.payload, entry.retain) { state.inFlight.append(id: id, sequence: entry.sequence) }
            state.sentUpTo = entry.sequence
            position += 1
        }
    }

    /// The broker connection is up: resend the outbox in order, then the latest retained state.
    func connected() {
        let (resent, republished, change) = state.withLock { state in
            state.connected = true
            state.inFlight.removeAll()
            state.windowFull = false
            state.sentUpTo = 0
            let resentTopics = Set(state.outbox.pending.map(\.topic))
            sendWaiting(&state)
            var republished = 0
            for (topic, value) in state.retained.sorted(by: { $0.value.order < $1.value.order }) where !resentTopics.contains(topic) {
                _ = send(topic, value.payload, true)
                republished += 1
            }
            return (state.outbox.count, republished, intakeChange(&state))
        }
        apply(change)
        logger.info("Published the outbox and the retained state after connecting",
                    metadata: ["mqtt.outbox": "\(resent)", "mqtt.retained_topics": "\(republished)"])
    }

    func disconnected() {
        let change = state.withLock { state in
            state.connected = false
            return intakeChange(&state)
        }
        apply(change)
    }

    /// The broker acknowledged messages: they leave the outbox. One lock for all of them (the MQTT client hands
    /// over the acknowledgements of one read together).
    func acknowledged(_ messageIDs: [Int32]) {
        let change = state.withLock { state -> Bool? in
            var removed = 0
            for messageID in messageIDs {
                guard let sequence = state.inFlight.remove(id: messageID),
                    state.outbox.remove(sequence: sequence)
                else { continue }
                if !state.volatile.isEmpty { state.volatile.remove(sequence) }
                removed += 1
            }
            guard removed > 0 else { return nil }
            sendWaiting(&state)
            state.acknowledgedSinceRewrite += removed
            // Keep the file short: rewrite it when it has emptied, or every thousand acknowledgements.
            if !state.storing && (state.outbox.isEmpty || state.acknowledgedSinceRewrite >= 1000) {
                rewrite(&state)
            }
            Self.queued.record(state.outbox.count)
            return intakeChange(&state)
        }
        apply(change)
    }

    var isConnected: Bool { state.withLock { $0.connected } }


    /// How many messages wait for the broker.
    var waiting: Int { state.withLock { $0.outbox.count + $0.unstored.count } }

    /// Clears topics on the broker (empty retained payloads) and drops them from the cache.
    func forget(_ topics: [String]) {
        publish(topics.map { Publication(topic: $0, payload: "") })
    }

    /// Keeps `payload` as the latest of `topic` (a retained publication's; `cached` and `slot` as the publication's).
    private func remember(_ topic: String, _ payload: String, cached: Bool, slot: RetainedSlot?, in state: inout State) {
        let clears = payload.isEmpty || !cached
        if let slot, slot.cached, !clears {
            // A meter reading: its slot is in the table, no lookup.
            slot.payload = payload
            return
        }
        if clears {
            // An empty retained payload clears the topic, and an uncached one is not held: nothing to republish.
            if case .slot(let held)? = state.retained.removeValue(forKey: topic) { held.cached = false }
        } else if let index = state.retained.index(forKey: topic) {
            // One lookup (hashing the whole topic) for a topic seen before.
            let order = state.retained.values[index].order
            if case .slot(let held) = state.retained.values[index], slot == nil || slot === held {
                held.payload = payload
            } else if let slot {
                // The slot takes the topic's place (and its order) from a value or from an earlier slot.
                if case .slot(let held) = state.retained.values[index] { held.cached = false }
                state.retained.values[index] = .slot(hold(slot, payload, order))
            } else {
                state.retained.values[index] = .value(payload: payload, order: order)
            }
        } else {
            state.retained[topic] = slot.map { .slot(hold($0, payload, state.nextOrder)) } ?? .value(payload: payload, order: state.nextOrder)
            state.nextOrder += 1
        }
    }

    private func hold(_ slot: RetainedSlot, _ payload: String, _ order: UInt64) -> RetainedSlot {
        slot.payload = payload
        slot.order = order
        slot.cached = true
        return slot
    }

    /// Past the limit, the oldest tenth goes. Not while connected with reading from chargers paused: then the
    /// outbox grows only by what chargers had sent before the pause (at most a message or two each), drains at the
    /// broker's pace, and dropping would lose readings to a slow broker rather than to an outage.
    private func dropOldest(_ state: inout State) {
        let count = max(1, outboxLimit / 10)
        let gone = Set(state.outbox.pending.prefix(count).map(\.sequence))
        state.outbox.removeFirst(count)
        state.inFlight.filter { !gone.contains($0) }
        state.volatile.subtract(gone)
        Self.dropped.increment(by: gone.count)
        logger.warning("Outbox full: dropped the oldest messages", metadata: [
            "mqtt.dropped": "\(gone.count)", "mqtt.outbox_limit": "\(outboxLimit)",
        ])
        rewrite(&state)
    }

    private func rewrite(_ state: inout State) {
        do {
            // Only what was kept: ordinary state queued behind a backlog is republished from the cache anyway.
            let volatile = state.volatile
            try store.rewrite(state.outbox.pending.lazy.filter { !volatile.contains($0.sequence) })
            state.acknowledgedSinceRewrite = 0
        } catch {
            logger.error("Cannot rewrite the outbox", metadata: ["error": "\(error)"])
        }
    }

    private func send(_ topic: String, _ payload: String, _ retain: Bool) -> Int32? {
        transport.publish(topic: topic, text: payload, qos: qos, retain: retain)
    }
}

/// The unacknowledged entries in sequence order. Acknowledgements come mostly for the oldest entry, which
/// ``FrontQueue`` takes in O(1).
struct OutboxQueue {
    private var entries: FrontQueue<OutboxEntry>

    init(_ entries: [OutboxEntry] = []) {
        self.entries = FrontQueue(entries)
    }

    /// The entries, oldest first.
    var pending: ArraySlice<OutboxEntry> { entries.elements }
    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var last: OutboxEntry? { entries.elements.last }

    mutating func append(_ entry: OutboxEntry) {
        entries.append(entry)
    }

    /// Removes the entry with `sequence`; false when there is none.
    mutating func remove(sequence: UInt64) -> Bool {
        let position = entries.elements.first?.sequence == sequence ? entries.startPosition
            : entries.partitionPoint { $0.sequence >= sequence }
        guard entries.element(at: position)?.sequence == sequence else { return false }
        entries.remove(at: position)
        return true
    }

    /// Drops the oldest `count` entries.
    mutating func removeFirst(_ count: Int) {
        entries.removeFirst(count)
    }

    /// The position of the first entry whose sequence is above `sequence` (positions are valid until the next
    /// change).
    func position(after sequence: UInt64) -> Int {
        entries.partitionPoint { $0.sequence > sequence }
    }

    func entry(at position: Int) -> OutboxEntry? {
        entries.element(at: position)
    }
}

/// The outbox entries handed to the MQTT client and not acknowledged yet: (message id, sequence) in the order they
/// were handed over, which is also the order of their message ids (the client numbers publishes in sequence,
/// wrapping past `Int32.max`). The broker acknowledges QoS 1 publishes in the order it got them (MQTT 3.1.1 section
/// 4.6), so an acknowledgement is nearly always the oldest entry's; any other is found by binary search, and a
/// message id that is not here (a publish the outbox did not track) costs the same. No hashing.
struct InFlightQueue {
    private var entries = FrontQueue<(id: Int32, sequence: UInt64)>()

    var count: Int { entries.count }

    mutating func append(id: Int32, sequence: UInt64) {
        entries.append((id, sequence))
    }

    /// Removes the entry of message id `id` and returns its sequence; nil when there is none.
    mutating func remove(id: Int32) -> UInt64? {
        guard let oldest = entries.elements.first?.id else { return nil }
        // Distances from the oldest id, in the order ids were given out, wrapping included.
        let target = UInt32(bitPattern: id &- oldest)
        let position = target == 0 ? entries.startPosition
            : entries.partitionPoint { UInt32(bitPattern: $0.id &- oldest) >= target }
        guard let entry = entries.element(at: position), entry.id == id else { return nil }
        entries.remove(at: position)
        return entry.sequence
    }

    /// Keeps only the entries whose sequence `keep` accepts.
    mutating func filter(sequence keep: (UInt64) -> Bool) {
        entries.filter { keep($0.sequence) }
    }

    mutating func removeAll() {
        entries.removeAll()
    }
}

/// An array consumed mostly from the front: taking the oldest element moves a start index instead of every other
/// element, and the storage is compacted once the part taken is at least half of it and 64 elements (amortised O(1)
/// per element taken; measured in docs/performance.md). Positions count from the storage's start and are valid until
/// the next change.
struct FrontQueue<Element> {
    private var storage: [Element]
    private var head = 0

    init(_ elements: [Element] = []) {
        storage = elements
    }

    /// The elements, oldest first.
    var elements: ArraySlice<Element> { storage[head...] }
    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    /// The oldest element's position.
    var startPosition: Int { head }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    func element(at position: Int) -> Element? {
        position >= head && position < storage.count ? storage[position] : nil
    }

    /// The first position whose element `isAtOrPast` accepts (the end when none does), for a predicate that is
    /// false and then true along the queue: a binary search.
    func partitionPoint(_ isAtOrPast: (Element) -> Bool) -> Int {
        var low = head, high = storage.count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrPast(storage[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Removes the element at `position`: O(1) for the oldest, O(n) elsewhere.
    mutating func remove(at position: Int) {
        guard position == head else {
            storage.remove(at: position)
            return
        }
        head += 1
        compactIfWorthIt()
    }

    /// Drops the oldest `count` elements.
    mutating func removeFirst(_ count: Int) {
        head += min(count, self.count)
        compactIfWorthIt()
    }

    mutating func filter(_ keep: (Element) -> Bool) {
        storage = elements.filter(keep)
        head = 0
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    private mutating func compactIfWorthIt() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}

extension FrontQueue: Sendable where Element: Sendable {}
