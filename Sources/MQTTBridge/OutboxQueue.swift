/// The unacknowledged entries in sequence order. Acknowledgements come mostly for the oldest entry, which
/// ``FrontQueue`` takes in O(1).
struct OutboxQueue {
    private var entries: FrontQueue<OutboxEntry>
    /// The entries' ``OutboxEntry/size``, summed: what ``OutboxLimits/bytes`` bounds.
    private(set) var bytes = 0

    init(_ entries: [OutboxEntry] = []) {
        self.entries = FrontQueue(entries)
        bytes = entries.reduce(0) { $0 + $1.size }
    }

    /// The entries, oldest first.
    var pending: ArraySlice<OutboxEntry> { entries.elements }
    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var last: OutboxEntry? { entries.elements.last }

    mutating func append(_ entry: OutboxEntry) {
        entries.append(entry)
        bytes += entry.size
    }

    /// Removes the entry with `sequence`; false when there is none.
    mutating func remove(sequence: UInt64) -> Bool {
        let position = self.position(of: sequence)
        guard let entry = entries.element(at: position), entry.sequence == sequence else { return false }
        bytes -= entry.size
        entries.remove(at: position)
        return true
    }

    func contains(sequence: UInt64) -> Bool {
        entries.element(at: position(of: sequence))?.sequence == sequence
    }

    private func position(of sequence: UInt64) -> Int {
        entries.elements.first?.sequence == sequence ? entries.startPosition : entries.partitionPoint { $0.sequence >= sequence }
    }

    /// The position of the first entry whose sequence is above `sequence` (positions are valid until the next
    /// change).
    func position(after sequence: UInt64) -> Int {
        entries.partitionPoint { $0.sequence > sequence }
    }

    func entry(at position: Int) -> OutboxEntry? {
        entries.element(at: position)
    }
}

extension OutboxEntry {
    /// What the entry costs the outbox, in bytes: its topic and payload and about what a row adds to them.
    var size: Int { topic.utf8.count + payload.utf8.count + 32 }
}

/// How much the outbox may hold (``StatePublisher``): past either bound, transaction-related messages go unanswered.
public struct OutboxLimits: Sendable, Hashable {
    /// `OUTBOX_MAX_MESSAGES`.
    public var messages: Int
    /// `OUTBOX_MAX_BYTES`: topics and payloads, and 32 bytes per message for what a store row adds.
    public var bytes: Int

    public init(messages: Int = 1_000_000, bytes: Int = 256 << 20) {
        self.messages = max(10, messages)
        self.bytes = max(1024, bytes)
    }
}

/// The outbox entries handed to the MQTT client and not acknowledged yet: (message id, sequence) in the order they
/// were handed over, which is also the order of their message ids (the client numbers publishes in sequence,
/// wrapping past `Int32.max`). The broker acknowledges QoS 1 publishes in the order it got them (MQTT 3.1.1 section
/// 4.6), so an acknowledgement is nearly always the oldest entry's; any other is found by binary search, and a
/// message id that is not here (a publish the outbox did not track) costs the same. No hashing.
struct InFlightQueue {
    private var entries = FrontQueue<(id: Int32, sequence: UInt64)>()

    var count: Int { entries.count }

    mutating func append(id: Int32, sequence: UInt64) {
        entries.append((id, sequence))
    }

    /// Removes the entry of message id `id` and returns its sequence; nil when there is none.
    mutating func remove(id: Int32) -> UInt64? {
        guard let oldest = entries.elements.first?.id else { return nil }
        // Distances from the oldest id, in the order ids were given out, wrapping included.
        let target = UInt32(bitPattern: id &- oldest)
        let position = target == 0 ? entries.startPosition
            : entries.partitionPoint { UInt32(bitPattern: $0.id &- oldest) >= target }
        guard let entry = entries.element(at: position), entry.id == id else { return nil }
        entries.remove(at: position)
        return entry.sequence
    }

    /// Keeps only the entries whose sequence `keep` accepts.
    mutating func filter(sequence keep: (UInt64) -> Bool) {
        entries.filter { keep($0.sequence) }
    }

    mutating func removeAll() {
        entries.removeAll()
    }
}

/// An array consumed mostly from the front: taking the oldest element moves a start index instead of every other
/// element, and the storage is compacted once the part taken is at least half of it and 64 elements (amortised O(1)
/// per element taken; measured in docs/performance.md). Positions count from the storage's start and are valid until
/// the next change.
struct FrontQueue<Element> {
    private var storage: [Element]
    private var head = 0

    init(_ elements: [Element] = []) {
        storage = elements
    }

    /// The elements, oldest first.
    var elements: ArraySlice<Element> { storage[head...] }
    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    /// The oldest element's position.
    var startPosition: Int { head }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    func element(at position: Int) -> Element? {
        position >= head && position < storage.count ? storage[position] : nil
    }

    /// The first position whose element `isAtOrPast` accepts (the end when none does), for a predicate that is
    /// false and then true along the queue: a binary search.
    func partitionPoint(_ isAtOrPast: (Element) -> Bool) -> Int {
        var low = head, high = storage.count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrPast(storage[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Removes the element at `position`: O(1) for the oldest, O(n) elsewhere.
    mutating func remove(at position: Int) {
        guard position == head else {
            storage.remove(at: position)
            return
        }
        head += 1
        compactIfWorthIt()
    }

    /// Drops the oldest `count` elements.
    mutating func removeFirst(_ count: Int) {
        head += min(count, self.count)
        compactIfWorthIt()
    }

    mutating func filter(_ keep: (Element) -> Bool) {
        storage = elements.filter(keep)
        head = 0
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    private mutating func compactIfWorthIt() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}

extension FrontQueue: Sendable where Element: Sendable {}
