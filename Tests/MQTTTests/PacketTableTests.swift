import TestSupport
import Testing

@testable import MQTT

@Suite struct PacketTableTests {
    /// Ids handed out in sequence, a window of them in flight, acknowledged out of order: the table must agree with
    /// a dictionary throughout, across the wrap from 65,535 to 1 and through the growth a long-unacknowledged id
    /// forces.
    @Test func agreesWithADictionary() {
        var table = PacketTable<Int>(capacity: 4)
        var reference: [UInt16: Int] = [:]
        var generator = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        var next: UInt16 = 65_000
        let stuck: UInt16 = 65_001  // never acknowledged: ids come round past it in every size the table takes
        var live: [UInt16] = []  // ids in flight other than the stuck one, in the order they were sent
        for step in 0..<40_000 {
            if live.count < 40 || Bool.random(using: &generator) {
                let id = next
                next = next == .max ? 1 : next + 1
                table[id] = step
                reference[id] = step
                if id != stuck { live.append(id) }
            } else {
                let victim = live.remove(at: Int.random(in: 0..<live.count, using: &generator))
                if Bool.random(using: &generator) {
                    table[victim] = nil
                } else {
                    #expect(table.remove(victim) == reference[victim])
                    #expect(table.remove(victim) == nil)
                }
                reference[victim] = nil
            }
            if step % 997 == 0 {
                for id in reference.keys { #expect(table[id] == reference[id]) }
                #expect(table.count == reference.count)
            }
        }
        #expect(table[stuck] == reference[stuck] && table[stuck] != nil)
        #expect(table.values.sorted() == reference.values.sorted())
        #expect(table[next] == nil)
        table.removeAll()
        #expect(table.isEmpty && table[stuck] == nil && table.values.isEmpty)
    }
}
