import Foundation
import OCPP

/// One message waiting for the broker's acknowledgement.
public struct OutboxEntry: Codable, Sendable, Hashable {
    public var sequence: UInt64
    public var topic: String
    public var payload: String
    public var retain: Bool

    public init(sequence: UInt64, topic: String, payload: String, retain: Bool) {
        self.sequence = sequence
        self.topic = topic
        self.payload = payload
        self.retain = retain
    }

    private enum CodingKeys: String, CodingKey {
        case sequence = "s", topic = "t", payload = "p", retain = "r"
    }

    /// `{"s":1,"t":"topic","p":"payload","r":true}` and a newline per entry, written by hand into one buffer of
    /// UTF-8: the format of `outbox.jsonl` (``FileOutbox``) and of the store's outbox rows before schema 5 (now
    /// ``OutboxPacking``).
    public static func lines(_ entries: some Sequence<OutboxEntry>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.underestimatedCount * 112)
        for entry in entries {
            out.append(contentsOf: #"{"s":"#.utf8)
            out.append(contentsOf: String(entry.sequence).utf8)
            out.append(contentsOf: #","t":"#.utf8)
            JSONString.append(entry.topic, to: &out)
            out.append(contentsOf: #","p":"#.utf8)
            JSONString.append(entry.payload, to: &out)
            out.append(contentsOf: (entry.retain ? #","r":true}"# : #","r":false}"#).utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The entries of `line`s; a line torn by a crash is skipped.
    public static func entries(inLines data: some Collection<UInt8>) -> [OutboxEntry] {
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(OutboxEntry.self, from: Data($0)) }
    }
}

/// Outbox entries as bytes, for the store's rows: smaller than JSON lines and made without escaping.
///
/// Per entry: the sequence as its difference from the previous entry's (from 0 for the first), a flags byte (bit 0:
/// retained; bit 1: the topic is told relative to the entry two before rather than the one before), how many leading
/// bytes the topic shares with that entry's topic, the rest of the topic (its length, then its bytes), and the
/// payload (its length, then its bytes). Numbers are unsigned LEB128 varints. A MeterValues' topics alternate between
/// `<S>/connector/1/state/<parameter>` and `<S>/state/<parameter>`, so each shares all but its parameter with the one
/// two before: its 18 messages take about 425 bytes instead of about 1,500 as JSON lines, and a tick's row fewer
/// database pages.
public enum OutboxPacking {
    /// Packs `entries`. Each topic's bytes are read once, in place, and the last two kept in two reused buffers to
    /// compare the next with (reading the strings again cost a reference count update each time, most of the
    /// packing's time).
    @inlinable public static func pack(_ entries: [OutboxEntry]) -> [UInt8] {
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
    public static func unpack(_ bytes: some Collection<UInt8>) -> [OutboxEntry]? {
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
    @inlinable static func commonPrefix(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Int {
        let limit = min(a.count, b.count)
        var count = 0
        while count < limit && a[count] == b[count] { count += 1 }
        return count
    }

    @inlinable static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// The length of `bytes`, then the bytes.
    @inlinable static func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
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

/// Where messages wait until the broker acknowledges them, so outages and restarts lose none.
/// Used by one owner at a time (the publisher, under its lock).
// Class-bound on purpose: with two non-class existentials (address-only) in MQTTBridgeConfiguration, returned through
// the typed-throws configuration loaders, Swift 6.3.1's debug build corrupted an async task context (a SIGSEGV
// jumping to 0x5 in ConfigurationTests). Class-bound existentials are plain references and avoid it.
public protocol OutboxStore: AnyObject, Sendable {
    /// The entries kept from before (after a restart), oldest first.
    func load() throws -> [OutboxEntry]
    /// Keeps `entries` (those committed together: one event's, or several events' staged in one tick; ascending
    /// sequences), all or none where the store can.
    func append(_ entries: [OutboxEntry]) throws
    /// Drops the entries before `first`, the oldest one not acknowledged (nil: every entry was acknowledged).
    /// Entries acknowledged out of order after it may stay until a later call passes them; after a restart they
    /// are sent once more, which QoS 1 allows.
    func dropAcknowledged(below first: UInt64?) throws
}

/// The outbox as `outbox.jsonl` in DATA_DIR: one line per message, appended; rewritten with only the
/// unacknowledged entries from time to time. Appends are not synced to the disk one by one: the outbox survives
/// the process being killed (the data is in the kernel's cache), not a power cut in the same second.
public final class FileOutbox: OutboxStore, @unchecked Sendable {
    // @unchecked: used only under the publisher's lock.
    public let path: String
    private var handle: FileHandle?

    public init(path: String) {
        self.path = path
    }

    public func load() throws -> [OutboxEntry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return OutboxEntry.entries(inLines: data)
    }

    public func append(_ entries: [OutboxEntry]) throws {
        guard !entries.isEmpty else { return }
        if handle == nil {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let opened = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            let end = try opened.seekToEnd()
            if end > 0 {
                try opened.seek(toOffset: end - 1)
                if try opened.read(upToCount: 1) != Data("\n".utf8) { try opened.write(contentsOf: Data("\n".utf8)) }
                try opened.seekToEnd()
            }
            handle = opened
        }
        try handle!.write(contentsOf: Data(OutboxEntry.lines(entries)))
    }

    public func dropAcknowledged(below first: UInt64?) throws {
        let kept = try first.map { first in try load().filter { $0.sequence >= first } } ?? []
        try? handle?.close()
        handle = nil
        try Data(OutboxEntry.lines(kept)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// An outbox in memory, for tests and for running without a data directory.
public final class MemoryOutbox: OutboxStore, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [OutboxEntry]

    public init(_ entries: [OutboxEntry] = []) {
        self.entries = entries
    }

    public func load() throws -> [OutboxEntry] { lock.withLock { entries } }
    public func append(_ entries: [OutboxEntry]) throws { lock.withLock { self.entries += entries } }
    public func dropAcknowledged(below first: UInt64?) throws {
        lock.withLock { entries.removeAll { entry in first.map { entry.sequence < $0 } ?? true } }
    }
}
