import Synchronization

/// Whether the messages whose events must be kept can be answered now: StartTransaction, StopTransaction and
/// MeterValues, the messages OCPP 1.6 calls transaction-related.
///
/// The MQTT bridge closes it while its outbox is full (`OUTBOX_MAX_BYTES`, `OUTBOX_MAX_MESSAGES`) or its store
/// cannot write (a full disk), and opens it again once there is room. Meanwhile those messages get no answer: a
/// charger keeps an unanswered transaction-related message and sends it again (OCPP 1.6 section 3.7), so nothing it
/// was told is kept is lost, and the gateway never acknowledges what it could not keep. Every other message is
/// answered as usual, so connections, heartbeats and status go on.
public final class DurabilityGate: Sendable {
    /// Read without a lock on every transaction-related message.
    private let open = Atomic(true)
    private let closings = Atomic(0)

    public init() {}

    public var isOpen: Bool { open.load(ordering: .acquiring) }

    /// How many times the gate was closed so far (for tests and metrics).
    public var closeCount: Int { closings.load(ordering: .acquiring) }

    public func close() {
        if open.exchange(false, ordering: .acquiringAndReleasing) { closings.add(1, ordering: .releasing) }
    }

    public func reopen() {
        open.store(true, ordering: .releasing)
    }
}
