/// The latest payload of every retained topic, with the order the topic first appeared in (republished in that order
/// after every reconnect). Pure: the publisher keeps it under its lock.
///
/// Removing a topic is O(1): with thousands of stations, a list of topics in order made each cleared topic (a
/// transaction's end, a disconnect) cost O(all topics). A connector's meter topics carry their entry with them
/// (``RetainedSlot``), updated without hashing the topic.
struct RetainedCache {
    /// A retained topic's latest payload and its order, held here, or in a slot its publications carry.
    private enum Retained {
        case value(payload: String, order: UInt64)
        case slot(RetainedSlot)

        var payload: String {
            switch self {
            case .value(let payload, _): payload
            case .slot(let slot): slot.payload
            }
        }

        var order: UInt64 {
            switch self {
            case .value(_, let order): order
            case .slot(let slot): slot.order
            }
        }
    }

    private var retained: [String: Retained] = [:]
    private var nextOrder: UInt64 = 0

    var count: Int { retained.count }

    /// Every topic and its latest payload, in the order the topics first appeared.
    var inOrder: [(topic: String, payload: String)] {
        retained.sorted { $0.value.order < $1.value.order }.map { ($0.key, $0.value.payload) }
    }

    /// The latest payload of `topic`, nil when none is held.
    func payload(of topic: String) -> String? {
        retained[topic]?.payload
    }

    /// Keeps `payload` as the latest of `topic` (a retained publication's; `cached` and `slot` as the publication's).
    /// An empty payload clears the topic, and an uncached one (a discovery config) is not held.
    mutating func remember(_ topic: String, _ payload: String, cached: Bool, slot: RetainedSlot?) {
        let clears = payload.isEmpty || !cached
        if let slot, slot.cached, !clears {
            // A meter reading: its slot is in the table, no lookup.
            slot.payload = payload
            return
        }
        if clears {
            if case .slot(let held)? = retained.removeValue(forKey: topic) { held.cached = false }
        } else if let index = retained.index(forKey: topic) {
            // One lookup (hashing the whole topic) for a topic seen before.
            let order = retained.values[index].order
            if case .slot(let held) = retained.values[index], slot == nil || slot === held {
                held.payload = payload
            } else if let slot {
                // The slot takes the topic's place (and its order) from a value or from an earlier slot.
                if case .slot(let held) = retained.values[index] { held.cached = false }
                retained.values[index] = .slot(Self.hold(slot, payload, order))
            } else {
                retained.values[index] = .value(payload: payload, order: order)
            }
        } else {
            retained[topic] = slot.map { .slot(Self.hold($0, payload, nextOrder)) } ?? .value(payload: payload, order: nextOrder)
            nextOrder += 1
        }
    }

    private static func hold(_ slot: RetainedSlot, _ payload: String, _ order: UInt64) -> RetainedSlot {
        slot.payload = payload
        slot.order = order
        slot.cached = true
        return slot
    }
}
