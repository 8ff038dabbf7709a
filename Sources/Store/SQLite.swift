import CSQLite
import Foundation

/// A thin, synchronous layer over the system SQLite: one connection, prepared statements, typed columns.
/// Not thread-safe by itself; its owner serialises access.
final class SQLiteDatabase {
    private let handle: OpaquePointer
    /// Prepared statements by SQL text: preparing costs more than running the small statements of the hot path.
    private var statements: [String: OpaquePointer] = [:]
    private static let maximumCachedStatements = 64

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw Failure(description: "cannot open '\(path)': \(message)")
        }
        handle = db
        sqlite3_busy_timeout(handle, 5000)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    private var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw Failure(description: "\(lastError) in: \(sql.prefix(80))") }
    }

    /// A value bound to a `?`.
    enum Value {
        case int(Int64)
        case double(Double)
        case text(String)
        /// Bytes, bound as a BLOB.
        case blob([UInt8])
        case null

        init(_ value: Int?) { self = value.map { .int(Int64($0)) } ?? .null }
        init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    }

    /// Runs a statement, calling `row` for each result row.
    func run(_ sql: String, _ values: [Value] = [], row: ((Row) throws -> Void)? = nil) throws {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .int(let number): sqlite3_bind_int64(statement, position, number)
            case .double(let number): sqlite3_bind_double(statement, position, number)
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, transient)
            case .blob(let bytes) where bytes.isEmpty: sqlite3_bind_zeroblob(statement, position, 0)  // not NULL
            case .blob(let bytes):
                // Copied by SQLite (transient) before this returns.
                bytes.withUnsafeBytes { buffer in
                    _ = sqlite3_bind_blob(statement, position, buffer.baseAddress, Int32(buffer.count), transient)
                }
            case .null: sqlite3_bind_null(statement, position)
            }
        }
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: try row?(Row(statement: statement))
            case SQLITE_DONE: return
            default: throw Failure(description: "\(lastError) in: \(sql.prefix(80))")
            }
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "\(lastError) in: \(sql.prefix(80))")
        }
        if statements.count >= Self.maximumCachedStatements {
            for old in statements.values { sqlite3_finalize(old) }
            statements.removeAll()
        }
        statements[sql] = statement
        return statement
    }

    /// The rowid of the last row inserted on this connection.
    var lastInsertedRow: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in one transaction: all of it, or none of it.
    func transaction(_ body: () throws -> Void) throws {
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The schema version (`PRAGMA user_version`).
    var userVersion: Int {
        get throws {
            var version = 0
            try run("PRAGMA user_version") { version = $0.int(0) ?? 0 }
            return version
        }
    }

    struct Row {
        let statement: OpaquePointer

        func int(_ column: Int32) -> Int? {
            sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(statement, column))
        }

        func double(_ column: Int32) -> Double? {
            sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_double(statement, column)
        }

        func text(_ column: Int32) -> String? {
            sqlite3_column_text(statement, column).map { String(cString: $0) }
        }

        /// The column's bytes, as stored (a BLOB's, or a text's UTF-8).
        func bytes(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(statement, column))
            guard count > 0, let start = sqlite3_column_blob(statement, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: start, count: count))
        }
    }
}
