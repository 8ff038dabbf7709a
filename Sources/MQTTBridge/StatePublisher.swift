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
/// - Other retained state keeps only its latest value per topic (``RetainedCache``; superseded values coalesce).
/// - After every (re)connect, the latest retained value of every topic the outbox did not just resend is
///   published again, so a broker that lost its retained messages gets them back.
/// - The outbox is bounded (``OutboxLimits``: `OUTBOX_MAX_BYTES`, `OUTBOX_MAX_MESSAGES`) and never drops what it
///   holds. At a bound, or while the store cannot write (a full disk), the central system's ``DurabilityGate`` is
///   closed: transaction-related messages go unanswered (chargers keep and resend them) until the outbox is back
///   under 90 % of both bounds and the store writes again. Ordinary retained state that would wait in a full outbox
///   is not queued; its latest value goes out when the gate opens.
/// - While connected to a broker that is alive (it acknowledged something within ``brokerSilence``, or nothing is
///   outstanding), a backlog of ``intakePauseLevel`` entries pauses the central system's ``IntakeGate`` (chargers are
///   not read) until it is down to ``intakeResumeLevel``, so a broker slower than the chargers slows them down instead
///   of filling the outbox. A broker that stops acknowledging (hung, though its connection is up) releases the pause
///   within ``brokerSilence``: chargers are then served as usual and the outbox takes what they send, as in an outage.
///
/// Locks: `state` is held only to compute; the MQTT client and the store are called after it is released. What
/// goes to the client is queued under the lock and handed over in order by one thread at a time
/// (``handOverQueued()``, in `StatePublisher+Broker.swift` with the rest of the broker's side; the gates are in `StatePublisher+Gates.swift`); what goes to the store is written under `writer`, the lock of the one thread writing to
/// the store (group commit). Order: `writer`, then `state`; never the other way round.
final class StatePublisher: Sendable {
    let transport: any MQTTTransport
    let qos: Int
    let limits: OutboxLimits
    let store: any OutboxStore
    let logger: Logger
    let gate: DurabilityGate?
    let intake: IntakeGate?
    let now: @Sendable () -> ContinuousClock.Instant
    let state: Mutex<State>
    /// Watchers of the retained state (the web console), if any.
    let feed: StateFeed?
    /// A meter reading whose payload equals its topic's last one is dropped (`MQTT_SKIP_UNCHANGED`).
    let skipUnchanged: Bool
    /// Held while writing to the store, so writes are in order and a rewrite never drops what a commit wrote.
    let writer = Mutex(())
    /// Something is queued for the MQTT client: ``handOverQueued()`` takes no lock while nothing is.
    let hasQueued = Atomic<Bool>(false)

    struct State {
        var connected = false
        var retained = RetainedCache()
        /// Unacknowledged outbox entries, oldest first.
        var outbox = OutboxQueue()
        /// The entries handed to the MQTT client and not yet acknowledged, by message id.
        var inFlight = InFlightQueue()
        /// The highest sequence queued for the MQTT client since the connection came up.
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
        var nextSequence: UInt64 = 1
        var acknowledgedSinceRewrite = 0
        /// Acknowledged entries wait to leave the store (a rewrite is due).
        var rewriteDue = false
        /// The durability gate is closed by this publisher.
        var gateClosed = false
        /// The last write to the store failed; the kept entries it did not take wait in `unwritten`.
        var storeFailing = false
        /// Kept entries in the outbox that the store did not take, oldest first: written with the next write.
        var unwritten: [OutboxEntry] = []
        /// Ordinary retained state was not queued because the outbox was full: all of it goes when the gate opens.
        var retainedDeferred = false
        /// The intake gate is paused by this publisher.
        var intakePaused = false
        /// When the broker last acknowledged something (or the connection came up).
        var lastAcknowledged: ContinuousClock.Instant?
        /// Publications for the MQTT client, in order, not handed over yet.
        var queued: [Queued] = []
        /// A thread is handing a batch over; the others only queue.
        var handingOver = false
        /// Outbox entries queued or being handed over: in the window, though their message ids are not known yet.
        var unrecorded = 0
        /// Counts connections, so a batch handed over on one is not recorded as in flight on the next.
        var connection: UInt64 = 0
        /// Acknowledgements that came while a batch was handed over, before its message ids were recorded.
        var early: [Int32] = []

        /// The window's occupancy.
        var inWindow: Int { inFlight.count + unrecorded }
    }

    /// One publication for the MQTT client; `sequence` for an outbox entry.
    struct Queued {
        var topic: String
        var payload: String
        var retain: Bool
        var sequence: UInt64?
    }

    /// Outbox entries handed to the MQTT client at once, at most. The rest wait in the outbox and go as
    /// acknowledgements come back. MQTT message ids have 16 bits: a client with more messages outstanding
    /// would reuse ids and mismatch acknowledgements. With 1,000 (before 0.9.0) a fleet's throughput was bound by the
    /// broker's acknowledgement time, not by a core: 4,000 took saturation from about 8,600 to 11,500 MeterValues a
    /// second on the same machine (docs/performance.md, issue 25).
    static let window = 4000

    /// Once the window is full, it is refilled when no more than this many messages are in flight: in one write of
    /// half a window, instead of a write of a message or two after every acknowledgement the broker sends.
    static let refillLevel = window / 2

    /// While connected to a live broker, chargers' messages stop being read when this many outbox entries wait (the
    /// broker takes less than the gateway publishes), and are read again once no more than ``intakeResumeLevel`` do.
    static let intakePauseLevel = 4 * window
    static let intakeResumeLevel = 2 * window
    /// A broker that has acknowledged nothing for this long while messages are outstanding is taken for hung: reading
    /// from chargers is not paused for it.
    static let brokerSilence: Duration = .seconds(2)
    static let intakePausedGauge = Gauge(label: "ocpp_intake_paused")

    static let queuedGauge = Gauge(label: "mqtt_queued_messages")
    static let queuedBytesGauge = Gauge(label: "mqtt_queued_bytes")
    static let fullGauge = Gauge(label: "mqtt_outbox_full")
    static let storeFailingGauge = Gauge(label: "mqtt_outbox_store_failing")

    init(transport: any MQTTTransport, qos: Int, store: any OutboxStore, limits: OutboxLimits = OutboxLimits(),
         gate: DurabilityGate? = nil, intake: IntakeGate? = nil, feed: StateFeed? = nil, skipUnchanged: Bool = false,
         logger: Logger, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.transport = transport
        self.feed = feed
        self.skipUnchanged = skipUnchanged
        self.gate = gate
        self.intake = intake
        self.now = now
        self.qos = qos
        self.store = store
        self.limits = limits
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
        let change = Self.gateChange(&initial, limits: limits, hasGate: gate != nil)
        state = Mutex(initial)
        Self.recordSize(initial)
        apply(change)
    }

    /// Publishes `publications` (kept ones are in the outbox when this returns).
    func publish(_ publications: [Publication]) {
        if let mark = stage(publications) { commit(through: mark) }
        handOverQueued()
    }

    /// Takes `publications` in order: ordinary retained state goes straight to MQTT when nothing waits before it;
    /// the rest gets outbox sequences and waits for ``commit(through:)``. Returns the last sequence given, nil when
    /// nothing waits.
    ///
    /// Ordinary retained state waits behind outbox entries still waiting for the window or for the store (in memory
    /// only), so a topic's values reach the broker in order. What goes straight is handed over by the next
    /// ``commit(through:)`` or ``handOverQueued()``.
    func stage(_ publications: [Publication]) -> UInt64? {
        guard !publications.isEmpty else { return nil }
        // The console's feed gets the retained state it shows, only while somebody watches.
        return state.withLock { state -> UInt64? in
            // Under the lock that a new watcher's snapshot of the cache takes, and handed over under it too: a
            // publication is in the snapshot or given to the watcher, never neither, and two threads' values of one
            // topic reach the watcher in the cache's order (the feed's lock is taken under this one, never the
            // other way round).
            let watching = feed?.isWatched == true
            var watched: [(topic: String, payload: String)] = []
            defer { if !watched.isEmpty { feed?.note(watched) } }
            var mark: UInt64?
            // Each publication read where it is: copying one out (its strings retained and released) cost 2.5 % of
            // the CPU at saturation.
            for index in publications.indices {
                // A meter reading's topic carries its slot, which holds the payload published last (and republished
                // after a reconnect): an equal one tells the broker nothing new.
                if skipUnchanged, let slot = publications[index].slot, slot.cached, slot.payload == publications[index].payload {
                    continue
                }
                if publications[index].retain {
                    if watching, publications[index].cached { watched.append((publications[index].topic, publications[index].payload)) }
                    state.retained.remember(publications[index].topic, publications[index].payload, cached: publications[index].cached,
                                            slot: publications[index].slot)
                }
                let mustKeep = publications[index].kept || !publications[index].retain
                if !mustKeep && state.gateClosed {
                    // The outbox is full: the cache has the value, and the gate's opening sends it.
                    state.retainedDeferred = true
                    continue
                }
                if !mustKeep && mark == nil && !hasBacklog(state) {
                    // Retained (only retained state that need not be kept goes straight).
                    if state.connected {
                        state.queued.append(Queued(topic: publications[index].topic, payload: publications[index].payload, retain: true))
                        hasQueued.store(true, ordering: .releasing)
                    }
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

    /// Stages, for each pair, the payload held last for `from` as a retained publication on `to` (nothing for a topic
    /// with none); see ``stage(_:)``.
    func stageCopies(_ copies: [(from: String, to: String)]) -> UInt64? {
        let publications = state.withLock { state in
            copies.compactMap { copy in state.retained.payload(of: copy.from).map { Publication(topic: copy.to, payload: $0) } }
        }
        return stage(publications)
    }

    /// Returns once every entry staged up to `mark` is in the outbox (the kept ones written to the store) and
    /// handed to the MQTT client as the window allows.
    ///
    /// Group commit: one caller at a time (holding `writer`) writes everything staged so far, by anyone, in one write
    /// to the store; callers whose entries were written meanwhile return without writing.
    func commit(through mark: UInt64) {
        let change = writer.withLock { _ -> Changes? in
            let taken = state.withLock { state -> (all: [OutboxEntry], kept: [OutboxEntry], unwritten: [OutboxEntry])? in
                guard state.committedThrough < mark, !state.unstored.isEmpty else { return nil }
                defer {
                    state.unstored = []
                    state.unstoredKept = []
                }
                return (state.unstored, state.unstoredKept, pendingUnwritten(&state))
            }
            guard let taken else { return nil }
            // Usually nothing waits from a failed write: no new array (copying entries retains their strings).
            let attempted = taken.unwritten.isEmpty ? taken.kept : taken.unwritten + taken.kept
            let failure = write(attempted)
            let (change, rewrite) = state.withLock { state in
                state.committedThrough = taken.all[taken.all.count - 1].sequence
                for entry in taken.all { state.outbox.append(entry) }
                noteWrite(failure, of: attempted, &state)
                queueWaiting(&state)
                Self.recordSize(state)
                return (changes(&state), takeRewrite(&state))
            }
            self.rewrite(rewrite)
            return change
        }
        if let change { apply(change) }
        handOverQueued()
    }

    /// Whether outbox entries wait for the window or for the store. (Without a connection, ordinary state is
    /// coalesced instead: the latest value of each topic goes after the outbox at the reconnect.)
    func hasBacklog(_ state: State) -> Bool {
        guard state.connected else { return false }
        if !state.unstored.isEmpty { return true }
        guard let last = state.outbox.last else { return false }
        return last.sequence > state.sentUpTo
    }

    /// Queues waiting outbox entries for the MQTT client, in order, while the window has room; once it was full,
    /// from when acknowledgements bring it down to ``refillLevel``.
    func queueWaiting(_ state: inout State) {
        guard state.connected else { return }
        if state.windowFull {
            guard state.inWindow <= Self.refillLevel else { return }
            state.windowFull = false
        }
        var position = state.outbox.position(after: state.sentUpTo)
        while let entry = state.outbox.entry(at: position) {
            guard state.inWindow < Self.window else {
                state.windowFull = true
                return
            }
            state.queued.append(Queued(topic: entry.topic, payload: entry.payload, retain: entry.retain, sequence: entry.sequence))
            hasQueued.store(true, ordering: .releasing)
            state.unrecorded += 1
            state.sentUpTo = entry.sequence
            position += 1
        }
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    /// Every retained topic and its latest payload (for a new watcher of the feed).
    var retainedTopics: [(topic: String, payload: String)] { state.withLock { $0.retained.inOrder } }

    /// How many messages wait for the broker.
    var waiting: Int { state.withLock { $0.outbox.count + $0.unstored.count } }

    /// Clears topics on the broker (empty retained payloads) and drops them from the cache.
    func forget(_ topics: [String]) {
        publish(topics.map { Publication(topic: $0, payload: "") })
    }

    /// What a due rewrite keeps: the first unacknowledged sequence (nil: the outbox is empty); `.none` when none
    /// is due.
    func takeRewrite(_ state: inout State) -> UInt64?? {
        guard state.rewriteDue else { return .none }
        state.rewriteDue = false
        state.acknowledgedSinceRewrite = 0
        return .some(state.outbox.pending.first?.sequence)
    }

    /// Drops what was acknowledged from the store (called holding `writer`).
    func rewrite(_ due: UInt64??) {
        guard case .some(let first) = due else { return }
        do {
            try store.dropAcknowledged(below: first)
        } catch {
            logger.error("Cannot rewrite the outbox", metadata: ["error": "\(error)"])
        }
    }
}
