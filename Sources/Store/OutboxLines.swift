import Foundation
import MQTTBridge
import OCPP

/// Outbox entries as JSON lines: `{"s":1,"t":"topic","p":"payload","r":true}` and a newline per entry. The format
/// of `outbox.jsonl` (the file store of versions before the SQLite one) and of the store's outbox rows in schema 4.
/// Frozen: the migrations read (and schema 4's step writes) exactly this; today's rows are ``OutboxPacking``.
enum OutboxLines {
    /// The lines of `entries`, written by hand into one buffer of UTF-8.
    static func encode(_ entries: some Sequence<OutboxEntry>) -> [UInt8] {
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

    /// The entries of `data`'s lines; a line torn by a crash is skipped.
    static func decode(_ data: some Collection<UInt8>) -> [OutboxEntry] {
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            (try? decoder.decode(Line.self, from: Data(line))).map {
                OutboxEntry(sequence: $0.s, topic: $0.t, payload: $0.p, retain: $0.r)
            }
        }
    }

    /// One line, with the format's one-letter keys.
    private struct Line: Decodable {
        var s: UInt64
        var t: String
        var p: String
        var r: Bool
    }
}
