import MQTTBridge

/// The MQTT outbox: one row per commit (`outbox_events`), its messages packed by ``OutboxPacking``.
extension SQLiteStore {
    public func load() throws -> [OutboxEntry] {
        try locked {
            let below = UInt64(try meta(Self.outboxMark) ?? 0)
            var entries: [OutboxEntry] = []
            try database.run("SELECT entries FROM outbox_events ORDER BY first") { row in
                // Rows are written whole (SQLite transactions): only a damaged file has one that does not unpack. It
                // is skipped, as a torn line of the JSON outbox files was, and the other rows are read.
                entries += (OutboxPacking.unpack(row.bytes(0)) ?? []).filter { $0.sequence >= below }
            }
            // Sequences start again from 1 after this: an old mark must not hide them at the next start.
            if entries.isEmpty { try clearOutbox() }
            return entries
        }
    }

    /// One row, one INSERT for the entries committed together (one event's, or the events of one event loop tick;
    /// ascending sequences, not always consecutive).
    public func append(_ entries: [OutboxEntry]) throws {
        guard !entries.isEmpty else { return }
        try locked { try insert(entries) }
    }

    func insert(_ entries: [OutboxEntry]) throws {
        try database.run("INSERT OR REPLACE INTO outbox_events (first, last, entries) VALUES (?, ?, ?)",
                         [.int(Int64(entries[0].sequence)), .int(Int64(entries[entries.count - 1].sequence)), .blob(OutboxPacking.pack(entries))])
    }

    /// Everything older than `first` goes. Rows entirely older are deleted; in a row that holds both (a commit
    /// partly acknowledged) the older entries are hidden by a mark in `meta` (`outbox_acknowledged_below`) instead
    /// of the row being decoded and written again: a row holds the entries of a whole event loop tick, hundreds at
    /// saturation. Entries acknowledged out of order after the first stay until a later call passes them; after a
    /// restart they would be sent once more, which QoS 1 allows.
    public func dropAcknowledged(below first: UInt64?) throws {
        try locked {
            try database.transaction {
                guard let first = first.map({ Int64($0) }) else {
                    try clearOutbox()
                    return
                }
                try database.run("DELETE FROM outbox_events WHERE last < ?", [.int(first)])
                try setMeta(Self.outboxMark, first)
            }
        }
    }

    /// The `meta` key of the first outbox sequence not acknowledged: entries below it in a row are hidden.
    static let outboxMark = "outbox_acknowledged_below"

    func clearOutbox() throws {
        try database.run("DELETE FROM outbox_events")
        try database.run("DELETE FROM meta WHERE key = ?", [.text(Self.outboxMark)])
    }
}
