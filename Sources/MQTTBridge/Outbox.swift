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
    /// UTF-8 (the store binds it as text with its length: no string made of it, validated and measured again). This
    /// is on the publish path. Inlinable, so the store's call is specialised for its array (unspecialised, each
    /// entry came through the iterator's witness, copied).
    @inlinable public static func lines(_ entries: some Sequence<OutboxEntry>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.underestimatedCount * 112)
        for entry in entries {
            out.append(contentsOf: #"{"s":"#.utf8)
            appendDecimal(entry.sequence, to: &out)
            out.append(contentsOf: #","t":"#.utf8)
            JSONString.append(entry.topic, to: &out)
            out.append(contentsOf: #","p":"#.utf8)
            JSONString.append(entry.payload, to: &out)
            out.append(contentsOf: (entry.retain ? #","r":true}"# : #","r":false}"#).utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The digits of `value`, without making a string of them.
    @inlinable static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// The entries of `line`s; a line torn by a crash is skipped.
    public static func entries(inLines data: some Collection<UInt8>) -> [OutboxEntry] {
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(OutboxEntry.self, from: Data($0)) }
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
    /// Replaces the contents with `entries` (the ones still unacknowledged).
    func rewrite(_ entries: some Collection<OutboxEntry>) throws
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

    public func rewrite(_ entries: some Collection<OutboxEntry>) throws {
        try? handle?.close()
        handle = nil
        try Data(OutboxEntry.lines(entries)).write(to: URL(fileURLWithPath: path), options: .atomic)
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
    public func rewrite(_ entries: some Collection<OutboxEntry>) throws { lock.withLock { self.entries = Array(entries) } }
}
