import Logging

/// The broker's side: handing publications to the MQTT client, the connection coming and going, acknowledgements.
extension StatePublisher {
    /// Hands what is queued to the MQTT client, in order, outside the state lock, and records the message ids of
    /// outbox entries as in flight. One thread at a time: a thread that finds another handing over leaves its
    /// publications to it (that thread loops until nothing is queued).
    func handOverQueued() {
        while hasQueued.load(ordering: .acquiring) {
            let batch = state.withLock { state -> (items: [Queued], connection: UInt64)? in
                guard !state.handingOver, !state.queued.isEmpty else { return nil }
                state.handingOver = true
                hasQueued.store(false, ordering: .releasing)
                defer { state.queued = [] }
                return (state.queued, state.connection)
            }
            guard let batch else { return }
            var sent: [(id: Int32, sequence: UInt64)] = []
            var entries = 0
            for item in batch.items {
                let id = transport.publish(topic: item.topic, text: item.payload, qos: qos, retain: item.retain)
                guard let sequence = item.sequence else { continue }
                entries += 1
                if let id { sent.append((id, sequence)) }
            }
            let (change, rewriteDue) = state.withLock { state -> (Changes?, Bool) in
                state.handingOver = false
                state.unrecorded -= entries
                // A reconnect meanwhile resent everything: these ids belong to a connection that is gone.
                guard state.connection == batch.connection else { return (nil, false) }
                for (id, sequence) in sent { state.inFlight.append(id: id, sequence: sequence) }
                guard !state.early.isEmpty else { return (nil, false) }
                let early = state.early
                state.early = []
                return (removeAcknowledged(early, &state, keepUnknown: false), state.rewriteDue)
            }
            if let change { apply(change) }
            if rewriteDue { rewriteIfWriterIsFree() }
        }
    }

    /// Drops what was acknowledged from the store now, unless a commit holds the writer (it does it then).
    private func rewriteIfWriterIsFree() {
        writer.withLockIfAvailable { _ in
            rewrite(state.withLock { takeRewrite(&$0) })
        }
    }

    /// The broker connection is up: resend the outbox in order, then the latest retained state.
    func connected() {
        let (resent, republished, change) = state.withLock { state in
            state.connected = true
            state.lastAcknowledged = now()  // a fresh connection counts as alive
            state.connection += 1
            state.inFlight.removeAll()
            state.early = []
            // What was queued for the connection that ended goes again below, in order.
            state.unrecorded -= state.queued.count { $0.sequence != nil }
            state.queued = []
            state.windowFull = false
            state.sentUpTo = 0
            queueWaiting(&state)
            return (state.outbox.count, queueRetained(&state), Changes(intake: intakeChange(&state)))
        }
        apply(change)
        handOverQueued()
        logger.info("Published the outbox and the retained state after connecting",
                    metadata: ["mqtt.outbox": "\(resent)", "mqtt.retained_topics": "\(republished)"])
    }

    func disconnected() {
        let change = state.withLock { state in
            state.connected = false
            return Changes(intake: intakeChange(&state))
        }
        apply(change)
    }

    /// Queues the latest value of every retained topic the outbox does not hold (those go with it, in order), while
    /// connected; returns how many.
    func queueRetained(_ state: inout State) -> Int {
        guard state.connected else { return 0 }
        let inOutbox = Set(state.outbox.pending.map(\.topic))
        var queued = 0
        for (topic, payload) in state.retained.inOrder where !inOutbox.contains(topic) {
            state.queued.append(Queued(topic: topic, payload: payload, retain: true))
            hasQueued.store(true, ordering: .releasing)
            queued += 1
        }
        return queued
    }

    /// The broker acknowledged messages: they leave the outbox. One lock for all of them (the MQTT client hands
    /// over the acknowledgements of one read together).
    func acknowledged(_ messageIDs: [Int32]) {
        let (change, rewriteDue) = state.withLock { state -> (Changes?, Bool) in
            (removeAcknowledged(messageIDs, &state, keepUnknown: state.handingOver), state.rewriteDue)
        }
        if let change { apply(change) }
        if rewriteDue { rewriteIfWriterIsFree() }
        handOverQueued()
    }

    /// Removes acknowledged entries; `keepUnknown` keeps ids not in flight for when a batch's ids are recorded.
    private func removeAcknowledged(_ messageIDs: [Int32], _ state: inout State, keepUnknown: Bool) -> Changes? {
        var removed = 0
        for messageID in messageIDs {
            guard let sequence = state.inFlight.remove(id: messageID) else {
                if keepUnknown { state.early.append(messageID) }
                continue
            }
            guard state.outbox.remove(sequence: sequence) else { continue }
            if !state.volatile.isEmpty { state.volatile.remove(sequence) }
            removed += 1
        }
        guard removed > 0 else { return nil }
        state.lastAcknowledged = now()
        queueWaiting(&state)
        state.acknowledgedSinceRewrite += removed
        // Keep the store short: rewrite it when the outbox has emptied, or every thousand acknowledgements.
        if state.outbox.isEmpty || state.acknowledgedSinceRewrite >= 1000 { state.rewriteDue = true }
        Self.recordSize(state)
        return changes(&state)
    }
}
