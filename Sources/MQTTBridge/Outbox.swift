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
}

/// Where messages wait until the broker acknowledges them, so outages and restarts lose none.
/// Used by one owner at a time (the publisher, under its lock).
// Class-bound on purpose: with two non-class existentials (address-only) in MQTTBridgeConfiguration, returned through
// the typed-throws configuration loaders, Swift 6.3.1's debug build corrupted an async task context (a SIGSEGV
// jumping to 0x5 in ConfigurationTests). Class-bound existentials are plain references and avoid it.
public protocol OutboxStore: AnyObject, Sendable {
    /// The entries kept from before (after a restart), oldest first.
    func load() throws -> [OutboxEntry]
    /// Keeps `entries` (those of one event, all or none where the store can).
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
        let decoder = JSONDecoder()
        // A line torn by a crash is skipped.
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(OutboxEntry.self, from: Data($0)) }
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
        var data = Data()
        for entry in entries { data.append(Self.line(entry)) }
        try handle!.write(contentsOf: data)
    }

    public func rewrite(_ entries: some Collection<OutboxEntry>) throws {
        try? handle?.close()
        handle = nil
        var data = Data()
        for entry in entries { data.append(Self.line(entry)) }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// `{"s":1,"t":"topic","p":"payload","r":true}` and a newline, written by hand: this is on the publish path.
    static func line(_ entry: OutboxEntry) -> Data {
        let text = #"{"s":"# + String(entry.sequence) + #","t":"# + JSONString.quoted(entry.topic) + #","p":"#
            + JSONString.quoted(entry.payload) + (entry.retain ? #","r":true}"# : #","r":false}"#) + "\n"
        return Data(text.utf8)
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
