import CentralSystem
import Foundation
import MQTTBridge

/// The gateway's store: one SQLite database, `DATA_DIR/gateway.sqlite3`, in WAL mode, with the central system's
/// state, the transaction history, the MQTT outbox and the MQTT commands waiting for their station.
///
/// Writes touch only what changed. The schema is versioned (`PRAGMA user_version`) and migrated at open; a first
/// open imports the files of earlier versions (`state.json`, `transactions.jsonl`, `outbox.jsonl`), which are then
/// renamed `*.migrated`. Safe from several threads (one lock around the connection).
public final class SQLiteStore: StateStore, OutboxStore, CommandStore, @unchecked Sendable {
    public let path: String
    private let database: SQLiteDatabase
    private let lock = NSLock()

    static let schemaVersion = 5

    /// Opens (creating, migrating and importing as needed) the store in `directory`.
    /// - Throws: ``StateStoreError`` with a clear reason for an unwritable directory or a damaged database.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StateStoreError(description: "cannot create data directory '\(directory)': \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("gateway.sqlite3")
        do {
            database = try SQLiteDatabase(path: path)
            // Exclusive locking: the gateway is the database's only user, so it takes the file lock once instead of
            // with fcntl calls around every transaction (measured: docs/performance.md); a second gateway on the
            // same DATA_DIR is refused at start-up instead of sharing the files.
            try database.execute("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            try migrate(directory: directory)
        } catch {
            throw StateStoreError(description: "cannot use the database '\(path)': \(error)")
        }
    }

    private func migrate(directory: String) throws {
        let version = try database.userVersion
        guard version < Self.schemaVersion else {
            if version > Self.schemaVersion {
                throw SQLiteDatabase.Failure(description: "it was written by a newer version (schema \(version))")
            }
            return
        }
        try database.transaction {
            if version < 1 {
                try database.execute("""
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    CREATE TABLE stations (id TEXT PRIMARY KEY, charging_enabled INTEGER NOT NULL);
                    CREATE TABLE active_transactions (id INTEGER PRIMARY KEY, station TEXT NOT NULL, connector_id INTEGER NOT NULL,
                        id_tag TEXT NOT NULL, meter_start INTEGER NOT NULL, started_at INTEGER NOT NULL);
                    CREATE TABLE transactions (id INTEGER NOT NULL, station TEXT NOT NULL, connector_id INTEGER, id_tag TEXT,
                        meter_start INTEGER, meter_stop INTEGER NOT NULL, started_at INTEGER, stopped_at INTEGER NOT NULL,
                        stop_reason TEXT NOT NULL);
                    CREATE INDEX transactions_by_time ON transactions (stopped_at);
                    CREATE INDEX transactions_by_station ON transactions (station, stopped_at);
                    CREATE TABLE outbox (sequence INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, retain INTEGER NOT NULL);
                    """)
            }
            if version < 2 {
                // Version 2: each station's last known state.
                try database.execute("""
                    ALTER TABLE stations ADD COLUMN vendor TEXT;
                    ALTER TABLE stations ADD COLUMN model TEXT;
                    ALTER TABLE stations ADD COLUMN serial_number TEXT;
                    ALTER TABLE stations ADD COLUMN firmware_version TEXT;
                    ALTER TABLE stations ADD COLUMN last_seen INTEGER;
                    CREATE TABLE connector_status (station TEXT NOT NULL, connector INTEGER NOT NULL, status TEXT NOT NULL,
                        error_code TEXT NOT NULL, PRIMARY KEY (station, connector));
                    """)
            }
            if version < 3 {
                // Version 3: MQTT commands waiting for their station.
                try database.execute("""
                    CREATE TABLE pending_commands (id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT, name TEXT NOT NULL,
                        action TEXT NOT NULL, payload TEXT NOT NULL, request_id TEXT, state_parameter TEXT, state_value TEXT,
                        sent INTEGER NOT NULL);
                    """)
            }
            if version < 4 {
                // Version 4: the outbox keeps one row per event (its messages as JSON lines, sequences first to last)
                // instead of one per message: a MeterValues' 9 to 18 messages are one INSERT.
                var kept: [OutboxEntry] = []
                if version >= 1 {
                    try database.run("SELECT sequence, topic, payload, retain FROM outbox ORDER BY sequence") { row in
                        kept.append(OutboxEntry(sequence: UInt64(row.int(0) ?? 0), topic: row.text(1) ?? "", payload: row.text(2) ?? "",
                                                retain: row.int(3) != 0))
                    }
                }
                try database.execute("""
                    DROP TABLE IF EXISTS outbox;
                    CREATE TABLE outbox_events (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, entries TEXT NOT NULL);
                    """)
                if !kept.isEmpty { try insert(kept) }
            }
            if version == 4 {
                // Version 5: each row's messages packed as bytes (``OutboxPacking``), about a third of the JSON lines'
                // size. Rows of version 4 are rewritten so; a version 4 gateway refuses the store from then on
                // rather than reading rows it does not understand.
                var rows: [[OutboxEntry]] = []
                try database.run("SELECT entries FROM outbox_events ORDER BY first") { row in
                    rows.append(OutboxEntry.entries(inLines: row.bytes(0)))
                }
                try database.execute("DELETE FROM outbox_events")
                for entries in rows where !entries.isEmpty { try insert(entries) }
            }
            if version < 1 {
                try importFiles(from: directory)
            }
            try database.execute("PRAGMA user_version = \(Self.schemaVersion)")
        }
    }

    /// Brings in what the file store of earlier versions kept.
    private func importFiles(from directory: String) throws {
        let files = try FileStateStore(directory: directory)
        let state = try files.load()
        try write(state, changes: .everything)
        for transaction in try files.history(station: nil, since: nil) { try insert(transaction) }
        let outboxPath = (directory as NSString).appendingPathComponent("outbox.jsonl")
        let outbox = try FileOutbox(path: outboxPath).load()
        if !outbox.isEmpty { try insert(outbox) }
        for file in [files.url.path, files.historyURL.path, outboxPath] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.moveItem(atPath: file, toPath: file + ".migrated")
        }
    }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body()
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError(description: "database '\(path)': \(error)")
        }
    }

    // MARK: StateStore

    public func load() throws -> PersistedState {
        try locked { try readState() }
    }

    /// Writes what `changes` names, nothing else: a station's status is one or two rows, whatever the fleet's size.
    public func save(_ state: PersistedState, changes: StateChange) throws {
        try locked {
            try database.transaction { try write(state, changes: changes) }
        }
    }

    private func write(_ state: PersistedState, changes: StateChange) throws {
        if changes.everything {
            try database.execute("DELETE FROM stations; DELETE FROM connector_status; DELETE FROM active_transactions;")
        }
        if changes.lastTransactionID || changes.everything {
            try setMeta("last_transaction_id", Int64(state.lastTransactionID))
        }
        for id in changes.everything ? Set(state.stations.keys) : changes.stations {
            try writeStation(id, state.stations[id])
        }
        for id in changes.everything ? Set(state.activeTransactions.keys) : changes.transactions {
            if let transaction = state.activeTransactions[id] {
                try database.run("INSERT OR REPLACE INTO active_transactions (id, station, connector_id, id_tag, meter_start, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                                 [.int(Int64(id)), .text(transaction.station), .int(Int64(transaction.connectorId)), .text(transaction.idTag),
                                  .int(Int64(transaction.meterStart)), .int(Self.millis(transaction.startedAt))])
            } else {
                try database.run("DELETE FROM active_transactions WHERE id = ?", [.int(Int64(id))])
            }
        }
    }

    private func writeStation(_ id: String, _ record: StationRecord?) throws {
        guard let record else {
            try database.run("DELETE FROM stations WHERE id = ?", [.text(id)])
            try database.run("DELETE FROM connector_status WHERE station = ?", [.text(id)])
            return
        }
        try database.run("""
                INSERT INTO stations (id, charging_enabled, vendor, model, serial_number, firmware_version, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET charging_enabled = excluded.charging_enabled,
                vendor = excluded.vendor, model = excluded.model, serial_number = excluded.serial_number,
                firmware_version = excluded.firmware_version, last_seen = excluded.last_seen
                """, [.text(id), .int(record.chargingEnabled ? 1 : 0), .init(record.boot?.vendor), .init(record.boot?.model),
                      .init(record.boot?.serialNumber), .init(record.boot?.firmwareVersion),
                      record.lastSeen.map { .int(Self.millis($0)) } ?? .null])
        for (connector, status) in record.connectors ?? [:] {
            try database.run("INSERT OR REPLACE INTO connector_status (station, connector, status, error_code) VALUES (?, ?, ?, ?)",
                             [.text(id), .int(Int64(connector)), .text(status.status), .text(status.errorCode)])
        }
    }

    private func readState() throws -> PersistedState {
        var state = PersistedState()
        state.lastTransactionID = try meta("last_transaction_id") ?? 0
        try database.run("SELECT id, charging_enabled, vendor, model, serial_number, firmware_version, last_seen FROM stations") { row in
            let boot = row.text(2).map { BootFacts(vendor: $0, model: row.text(3) ?? "", serialNumber: row.text(4), firmwareVersion: row.text(5)) }
            state.stations[row.text(0) ?? ""] = StationRecord(chargingEnabled: row.int(1) != 0, boot: boot, lastSeen: row.int(6).map(Self.date))
        }
        try database.run("SELECT station, connector, status, error_code FROM connector_status") { row in
            let station = row.text(0) ?? ""
            state.stations[station, default: StationRecord()].connectors =
                (state.stations[station]?.connectors ?? [:]).merging([row.int(1) ?? 0: ConnectorStatus(status: row.text(2) ?? "", errorCode: row.text(3) ?? "")]) { _, new in new }
        }
        try database.run("SELECT id, station, connector_id, id_tag, meter_start, started_at FROM active_transactions") { row in
            let id = row.int(0) ?? 0
            state.activeTransactions[id] = Transaction(
                id: id, station: row.text(1) ?? "", connectorId: row.int(2) ?? 0, idTag: row.text(3) ?? "",
                meterStart: row.int(4) ?? 0, startedAt: Self.date(row.int(5) ?? 0))
        }
        return state
    }

    public func record(_ transaction: CompletedTransaction) throws {
        try locked { try insert(transaction) }
    }

    private func insert(_ t: CompletedTransaction) throws {
        try database.run("""
            INSERT INTO transactions (id, station, connector_id, id_tag, meter_start, meter_stop, started_at, stopped_at, stop_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.int(Int64(t.id)), .text(t.station), .init(t.connectorId), .init(t.idTag), .init(t.meterStart),
                  .int(Int64(t.meterStop)), t.startedAt.map { .int(Self.millis($0)) } ?? .null, .int(Self.millis(t.stoppedAt)),
                  .text(t.stopReason)])
    }

    public func history(station: String?, since: Date?) throws -> [CompletedTransaction] {
        try locked {
            var out: [CompletedTransaction] = []
            var sql = "SELECT id, station, connector_id, id_tag, meter_start, meter_stop, started_at, stopped_at, stop_reason FROM transactions WHERE stopped_at >= ?"
            var values: [SQLiteDatabase.Value] = [.int(since.map(Self.millis) ?? Int64.min)]
            if let station {
                sql += " AND station = ?"
                values.append(.text(station))
            }
            try database.run(sql + " ORDER BY stopped_at, rowid", values) { row in
                out.append(CompletedTransaction(
                    id: row.int(0) ?? 0, station: row.text(1) ?? "", connectorId: row.int(2), idTag: row.text(3),
                    meterStart: row.int(4), meterStop: row.int(5) ?? 0, startedAt: row.int(6).map(Self.date),
                    stoppedAt: Self.date(row.int(7) ?? 0), stopReason: row.text(8) ?? ""))
            }
            return out
        }
    }

    // MARK: OutboxStore

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

    private func insert(_ entries: [OutboxEntry]) throws {
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

    private func clearOutbox() throws {
        try database.run("DELETE FROM outbox_events")
        try database.run("DELETE FROM meta WHERE key = ?", [.text(Self.outboxMark)])
    }

    private func meta(_ key: String) throws -> Int? {
        var value: Int?
        try database.run("SELECT value FROM meta WHERE key = ?", [.text(key)]) { value = $0.int(0) }
        return value
    }

    private func setMeta(_ key: String, _ value: Int64) throws {
        try database.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         [.text(key), .int(value)])
    }

    // MARK: CommandStore

    public func add(_ command: StoredCommand) throws -> Int64 {
        try locked {
            try database.run("""
                INSERT INTO pending_commands (station, name, action, payload, request_id, state_parameter, state_value, sent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.init(command.station), .text(command.name), .text(command.action), .text(command.payload), .init(command.requestID),
                      .init(command.stateParameter), .init(command.stateValue), .int(command.sent ? 1 : 0)])
            return database.lastInsertedRow
        }
    }

    public func markSent(_ id: Int64, _ sent: Bool) throws {
        try locked { try database.run("UPDATE pending_commands SET sent = ? WHERE id = ?", [.int(sent ? 1 : 0), .int(id)]) }
    }

    public func remove(_ id: Int64) throws {
        try locked { try database.run("DELETE FROM pending_commands WHERE id = ?", [.int(id)]) }
    }

    public func storedCommands() throws -> [StoredCommand] {
        try locked {
            var commands: [StoredCommand] = []
            try database.run("SELECT id, station, name, action, payload, request_id, state_parameter, state_value, sent FROM pending_commands ORDER BY id") { row in
                commands.append(StoredCommand(
                    id: Int64(row.int(0) ?? 0), station: row.text(1), name: row.text(2) ?? "", action: row.text(3) ?? "",
                    payload: row.text(4) ?? "{}", requestID: row.text(5), stateParameter: row.text(6), stateValue: row.text(7),
                    sent: row.int(8) != 0))
            }
            return commands
        }
    }

    private static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    private static func date(_ millis: Int) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}
