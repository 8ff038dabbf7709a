import OCPP
import Testing

@testable import CentralSystem

@Suite struct CallQueueTests {
    private func entry(_ id: String) -> CallQueue.Entry {
        CallQueue.Entry(messageID: id, action: "Reset", payload: .emptyObject)
    }

    @Test func sendsTheFirstAndQueuesTheRestInOrder() {
        var queue = CallQueue()
        #expect(queue.submit(entry("a")) == entry("a"))
        #expect(queue.submit(entry("b")) == nil)
        #expect(queue.submit(entry("c")) == nil)
        #expect(queue.finish(messageID: "a")?.next == entry("b"))
        #expect(queue.finish(messageID: "b")?.next == entry("c"))
        let last = queue.finish(messageID: "c")
        #expect(last?.ended == entry("c") && last?.next == nil)
        #expect(queue.outstanding == nil)
        #expect(queue.submit(entry("d")) == entry("d"))
    }

    @Test func ignoresAnswersToCallsThatAreNotOutstanding() {
        var queue = CallQueue()
        _ = queue.submit(entry("a"))
        _ = queue.submit(entry("b"))
        #expect(queue.finish(messageID: "b") == nil)
        #expect(queue.finish(messageID: "zzz") == nil)
        #expect(queue.outstanding == entry("a"))
    }

    @Test func drainEndsEverything() {
        var queue = CallQueue()
        _ = queue.submit(entry("a"))
        _ = queue.submit(entry("b"))
        #expect(queue.drain() == [entry("a"), entry("b")])
        #expect(queue.outstanding == nil && queue.waiting.isEmpty)
    }
}
