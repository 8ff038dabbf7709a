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
///
/// A sink may also take events in two steps, so that the events of many messages are made durable with one write:
/// ``stage(_:)`` takes the event in order and returns a mark, ``commit(through:)`` returns once every event staged
/// up to that mark is durable. The connection layer does this for the messages of one event loop tick (see
/// ``DurableBatch``) and answers them after the commit.
public protocol DurableEventSink: AnyObject, Sendable {
    /// Takes the event; it is durable when this returns.
    func deliver(_ event: CentralSystemEvent)
    /// Takes the event, in order with every other, without waiting for it to be durable. Returns the mark to pass
    /// to ``commit(through:)``, or nil when the event is durable already (or has nothing to keep).
    func stage(_ event: CentralSystemEvent) -> UInt64?
    /// Returns once every event staged up to `mark` is durable.
    func commit(through mark: UInt64)
}

extension DurableEventSink {
    public func stage(_ event: CentralSystemEvent) -> UInt64? {
        deliver(event)
        return nil
    }

    public func commit(through mark: UInt64) {}
}

/// The events of several messages handled on one thread, to be made durable together: the charger connection
/// layer passes one to ``CentralSystem/receiveSynchronously(_:on:batch:)`` for every message of an event loop tick,
/// holds the answers of the messages that staged something, calls ``commit()`` at the end of the tick, and only
/// then writes those answers. One write to the outbox then serves a tick's messages instead of one each.
///
/// Confined to the thread that uses it (not `Sendable`).
public final class DurableBatch {
    private var sink: (any DurableEventSink)?
    private var mark: UInt64 = 0
    /// How many events were staged into this batch since it was made: a message staged something when this moved.
    public private(set) var staged = 0

    public init() {}

    func add(_ mark: UInt64, of sink: any DurableEventSink) {
        if let current = self.sink, current !== sink { commit() }
        self.sink = sink
        self.mark = max(self.mark, mark)
        staged += 1
    }

    /// Returns once every event staged into the batch is durable; the batch is empty then.
    public func commit() {
        guard let sink else { return }
        let mark = self.mark
        self.sink = nil
        self.mark = 0
        sink.commit(through: mark)
    }
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

    /// Hands `event` to the sink (durable on return, or staged into `batch` when there is one) and to every
    /// subscriber.
    func emit(_ event: CentralSystemEvent, into batch: DurableBatch? = nil) {
        // Outside the locks: the sink does real work, and a stream being cancelled calls `onTermination`,
        // which takes the subscribers' lock.
        if let sink = sink.withLock({ $0 }) {
            if let batch {
                if let mark = sink.stage(event) { batch.add(mark, of: sink) }
            } else {
                sink.deliver(event)
            }
        }
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
