import CentralSystem
import Foundation
import MQTTBridge

/// The schema's versions and the steps between them.
///
/// Each step takes a database of the version before it to its own version, with its own SQL and the row formats
/// of the versions it reads and writes (``OutboxLines`` for schema 4's outbox rows, ``OutboxPacking`` for schema
/// 5's): it calls none of the store's reading or writing code, so changing that code cannot change what an old
/// database becomes. A change of a row format is a new schema version with a step of its own.
extension SQLiteStore {
    /// The version this code reads and writes (`PRAGMA user_version`).
    static let schemaVersion = 10

    func migrate(importing directory: String) throws {
        let version = try database.userVersion
        guard version < Self.schemaVersion else {
            if version > Self.schemaVersion {
                throw SQLiteDatabase.Failure(description: "it was written by a newer version (schema \(version))")
            }
            return
        }
        let legacy = version < 1 ? LegacyFiles(directory: directory) : nil
        try database.transaction {
            if version < 1 { try Self.createVersion1(database) }
            if version < 2 { try Self.migrateToVersion2(database) }
            if version < 3 { try Self.migrateToVersion3(database) }
            if version < 4 { try Self.migrateToVersion4(database) }
            if version < 5 { try Self.migrateToVersion5(database) }
            if version < 6 { try Self.migrateToVersion6(database) }
            if version < 7 { forgottenStations = try Self.migrateToVersion7(database) }
            if version < 8 { try Self.migrateToVersion8(database) }
            if version < 9 { try Self.migrateToVersion9(database) }
            if version < 10 { try Self.migrateToVersion10(database) }
            // A new database brings in the file store's data. The schema is today's by now, so today's writers are
            // the right ones here.
            if let legacy { try importFiles(legacy) }
            try database.execute("PRAGMA user_version = \(Self.schemaVersion)")
        }
        try legacy?.retire()
    }

    /// Brings in what the file store of earlier versions kept.
    private func importFiles(_ files: LegacyFiles) throws {
        try write(.everything(try files.loadState()))
        for transaction in files.loadHistory() { try insert(transaction) }
        let outbox = files.loadOutbox()
        if !outbox.isEmpty { try insert(outbox) }
    }

    // MARK: The steps (frozen)

    private static func createVersion1(_ database: SQLiteDatabase) throws {
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

    /// Version 2: each station's last known state.
    private static func migrateToVersion2(_ database: SQLiteDatabase) throws {
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

    /// Version 3: MQTT commands waiting for their station.
    private static func migrateToVersion3(_ database: SQLiteDatabase) throws {
        try database.execute("""
            CREATE TABLE pending_commands (id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT, name TEXT NOT NULL,
                action TEXT NOT NULL, payload TEXT NOT NULL, request_id TEXT, state_parameter TEXT, state_value TEXT,
                sent INTEGER NOT NULL);
            """)
    }

    /// Version 4: the outbox keeps one row per event (its messages as JSON lines, sequences first to last) instead
    /// of one per message: a MeterValues' 9 to 18 messages are one INSERT.
    private static func migrateToVersion4(_ database: SQLiteDatabase) throws {
        var kept: [OutboxEntry] = []
        try database.run("SELECT sequence, topic, payload, retain FROM outbox ORDER BY sequence") { row in
            kept.append(OutboxEntry(sequence: UInt64(row.int(0) ?? 0), topic: row.text(1) ?? "", payload: row.text(2) ?? "",
                                    retain: row.int(3) != 0))
        }
        try database.execute("""
            DROP TABLE outbox;
            CREATE TABLE outbox_events (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, entries TEXT NOT NULL);
            """)
        guard let first = kept.first, let last = kept.last else { return }
        try database.run("INSERT INTO outbox_events (first, last, entries) VALUES (?, ?, ?)",
                         [.int(Int64(first.sequence)), .int(Int64(last.sequence)), .text(String(decoding: OutboxLines.encode(kept), as: UTF8.self))])
    }

    /// Version 5: each row's messages packed as bytes (``OutboxPacking``), about a third of the JSON lines' size.
    /// Rows of version 4 are rewritten so; a version 4 gateway refuses the store from then on rather than reading
    /// rows it does not understand.
    private static func migrateToVersion5(_ database: SQLiteDatabase) throws {
        var rows: [[OutboxEntry]] = []
        try database.run("SELECT entries FROM outbox_events ORDER BY first") { row in
            rows.append(OutboxLines.decode(row.bytes(0)))
        }
        try database.execute("DELETE FROM outbox_events")
        for entries in rows where !entries.isEmpty {
            try database.run("INSERT OR REPLACE INTO outbox_events (first, last, entries) VALUES (?, ?, ?)",
                             [.int(Int64(entries[0].sequence)), .int(Int64(entries[entries.count - 1].sequence)), .blob(OutboxPacking.pack(entries))])
        }
    }

    /// Version 6: the current limit the gateway set on each station (`NULL`: none; -1: not known, for the stations
    /// kept before this version, whose limit may have been set without being kept).
    private static func migrateToVersion6(_ database: SQLiteDatabase) throws {
        try database.execute("""
            ALTER TABLE stations ADD COLUMN current_limit REAL;
            UPDATE stations SET current_limit = -1;
            """)
    }

    /// Version 7: a station is remembered from its first message, no longer from its handshake (issue 19). The
    /// stations kept from a handshake alone are forgotten: no boot, no connector status, the switch on, no limit set,
    /// no open transaction. A real charger among them is remembered again with its next message. Returns their ids,
    /// so the bridge can clear what it announced for them.
    private static func migrateToVersion7(_ database: SQLiteDatabase) throws -> [String] {
        let condition = """
            vendor IS NULL AND charging_enabled = 1 AND (current_limit IS NULL OR current_limit = -1)
            AND id NOT IN (SELECT station FROM connector_status) AND id NOT IN (SELECT station FROM active_transactions)
            """
        var ids: [String] = []
        try database.run("SELECT id FROM stations WHERE \(condition) ORDER BY id") { row in
            if let id = row.text(0) { ids.append(id) }
        }
        try database.execute("DELETE FROM stations WHERE \(condition)")
        return ids
    }

    /// Version 8: relay mode's durable queue for the upstream (issue 21), what the gateway needs to stand in for the
    /// upstream (the last boot, the interval, the next local transaction id), the links between its transaction ids and
    /// the upstream's, and what the upstream said about id tags. The queue's rows are the charger's frames as sent.
    private static func migrateToVersion8(_ database: SQLiteDatabase) throws {
        try database.execute("""
            CREATE TABLE IF NOT EXISTS relay_queue (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, frame BLOB NOT NULL,
                local_transaction INTEGER);
            CREATE INDEX IF NOT EXISTS relay_queue_station ON relay_queue (station, sequence);
            CREATE TABLE IF NOT EXISTS relay_stations (
                station TEXT PRIMARY KEY, boot BLOB, interval INTEGER NOT NULL, boot_owed INTEGER NOT NULL,
                next_local_transaction INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS relay_transactions (
                station TEXT NOT NULL, local_id INTEGER NOT NULL, upstream_id INTEGER NOT NULL, PRIMARY KEY (station, local_id));
            CREATE TABLE IF NOT EXISTS relay_tags (
                station TEXT NOT NULL, tag TEXT NOT NULL, status TEXT NOT NULL, expiry INTEGER, parent TEXT,
                PRIMARY KEY (station, tag));
            """)
    }

    /// Version 10: OCPP 2.0.1 stations' open transactions (issue 24), under the charger's own (text) ids: what orders
    /// their events and what their session energy counts from survive a restart; and the history's column for a 2.0.1
    /// transaction's id (its `id` is 0).
    private static func migrateToVersion10(_ database: SQLiteDatabase) throws {
        try database.execute("""
            CREATE TABLE IF NOT EXISTS transactions_201 (
                station TEXT NOT NULL, id TEXT NOT NULL, evse INTEGER, id_token TEXT, meter_start REAL, started_at INTEGER NOT NULL,
                highest_seq_no INTEGER NOT NULL, provider TEXT, last_energy REAL, PRIMARY KEY (station, id));
            """)
        var present = false
        try database.run("SELECT 1 FROM pragma_table_info('transactions') WHERE name = 'charger_transaction_id'") { _ in present = true }
        if !present { try database.execute("ALTER TABLE transactions ADD COLUMN charger_transaction_id TEXT;") }
    }

    /// Version 9: who started each transaction (issue 22: `charger`, `mqtt`, or a relayed backend), open and ended;
    /// `NULL` for the transactions from before.
    private static func migrateToVersion9(_ database: SQLiteDatabase) throws {
        for table in ["active_transactions", "transactions"] {
            var present = false
            try database.run("SELECT 1 FROM pragma_table_info('\(table)') WHERE name = 'provider'") { _ in present = true }
            if !present { try database.execute("ALTER TABLE \(table) ADD COLUMN provider TEXT;") }
        }
    }
}
