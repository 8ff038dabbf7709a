import CentralSystem
import Logging
import Metrics

/// The publisher's two gates on the central system: the ``DurabilityGate`` (closed while the outbox is at a bound or
/// its store cannot write: transaction messages go unanswered) and the ``IntakeGate`` (paused while a live broker falls
/// behind), with the store's failed writes kept and tried again.
extension StatePublisher {
    /// What the gates must do now: the durability gate's change, and the intake gate's (true: pause, false: resume).
    struct Changes {
        var gate: GateChange?
        var intake: Bool?
    }

    func changes(_ state: inout State) -> Changes {
        Changes(gate: Self.gateChange(&state, limits: limits, hasGate: gate != nil), intake: intakeChange(&state))
    }

    /// Whether the intake gate must be paused (true) or resumed (false) now; nil when it stays as it is.
    func intakeChange(_ state: inout State) -> Bool? {
        guard intake != nil else { return nil }
        let outstanding = state.inFlight.count + state.unrecorded > 0
        let alive = !outstanding || state.lastAcknowledged.map { now() - $0 < Self.brokerSilence } ?? false
        let pause = state.connected && alive
            && (state.intakePaused ? state.outbox.count > Self.intakeResumeLevel : state.outbox.count >= Self.intakePauseLevel)
        guard pause != state.intakePaused else { return nil }
        state.intakePaused = pause
        return pause
    }

    /// Checks the broker's liveness (the bridge calls it every second): a broker that went silent releases the pause.
    func tick() {
        let change = state.withLock { state in Changes(intake: intakeChange(&state)) }
        apply(change)
    }

    func apply(_ changes: Changes) {
        apply(changes.gate)
        guard let pause = changes.intake, let intake else { return }
        Self.intakePausedGauge.record(pause ? 1 : 0)
        if pause {
            intake.pause()
            logger.info("The broker falls behind: reading from chargers paused", metadata: [
                "mqtt.pause_level": "\(Self.intakePauseLevel)", "mqtt.resume_level": "\(Self.intakeResumeLevel)",
            ])
        } else {
            intake.resume()
            logger.info("Reading from chargers resumed")
        }
    }

    /// Writes kept entries to the store (holding `writer`); the error when it could not.
    func write(_ entries: [OutboxEntry]) -> (any Error)? {
        guard !entries.isEmpty else { return nil }
        do {
            try store.append(entries)
            return nil
        } catch {
            return error
        }
    }

    /// The entries a failed write left, without those the broker has acknowledged meanwhile; taken out of the state
    /// (a failing write puts them back with ``noteWrite(_:of:_:)``). Called holding `writer`.
    func pendingUnwritten(_ state: inout State) -> [OutboxEntry] {
        guard !state.unwritten.isEmpty else { return [] }
        defer { state.unwritten = [] }
        return state.unwritten.filter { state.outbox.contains(sequence: $0.sequence) }
    }

    /// Records how a write of `attempted` went (holding `writer`, so nothing else took `unwritten` meanwhile): a
    /// failure keeps those entries for the next write and is logged once per episode, as is the recovery.
    func noteWrite(_ failure: (any Error)?, of attempted: [OutboxEntry], _ state: inout State) {
        if let failure {
            state.unwritten = attempted
            guard !state.storeFailing else { return }
            state.storeFailing = true
            Self.storeFailingGauge.record(1)
            logger.error("Cannot write to the outbox: StartTransaction, StopTransaction and MeterValues go unanswered until it can (chargers send them again)", metadata: [
                "error": "\(failure)", "mqtt.outbox": "\(state.outbox.count)",
            ])
        } else if state.storeFailing, state.unwritten.isEmpty {
            state.storeFailing = false
            Self.storeFailingGauge.record(0)
            logger.notice("The outbox can be written again")
        }
    }

    /// Tries again to write what a failed write left (the bridge calls it every few seconds): when nothing else
    /// commits (transaction messages are not answered meanwhile), this is what finds the store writable again.
    func retryUnwritten() {
        let change = writer.withLock { _ -> GateChange? in
            let entries = state.withLock { state -> [OutboxEntry]? in
                state.storeFailing ? pendingUnwritten(&state) : nil
            }
            guard let entries else { return nil }
            let failure = write(entries)
            return state.withLock { state in
                noteWrite(failure, of: entries, &state)
                return Self.gateChange(&state, limits: limits, hasGate: gate != nil)
            }
        }
        apply(change)
        handOverQueued()
    }

    /// Whether the store took the last write.
    var storeWritable: Bool { state.withLock { !$0.storeFailing } }

    /// The durability gate must close (with the reason for the log) or open again.
    enum GateChange {
        case close(reason: String)
        case reopen
    }

    /// Whether the gate must close or reopen now; nil when it stays as it is. It closes at a bound or when the store
    /// fails, and reopens once the store writes and the outbox is under 90 % of both bounds (so it does not flap at
    /// the edge). Reopening queues the ordinary retained state held back meanwhile.
    static func gateChange(_ state: inout State, limits: OutboxLimits, hasGate: Bool) -> GateChange? {
        guard hasGate else { return nil }
        if !state.gateClosed {
            let reason: String? = if state.storeFailing {
                "the store cannot write"
            } else if state.outbox.count >= limits.messages {
                "it holds OUTBOX_MAX_MESSAGES (\(limits.messages)) messages"
            } else if state.outbox.bytes >= limits.bytes {
                "it holds OUTBOX_MAX_BYTES (\(limits.bytes)) bytes"
            } else {
                nil
            }
            guard let reason else { return nil }
            state.gateClosed = true
            return .close(reason: reason)
        }
        guard !state.storeFailing, state.outbox.count <= limits.messages / 10 * 9, state.outbox.bytes <= limits.bytes / 10 * 9 else {
            return nil
        }
        state.gateClosed = false
        return .reopen
    }

    /// Closes or opens the gate, outside the state lock; an opening also sends the retained state held back.
    func apply(_ change: GateChange?) {
        guard let change, let gate else { return }
        switch change {
        case .close(let reason):
            gate.close()
            Self.fullGauge.record(1)
            logger.warning("Outbox full: StartTransaction, StopTransaction and MeterValues go unanswered until it has room (chargers keep and resend them)", metadata: [
                "mqtt.outbox_full_because": "\(reason)",
            ])
        case .reopen:
            let republished = state.withLock { state -> Int in
                guard state.retainedDeferred else { return 0 }
                state.retainedDeferred = false
                return queueRetained(&state)
            }
            gate.reopen()
            Self.fullGauge.record(0)
            logger.notice("The outbox has room again: transaction messages are answered", metadata: [
                "mqtt.retained_topics_sent": "\(republished)",
            ])
        }
    }

    static func recordSize(_ state: State) {
        queuedGauge.record(state.outbox.count)
        queuedBytesGauge.record(state.outbox.bytes)
    }
}
