/// Values by MQTT packet id, without hashing: a slot per id modulo a power of two.
///
/// The client hands out packet ids in sequence and at most a window's worth are in flight, so ids a window apart
/// land in different slots. When an id finds its slot taken by another (a message that stayed unacknowledged while
/// the ids came round), the table doubles until every id has a slot of its own: at 65,536 slots each id has one.
struct PacketTable<Value> {
    private var slots: [(id: UInt16, value: Value)?]
    private(set) var count = 0

    init(capacity: Int = 64) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0 && capacity <= 1 << 16)
        slots = Array(repeating: nil, count: capacity)
    }

    var isEmpty: Bool { count == 0 }

    subscript(id: UInt16) -> Value? {
        get {
            guard let slot = slots[index(id)], slot.id == id else { return nil }
            return slot.value
        }
        set {
            if let newValue { insert(id, newValue) } else { _ = remove(id) }
        }
    }

    /// Takes the value of `id` out of the table: moved out, not copied.
    mutating func remove(_ id: UInt16) -> Value? {
        let index = index(id)
        guard slots[index]?.id == id else { return nil }
        var taken: (id: UInt16, value: Value)?
        swap(&taken, &slots[index])
        count -= 1
        return taken.map { $0.value }
    }

    /// Every value, in no particular order.
    var values: [Value] {
        slots.compactMap { $0?.value }
    }

    mutating func removeAll() {
        if count > 0 { slots = Array(repeating: nil, count: slots.count) }
        count = 0
    }

    private func index(_ id: UInt16) -> Int {
        Int(id) & (slots.count - 1)
    }

    /// Puts `value` in as the value of `id` (moved in, not copied), replacing any it had.
    mutating func insert(_ id: UInt16, _ value: consuming Value) {
        while let slot = slots[index(id)], slot.id != id {
            grow()
        }
        if slots[index(id)] == nil { count += 1 }
        slots[index(id)] = (id, consume value)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        for case let (id, value)? in old {
            slots[index(id)] = (id, value)
        }
    }
}
