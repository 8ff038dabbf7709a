import TestSupport
import Testing

@testable import MQTTBridge

@Suite struct InFlightQueueTests {
    /// Ids handed out with gaps (publishes the outbox does not track) and across the wrap past Int32.max,
    /// acknowledged mostly in order, sometimes out of order, with unknown ids among them: the queue must agree
    /// with a dictionary.
    @Test func agreesWithADictionary() {
        var queue = InFlightQueue()
        var reference: [Int32: UInt64] = [:]
        var generator = SplitMix64(seed: 0x2545_F491_4F6C_DD1D)
        var nextID = Int32.max - 3000
        var nextSequence: UInt64 = 1
        var sent: [Int32] = []  // in order, acknowledged ones removed
        for _ in 0..<20_000 {
            if sent.count < 50 || Int.random(in: 0..<3, using: &generator) == 0 {
                // A gap now and then: ids taken by publishes the outbox does not track.
                let step = Int32.random(in: 1...3, using: &generator)
                for _ in 0..<step { nextID = nextID == .max ? 1 : nextID + 1 }
                queue.append(id: nextID, sequence: nextSequence)
                reference[nextID] = nextSequence
                sent.append(nextID)
                nextSequence += 1
            } else {
                let pick = Int.random(in: 0..<10, using: &generator)
                let id: Int32 = switch pick {
                case 0: sent[Int.random(in: 0..<sent.count, using: &generator)]  // out of order
                case 1: sent[0] == 1 ? .max : sent[0] - 1  // older than everything: gone or never tracked
                case 2: nextID == .max ? 1 : nextID + 1  // not handed out yet
                default: sent[0]  // the usual: the oldest
                }
                #expect(queue.remove(id: id) == reference.removeValue(forKey: id), "id \(id)")
                sent.removeAll { $0 == id }
            }
            #expect(queue.count == reference.count)
        }
        #expect(nextID < Int32.max - 3000, "the ids wrapped")
        let keep = Set(reference.values.filter { $0 % 2 == 0 })
        queue.filter { keep.contains($0) }
        for (id, sequence) in reference {
            #expect(queue.remove(id: id) == (keep.contains(sequence) ? sequence : nil))
        }
        #expect(queue.count == 0)
        queue.append(id: 5, sequence: 9)
        queue.removeAll()
        #expect(queue.remove(id: 5) == nil && queue.count == 0)
    }
}
