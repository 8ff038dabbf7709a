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
final class StatePublisher: Sendable {
    private let transport: any MQTTTransport
    private let qos: Int
    private let outboxLimit: Int
    private let store: any OutboxStore
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var connected = false
        var order: [String] = []
        var retained: [String: String] = [:]
        /// Unacknowledged outbox entries, oldest first. A slice: acknowledgements come mostly in order, and
        /// dropping a slice's first element moves its start instead of every other element.
        var outbox: ArraySlice<OutboxEntry> = []
        /// Message id -> outbox sequence, for the entries handed to the MQTT client.
        var inFlight: [Int32: UInt64] = [:]
        var nextSequence: UInt64 = 1
        var acknowledgedSinceRewrite = 0
    }

    private static let queued = Gauge(label: "mqtt_queued_messages")
    private static let dropped = Counter(label: "mqtt_outbox_dropped_total")

    init(transport: any MQTTTransport, qos: Int, store: any OutboxStore = MemoryOutbox(), outboxLimit: Int = 100_000, logger: Logger) {
        self.transport = transport
        self.qos = qos
        self.store = store
        self.outboxLimit = max(10, outboxLimit)
        self.logger = logger
        var initial = State()
        do {
            initial.outbox = try store.load()[...]
            initial.nextSequence = (initial.outbox.last?.sequence ?? 0) + 1
            if !initial.outbox.isEmpty {
                logger.info("Messages waiting from before the restart", metadata: ["mqtt.outbox": "\(initial.outbox.count)"])
            }
        } catch {
            logger.error("Cannot read the outbox; starting with an empty one", metadata: ["error": "\(error)"])
        }
        state = Mutex(initial)
        Self.queued.record(initial.outbox.count)
    }

    func publish(_ publications: [Publication]) {
        guard !publications.isEmpty else { return }
        state.withLock { state in
            // First keep what must be kept, in one write to the store; then hand everything to MQTT in order.
            var kept: [OutboxEntry] = []
            var entries: [OutboxEntry?] = []
            entries.reserveCapacity(publications.count)
            for publication in publications {
                if publication.retain { remember(publication, in: &state) }
                guard publication.kept || !publication.retain else {
                    entries.append(nil)
                    continue
                }
                let entry = OutboxEntry(sequence: state.nextSequence, topic: publication.topic, payload: publication.payload,
                                        retain: publication.retain)
                state.nextSequence += 1
                kept.append(entry)
                entries.append(entry)
            }
            if !kept.isEmpty {
                do {
                    try store.append(kept)
                } catch {
                    logger.error("Cannot write to the outbox; the message is kept in memory only", metadata: ["error": "\(error)"])
                }
            }
            for (publication, entry) in zip(publications, entries) {
                guard let entry else {
                    if state.connected { _ = send(publication.topic, publication.payload, publication.retain) }
                    continue
                }
                state.outbox.append(entry)
                if state.outbox.count > outboxLimit { dropOldest(&state) }
                if state.connected, let id = send(entry.topic, entry.payload, entry.retain) {
                    state.inFlight[id] = entry.sequence
                }
            }
            Self.queued.record(state.outbox.count)
        }
    }

    /// The broker connection is up: resend the outbox in order, then the latest retained state.
    func connected() {
        let (resent, republished) = state.withLock { state in
            state.connected = true
            state.inFlight = [:]
            var resentTopics: Set<String> = []
            for entry in state.outbox {
                if let id = send(entry.topic, entry.payload, entry.retain) { state.inFlight[id] = entry.sequence }
                resentTopics.insert(entry.topic)
            }
            var republished = 0
            for topic in state.order where !resentTopics.contains(topic) {
                _ = send(topic, state.retained[topic]!, true)
                republished += 1
            }
            return (state.outbox.count, republished)
        }
        logger.info("Published the outbox and the retained state after connecting",
                    metadata: ["mqtt.outbox": "\(resent)", "mqtt.retained_topics": "\(republished)"])
    }

    func disconnected() {
        state.withLock { $0.connected = false }
    }

    /// The broker acknowledged a message: it leaves the outbox.
    func acknowledged(_ messageID: Int32) {
        state.withLock { state in
            guard let sequence = state.inFlight.removeValue(forKey: messageID),
                let index = Self.index(of: sequence, in: state.outbox)
            else { return }
            if index == state.outbox.startIndex {
                state.outbox.removeFirst()
            } else {
                state.outbox.remove(at: index)
            }
            state.acknowledgedSinceRewrite += 1
            // Keep the file short: rewrite it when it has emptied, or every thousand acknowledgements.
            if state.outbox.isEmpty || state.acknowledgedSinceRewrite >= 1000 {
                rewrite(&state)
            }
            Self.queued.record(state.outbox.count)
        }
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    /// Where the entry with `sequence` is: the outbox is in sequence order, and acknowledgements mostly come for
    /// its first entries.
    static func index(of sequence: UInt64, in outbox: ArraySlice<OutboxEntry>) -> Int? {
        if outbox.first?.sequence == sequence { return outbox.startIndex }
        var low = outbox.startIndex, high = outbox.endIndex
        while low < high {
            let middle = (low + high) / 2
            if outbox[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < outbox.endIndex && outbox[low].sequence == sequence ? low : nil
    }

    /// How many messages wait for the broker.
    var waiting: Int { state.withLock { $0.outbox.count } }

    /// Clears topics on the broker (empty retained payloads) and drops them from the cache.
    func forget(_ topics: [String]) {
        publish(topics.map { Publication(topic: $0, payload: "") })
    }

    private func remember(_ publication: Publication, in state: inout State) {
        if publication.payload.isEmpty {
            // An empty retained payload clears the topic: nothing to keep or republish.
            if state.retained.removeValue(forKey: publication.topic) != nil {
                state.order.removeAll { $0 == publication.topic }
            }
        } else if state.retained.updateValue(publication.payload, forKey: publication.topic) == nil {
            state.order.append(publication.topic)
        }
    }

    private func dropOldest(_ state: inout State) {
        let count = max(1, outboxLimit / 10)
        let gone = Set(state.outbox.prefix(count).map(\.sequence))
        state.outbox.removeFirst(min(count, state.outbox.count))
        state.inFlight = state.inFlight.filter { !gone.contains($0.value) }
        Self.dropped.increment(by: gone.count)
        logger.warning("Outbox full: dropped the oldest messages", metadata: [
            "mqtt.dropped": "\(gone.count)", "mqtt.outbox_limit": "\(outboxLimit)",
        ])
        rewrite(&state)
    }

    private func rewrite(_ state: inout State) {
        do {
            try store.rewrite(Array(state.outbox))
            state.acknowledgedSinceRewrite = 0
        } catch {
            logger.error("Cannot rewrite the outbox", metadata: ["error": "\(error)"])
        }
    }

    private func send(_ topic: String, _ payload: String, _ retain: Bool) -> Int32? {
        transport.publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }
}
