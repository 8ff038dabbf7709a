import Foundation
import Synchronization

/// Hands every event to every current subscriber, in order, without dropping any.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<CentralSystemEvent>.Continuation]>([:])

    func subscribe() -> AsyncStream<CentralSystemEvent> {
        let (stream, continuation) = AsyncStream<CentralSystemEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = UUID()
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    func emit(_ event: CentralSystemEvent) {
        // Yield outside the lock: a stream being cancelled calls `onTermination`, which takes it.
        for continuation in subscribers.withLock({ Array($0.values) }) {
            continuation.yield(event)
        }
    }

    func finish() {
        let all = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }
}
