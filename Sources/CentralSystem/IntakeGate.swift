import Synchronization

/// Back-pressure from the MQTT side to the chargers: while a broker that is alive (it acknowledges) takes messages
/// more slowly than chargers send them, the gateway stops reading from chargers, so their answers come later and
/// (keeping to OCPP-J's one outstanding CALL) they send more slowly, at the broker's pace. A broker that stops
/// acknowledging altogether (hung) does not pause it: then the outbox takes what chargers send, up to its bounds
/// (``DurabilityGate``).
///
/// The MQTT bridge pauses and resumes the gate; each charger connection asks before it reads more.
public final class IntakeGate: Sendable {
    /// Read without the lock on every read; changed only under it.
    private let open = Atomic(true)
    private let waiting = Mutex<[@Sendable () -> Void]>([])
    private let pauses = Atomic(0)

    public init() {}

    public var isOpen: Bool { open.load(ordering: .acquiring) }

    /// How many times the gate was paused so far. A connection that waits for a pong compares it: a pong that came
    /// while reading was paused cannot have been read, so the peer is not dead.
    public var pauseCount: Int { pauses.load(ordering: .acquiring) }

    /// True when reading may go on. Otherwise `resume` is kept and called once, on the thread that opens the gate.
    public func admit(orWhenOpen resume: @escaping @Sendable () -> Void) -> Bool {
        if open.load(ordering: .acquiring) { return true }
        return waiting.withLock { waiting in
            if open.load(ordering: .acquiring) { return true }
            waiting.append(resume)
            return false
        }
    }

    public func pause() {
        waiting.withLock { _ in
            pauses.add(1, ordering: .releasing)
            open.store(false, ordering: .releasing)
        }
    }

    public func resume() {
        let resumed = waiting.withLock { waiting in
            open.store(true, ordering: .releasing)
            defer { waiting = [] }
            return waiting
        }
        for resume in resumed { resume() }
    }
}
