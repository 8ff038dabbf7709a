import MQTTBridge

/// Outbox entries as bytes, for the store's rows: smaller than JSON lines and made without escaping.
///
/// Per entry: the sequence as its difference from the previous entry's (from 0 for the first), a flags byte (bit 0:
/// retained; bit 1: the topic is told relative to the entry two before rather than the one before), how many leading
/// bytes the topic shares with that entry's topic, the rest of the topic (its length, then its bytes), and the
/// payload (its length, then its bytes). Numbers are unsigned LEB128 varints. A MeterValues' topics alternate between
/// `<S>/connector/1/state/<parameter>` and `<S>/state/<parameter>`, so each shares all but its parameter with the one
/// two before: its 18 messages take about 425 bytes instead of about 1,500 as JSON lines, and a tick's row fewer
/// database pages.
enum OutboxPacking {
    /// Packs `entries`. Each topic's bytes are read once, in place, and the last two kept in two reused buffers to
    /// compare the next with (reading the strings again cost a reference count update each time, most of the
    /// packing's time).
    static func pack(_ entries: [OutboxEntry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.count * 32)
        var previous: UInt64 = 0
        var last: [UInt8] = [], beforeLast: [UInt8] = []
        last.reserveCapacity(128)
        beforeLast.reserveCapacity(128)
        for entry in entries {
            appendVarint(entry.sequence &- previous, to: &out)
            previous = entry.sequence
            var topic = entry.topic
            topic.withUTF8 { topic in
                let shared = commonPrefix(topic, last), sharedTwoBack = commonPrefix(topic, beforeLast)
                let twoBack = sharedTwoBack > shared
                let prefix = twoBack ? sharedTwoBack : shared
                out.append((entry.retain ? 1 : 0) | (twoBack ? 2 : 0))
                appendVarint(UInt64(prefix), to: &out)
                appendBytes(UnsafeBufferPointer(rebasing: topic[prefix...]), to: &out)
                swap(&last, &beforeLast)
                last.removeAll(keepingCapacity: true)
                last.append(contentsOf: topic)
            }
            var payload = entry.payload
            payload.withUTF8 { appendBytes($0, to: &out) }
        }
        return out
    }

    /// The entries of `bytes`; nil when they are not a whole packing (damaged).
    static func unpack(_ bytes: some Collection<UInt8>) -> [OutboxEntry]? {
        var reader = Reader(bytes: Array(bytes))
        var entries: [OutboxEntry] = []
        var sequence: UInt64 = 0
        var before: ([UInt8], [UInt8]) = ([], [])
        while !reader.atEnd {
            guard let delta = reader.varint(), let flags = reader.byte(), flags & ~3 == 0, let prefix = reader.varint(),
                let rest = reader.field(), let payload = reader.field()
            else { return nil }
            let reference = flags & 2 != 0 ? before.0 : before.1
            guard prefix <= UInt64(reference.count) else { return nil }
            let topic = Array(reference[..<Int(prefix)]) + rest
            sequence &+= delta
            entries.append(OutboxEntry(sequence: sequence, topic: String(decoding: topic, as: UTF8.self),
                                       payload: String(decoding: payload, as: UTF8.self), retain: flags & 1 != 0))
            before = (before.1, topic)
        }
        return entries
    }

    /// How many leading bytes `a` and `b` share.
    static func commonPrefix(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Int {
        let limit = min(a.count, b.count)
        var count = 0
        while count < limit && a[count] == b[count] { count += 1 }
        return count
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// The length of `bytes`, then the bytes.
    static func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let byte = byte() else { return nil }
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte < 0x80 { return value }
            }
            return nil
        }

        /// A length and that many bytes.
        mutating func field() -> ArraySlice<UInt8>? {
            guard let count = varint(), count <= UInt64(bytes.count - position) else { return nil }
            defer { position += Int(count) }
            return bytes[position..<position + Int(count)]
        }
    }
}
