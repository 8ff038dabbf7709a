import Foundation
import Synchronization

/// Receives every event as it happens, on the thread that caused it: the MQTT bridge.
///
/// Charger messages are handed over before the charger is answered, so when ``deliver(_:)`` returns for a message
/// event, the sink must have made it durable (the bridge: written to its outbox). What a charger was answered is then
/// never lost with the process, and an answer costs no hand-off to another task.
///
/// Calls may come from several threads at once (one per charger connection); the sink orders them itself.
/// It must not call back into the central system in a way that emits an event.
public protocol DurableEventSink: AnyObject, Sendable {
    func deliver(_ event: CentralSystemEvent)
}

/// Hands every event to the durable sink, synchronously, and to every stream subscriber, in order, without
/// dropping any.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<CentralSystemEvent>.Continuation]>([:])
    private let sink = Mutex<(any DurableEventSink)?>(nil)

    func subscribe() -> AsyncStream<CentralSystemEvent> {
        let (stream, continuation) = AsyncStream<CentralSystemEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = UUID()
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// Sets (or with `nil` removes) the durable sink.
    func setSink(_ sink: (any DurableEventSink)?) {
        self.sink.withLock { $0 = sink }
    }

    func emit(_ event: CentralSystemEvent) {
        // Outside the locks: the sink does real work, and a stream being cancelled calls `onTermination`,
        // which takes the subscribers' lock.
        sink.withLock { $0 }?.deliver(event)
        if let others = subscribers.withLock({ $0.isEmpty ? nil : Array($0.values) }) {
            for continuation in others { continuation.yield(event) }
        }
    }

    func finish() {
        let all = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in all { continuation.finish() }
        setSink(nil)
    }
}
