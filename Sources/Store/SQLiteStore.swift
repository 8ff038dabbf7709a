import CentralSystem
import Foundation
import MQTTBridge
import Synchronization

/// The gateway's store: one SQLite database, `DATA_DIR/gateway.sqlite3`, in WAL mode, with the central system's
/// state, the transaction history, the MQTT outbox and the MQTT commands waiting for their station.
///
/// Writes touch only what changed. The schema is versioned (`PRAGMA user_version`) and migrated at open by frozen
/// steps (`SQLiteStore+Migrations.swift`); a first open imports the files of earlier versions (``LegacyFiles``).
/// The store owns its disk format: the outbox's row format (``OutboxPacking``) is here, not in the bridge. Safe
/// from several threads (one lock around the connection, held only around SQLite).
public final class SQLiteStore: StateStore, OutboxStore, CommandStore, @unchecked Sendable {
    public let path: String
    let database: SQLiteDatabase
    private let lock = Mutex(())
    /// Which save of each station was written last (changed only inside `locked`): saves can arrive out of order.
    var revisions = StationRevisions()
    /// The stations the migration to schema 7 forgot when this store was opened (empty on every later open).
    public internal(set) var forgottenStations: [String] = []

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
            try migrate(importing: directory)
        } catch {
            throw StateStoreError(description: "cannot use the database '\(path)': \(error)")
        }
    }

    /// Moves everything in the write-ahead log into the database file and empties the log. Until then a change lives
    /// only in `gateway.sqlite3-wal`, and a copy of `gateway.sqlite3` alone (a backup, a move between volumes) would
    /// miss it. The gateway checkpoints every few minutes and when it stops cleanly; SQLite also does when the log
    /// passes 1,000 pages.
    public func checkpoint() throws {
        try locked { try database.execute("PRAGMA wal_checkpoint(TRUNCATE);") }
    }

    func locked<T>(_ body: () throws -> T) throws -> T {
        do {
            return try lock.withLock { _ in try body() }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError(description: "database '\(path)': \(error)")
        }
    }

    func meta(_ key: String) throws -> Int? {
        var value: Int?
        try database.run("SELECT value FROM meta WHERE key = ?", [.text(key)]) { value = $0.int(0) }
        return value
    }

    func setMeta(_ key: String, _ value: Int64) throws {
        try database.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         [.text(key), .int(value)])
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ millis: Int) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}
