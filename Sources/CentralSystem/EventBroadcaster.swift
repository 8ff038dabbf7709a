import Foundation
import Synchronization

/// Hands every event to every current subscriber, in order, without dropping any.
///
/// One subscriber may be durable: it confirms each charger message event once it has made it durable (the MQTT
/// bridge, once the event is in its outbox), and the central system holds the charger's answer until then, so an
/// answered message is never lost with the process.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<CentralSystemEvent>.Continuation]>([:])
    private let durable = Mutex<Durable>(Durable())

    private struct Durable {
        var continuation: AsyncStream<SequencedEvent>.Continuation?
        var next: UInt64 = 1
        var confirmed: UInt64 = 0
        /// Answers waiting for their event's confirmation, by sequence (one event, one waiter).
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    func subscribe() -> AsyncStream<CentralSystemEvent> {
        let (stream, continuation) = AsyncStream<CentralSystemEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = UUID()
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    func subscribeDurably() -> AsyncStream<SequencedEvent> {
        let (stream, continuation) = AsyncStream<SequencedEvent>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] _ in self?.releaseAll() }
        durable.withLock { $0.continuation = continuation }
        return stream
    }

    /// Emits an event; returns the sequence number to wait for when a durable subscriber must confirm it.
    @discardableResult
    func emit(_ event: CentralSystemEvent, confirm: Bool = false) -> UInt64? {
        // Yield outside the locks: a stream being cancelled calls `onTermination`, which takes them.
        let (durableContinuation, sequence) = durable.withLock { state -> (AsyncStream<SequencedEvent>.Continuation?, UInt64) in
            defer { state.next += 1 }
            return (state.continuation, state.next)
        }
        durableContinuation?.yield(SequencedEvent(sequence: sequence, event: event))
        if let others = subscribers.withLock({ $0.isEmpty ? nil : Array($0.values) }) {
            for continuation in others { continuation.yield(event) }
        }
        return confirm && durableContinuation != nil ? sequence : nil
    }

    /// Returns once the durable subscriber has confirmed `sequence` (at once when there is none).
    func waitUntilConfirmed(_ sequence: UInt64) async {
        await withCheckedContinuation { continuation in
            let done = durable.withLock { state -> Bool in
                if state.continuation == nil || state.confirmed >= sequence { return true }
                state.waiters[sequence] = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    func confirm(upTo sequence: UInt64) {
        let ready = durable.withLock { state -> [CheckedContinuation<Void, Never>] in
            // Confirmations come for every event in order, so this visits each sequence once over time.
            guard sequence > state.confirmed else { return [] }
            var ready: [CheckedContinuation<Void, Never>] = []
            if state.waiters.isEmpty {
                state.confirmed = sequence
                return ready
            }
            for confirmed in (state.confirmed + 1)...sequence {
                if let waiter = state.waiters.removeValue(forKey: confirmed) { ready.append(waiter) }
            }
            state.confirmed = sequence
            return ready
        }
        ready.forEach { $0.resume() }
    }

    /// The durable subscriber is gone: nobody waits for it any more.
    private func releaseAll() {
        let all = durable.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.continuation = nil
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        all.forEach { $0.resume() }
    }

    func finish() {
        let all = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in all { continuation.finish() }
        durable.withLock { $0.continuation }?.finish()
        releaseAll()
    }
}

/// An event with its place in the order of all events, for the durable subscriber's confirmations.
public struct SequencedEvent: Sendable {
    public var sequence: UInt64
    public var event: CentralSystemEvent
}
