import CentralSystem
import NIOCore
import Synchronization

/// The charger messages one event loop handles in one tick, made durable together.
///
/// Every ``ChargerCallHandler`` of the loop hands its messages' events to the loop's ``DurableBatch``. A handler
/// whose message staged an event holds its answer and waits here; at the end of the tick (a task on the loop, which
/// runs after the tick's reads) the batch is committed, with one write to the outbox for all of them, and then the
/// answers are written. A charger is still answered only once its message's event is durable, but a loop that reads
/// fifty messages in a tick writes the outbox once instead of fifty times (docs/performance.md).
///
/// Confined to its event loop.
final class AnswerBatch {
    let durable = DurableBatch()
    private let eventLoop: any EventLoop
    private var waiting: [ChargerCallHandler] = []
    private var scheduled = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// `handler` holds answers until the batch is committed (which a staged event has scheduled): it is called
    /// back then, once.
    func hold(_ handler: ChargerCallHandler) {
        waiting.append(handler)
    }

    /// Events were staged: the commit is a task on the loop, which runs after the tick's reads.
    func commitAtTheEndOfTheTick() {
        guard !scheduled else { return }
        scheduled = true
        let batch = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { batch.value.commit() }
    }

    /// Makes the tick's events durable, then lets the handlers write their answers.
    func commit() {
        scheduled = false
        durable.commit()
        let handlers = waiting
        waiting = []
        for handler in handlers { handler.committed() }
    }
}

/// One ``AnswerBatch`` per event loop, made when a loop's first charger connects.
final class AnswerBatches: Sendable {
    private let batches = Mutex<[ObjectIdentifier: NIOLoopBound<AnswerBatch>]>([:])

    /// The batch of `eventLoop`; call it on that loop.
    func batch(for eventLoop: any EventLoop) -> AnswerBatch {
        batches.withLock { batches in
            if let batch = batches[ObjectIdentifier(eventLoop)] { return batch.value }
            let batch = AnswerBatch(eventLoop: eventLoop)
            batches[ObjectIdentifier(eventLoop)] = NIOLoopBound(batch, eventLoop: eventLoop)
            return batch
        }
    }
}
