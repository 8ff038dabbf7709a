import OCPP
import Synchronization

/// Who may control a shared charger now (issue 22): one backend at a time holds control of a station, claimed by its
/// first control action and released after `idle` without one, at the end of the session it started, or at once
/// when the charger reports a fault. A preferred backend may take control from another; a blocked one never gets it;
/// each backend keeps a minimum interval between its control actions. Pure: the clock is the caller's.
///
/// The owner is not arbitrated: local MQTT commands never ask, and the owner's override refuses every backend's control
/// before this is asked.
struct ControlArbiter: Sendable {
    struct Rules: Sendable, Hashable {
        var idle: Duration = .seconds(600)
        var preferred: Set<String> = []
        var blocked: Set<String> = []
        var minimumInterval: Duration = .zero
    }

    enum Verdict: Sendable, Equatable {
        case granted
        /// Refused, why, and who holds control (nil: nobody).
        case refused(String, holder: String?)
    }

    /// The control actions (the rest are reads, or exclusive actions with one sender per station).
    static let controlActions: Set<String> = [
        Action.remoteStartTransaction, .remoteStopTransaction, .setChargingProfile, .clearChargingProfile, .changeAvailability,
        .unlockConnector,
    ].reduce(into: ["RequestStartTransaction", "RequestStopTransaction"]) { $0.insert($1.rawValue) }  // and 2.0.1's names

    let rules: Rules
    private(set) var holder: String?
    private var lastUse: ContinuousClock.Instant?
    private var lastAction: [String: ContinuousClock.Instant] = [:]
    /// The holder's remote start the charger accepted, waiting for its StartTransaction.
    private var startPending = false
    /// The transaction the holder started: its stop releases control.
    private var session: Int?

    init(rules: Rules) {
        self.rules = rules
    }

    /// A backend's control action: granted (the backend holds control now) or refused.
    mutating func request(_ action: String, from backend: String, at now: ContinuousClock.Instant) -> Verdict {
        if rules.blocked.contains(backend) { return .refused("\(backend) may not control this charger", holder: holder) }
        if let last = lastAction[backend], now - last < rules.minimumInterval {
            return .refused("\(backend) sent a control action less than \(rules.minimumInterval) ago", holder: holder)
        }
        if let holder, holder != backend, let lastUse, now - lastUse >= rules.idle { release() }
        if let holder, holder != backend {
            guard rules.preferred.contains(backend), !rules.preferred.contains(holder) else {
                return .refused("\(holder) holds control of this charger", holder: holder)
            }
            release()  // a preferred backend takes control
        }
        holder = backend
        lastUse = now
        lastAction[backend] = now
        if action == Action.remoteStartTransaction.rawValue || action == "RequestStartTransaction" { startPending = true }
        return .granted
    }

    /// The charger declined a granted remote start: no session will come of it.
    mutating func remoteStartDeclined() {
        startPending = false
    }

    /// A transaction started on the charger: the holder's, when it follows its accepted remote start.
    mutating func transactionStarted(_ id: Int) {
        guard startPending else { return }
        startPending = false
        session = id
    }

    /// A transaction ended: the end of the holder's session releases control.
    mutating func transactionStopped(_ id: Int) {
        if session == id { release() }
    }

    /// The charger reported a fault: nobody holds control.
    mutating func faulted() {
        release()
    }

    /// Releases control held idle for `idle` (asked every second, so that who holds control is shown right).
    mutating func expire(at now: ContinuousClock.Instant) {
        if holder != nil, let lastUse, now - lastUse >= rules.idle { release() }
    }

    private mutating func release() {
        holder = nil
        lastUse = nil
        startPending = false
        session = nil
    }
}

/// A station's ``ControlArbiter``, shared by its backends' connections and fed by the charger's messages.
final class StationControl: Sendable {
    private let arbiter: Mutex<ControlArbiter>
    /// Called (outside the lock) with the new holder when it changed (nil: nobody).
    private let changed: @Sendable (String?) -> Void

    init(rules: ControlArbiter.Rules, changed: @escaping @Sendable (String?) -> Void) {
        arbiter = Mutex(ControlArbiter(rules: rules))
        self.changed = changed
    }

    /// Runs `body` on the arbiter and reports a change of holder.
    private func update<T>(_ body: (inout ControlArbiter) -> T) -> T {
        let (result, before, after) = arbiter.withLock { arbiter in
            let before = arbiter.holder
            let result = body(&arbiter)
            return (result, before, arbiter.holder)
        }
        if before != after { changed(after) }
        return result
    }

    func request(_ action: String, from backend: String) -> ControlArbiter.Verdict {
        update { $0.request(action, from: backend, at: .now) }
    }

    func remoteStartDeclined() { update { $0.remoteStartDeclined() } }

    func expire() { update { $0.expire(at: .now) } }

    /// A charger message the station's relay took: starts, stops and faults move control.
    func saw(_ call: Call, action: Action, answer: RawJSON?) {
        switch action {
        case .startTransaction:
            if let id = answer?.integer(at: ["transactionId"]) { update { $0.transactionStarted(id) } }
        case .stopTransaction:
            if let id = call.payload.integer(at: ["transactionId"]) { update { $0.transactionStopped(id) } }
        case .statusNotification:
            if call.payload.string(at: ["status"]) == "Faulted" { update { $0.faulted() } }
        default:
            break
        }
    }
}
