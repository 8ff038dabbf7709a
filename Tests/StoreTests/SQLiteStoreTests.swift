import CentralSystem
import Foundation
import MQTTBridge
import Testing

@testable import Store

@Suite struct SQLiteStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_795_269_090.5)

    private func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID())").path
    }

    @Test func stateSurvivesAReopenAndOnlyChangesAreWritten() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = PersistedState(lastTransactionID: 7, stations: ["CP1": StationRecord(chargingEnabled: false), "CP2": StationRecord()])
        state.activeTransactions[7] = Transaction(id: 7, station: "CP1", connectorId: 2, idTag: "T", meterStart: 100, startedAt: t0)
        try SQLiteStore(directory: dir).save(state)
        // One store at a time, as in the gateway: each holds the database's lock until it is closed.
        do {
            let reopened = try SQLiteStore(directory: dir)
            #expect(try (reopened as StateStore).load() == state)
            state.activeTransactions.removeValue(forKey: 7)
            state.stations["CP1"]?.chargingEnabled = true
            state.lastTransactionID = 8
            try reopened.save(state)
        }
        #expect(try (SQLiteStore(directory: dir) as StateStore).load() == state)
    }

    @Test func aSaveWritesOnlyWhatItNames() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = PersistedState(lastTransactionID: 3, stations: ["CP1": StationRecord(), "CP2": StationRecord()])
        do {
            let store = try SQLiteStore(directory: dir)
            try store.save(state)
            state.stations["CP1"]?.chargingEnabled = false
            state.stations["CP2"]?.chargingEnabled = false
            state.stations["CP3"] = StationRecord()
            state.lastTransactionID = 4
            state.activeTransactions[4] = Transaction(id: 4, station: "CP1", connectorId: 1, idTag: "T", meterStart: 0, startedAt: t0)
            try store.save(StateSave(revision: 1, stations: [.init(id: "CP1", record: state.stations["CP1"]), .init(id: "CP3", record: StationRecord())],
                                     transactions: [.init(id: 4, transaction: state.activeTransactions[4])], lastTransactionID: 4))
            state.activeTransactions[4] = nil
            state.stations["CP3"] = nil
            try store.save(StateSave(revision: 2, stations: [.init(id: "CP3", record: nil)], transactions: [.init(id: 4, transaction: nil)]))
        }
        let saved: PersistedState = try SQLiteStore(directory: dir).load()
        #expect(saved.lastTransactionID == 4)
        #expect(saved.stations["CP1"]?.chargingEnabled == false)
        #expect(saved.stations["CP2"]?.chargingEnabled == true)  // changed in memory, not named: not written
        #expect(saved.stations["CP3"] == nil && saved.activeTransactions.isEmpty)
    }

    @Test func historyIsQueriedByStationAndTime() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(directory: dir)
        for (id, station, offset) in [(1, "CP1", 0.0), (2, "CP2", 60), (3, "CP1", 120)] {
            try store.record(CompletedTransaction(id: id, station: station, connectorId: id == 2 ? nil : 1, idTag: "T",
                                                  meterStart: id == 2 ? nil : 0, meterStop: 10 * id, startedAt: id == 2 ? nil : t0,
                                                  stoppedAt: t0 + offset, stopReason: "Local"))
        }
        #expect(try store.history(station: nil, since: nil).map(\.id) == [1, 2, 3])
        #expect(try store.history(station: "CP1", since: nil).map(\.id) == [1, 3])
        #expect(try store.history(station: nil, since: t0 + 60).map(\.id) == [2, 3])
        let partial = try store.history(station: "CP2", since: nil)[0]
        #expect(partial.connectorId == nil && partial.meterStart == nil && partial.startedAt == nil && partial.energy == nil)
        #expect(try store.history(station: "CP1", since: nil)[0].startedAt == t0)
    }

    @Test func theOutboxKeepsWhatIsNotAcknowledged() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try SQLiteStore(directory: dir)
            try store.append((1...5).map { (sequence: UInt64) in
                OutboxEntry(sequence: sequence, topic: "t/\(sequence)", payload: "p\"\(sequence)", retain: sequence % 2 == 0)
            })
            try store.append([OutboxEntry(sequence: 6, topic: "t/6", payload: "", retain: false)])
            try store.dropAcknowledged(below: 4)
        }
        do {
            let store = try SQLiteStore(directory: dir)
            let left: [OutboxEntry] = try store.load()
            #expect(left.map(\.sequence) == [4, 5, 6])
            #expect(left.first?.payload == "p\"4" && left.first?.retain == true)
            try store.dropAcknowledged(below: nil)
        }
        #expect(try (SQLiteStore(directory: dir) as OutboxStore).load().isEmpty)
    }

    /// An emptied outbox leaves nothing behind: the publisher numbers from 1 again after a restart, and what it
    /// keeps then must all come back after the next.
    @Test func theOutboxAfterItWasEmptiedAndTheNumberingStartedAgain() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let entry = { (sequence: UInt64) in OutboxEntry(sequence: sequence, topic: "t", payload: "\(sequence)", retain: true) }
        do {
            let store = try SQLiteStore(directory: dir)
            try store.append((1...18).map(entry))
            try store.append((19...36).map(entry))
            try store.dropAcknowledged(below: 30)  // the second event partly acknowledged
            #expect(try (store as OutboxStore).load().map(\.sequence) == Array(30...36))
        }
        do {
            // The row is not written again: a mark hides its acknowledged part, also after a restart.
            let database = try SQLiteDatabase(path: (dir as NSString).appendingPathComponent("gateway.sqlite3"))
            var rows: [Int] = [], mark: Int?
            try database.run("SELECT first FROM outbox_events") { rows.append($0.int(0) ?? 0) }
            try database.run("SELECT value FROM meta WHERE key = ?", [.text(SQLiteStore.outboxMark)]) { mark = $0.int(0) }
            #expect(rows == [19] && mark == 30)
        }
        do {
            let store = try SQLiteStore(directory: dir)
            #expect(try (store as OutboxStore).load().map(\.sequence) == Array(30...36))
            try store.dropAcknowledged(below: nil)
        }
        do {
            let store = try SQLiteStore(directory: dir)
            #expect(try (store as OutboxStore).load().isEmpty)
            try store.append((1...3).map(entry))
        }
        #expect(try (SQLiteStore(directory: dir) as OutboxStore).load().map(\.sequence) == [1, 2, 3])
    }

    @Test func theFilesOfAnEarlierVersionAreImportedOnce() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The files as the file store of earlier versions wrote them.
        let state = PersistedState(lastTransactionID: 41, stations: ["OLD": StationRecord(chargingEnabled: false)],
                                   activeTransactions: [41: Transaction(id: 41, station: "OLD", connectorId: 1, idTag: "T", meterStart: 5, startedAt: t0)])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let files = LegacyFiles(directory: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try encoder.encode(state).write(to: files.state)
        let ended = CompletedTransaction(id: 40, station: "OLD", connectorId: 1, idTag: "T", meterStart: 0, meterStop: 9,
                                         startedAt: t0, stoppedAt: t0, stopReason: "Local")
        // A line torn by a crash after it is skipped.
        try (encoder.encode(ended) + Data("\n{\"id\":41,\"stat".utf8)).write(to: files.history)
        try Data(OutboxLines.encode([OutboxEntry(sequence: 3, topic: "x", payload: "y", retain: true)])).write(to: files.outbox)
        let inFiles = try files.loadState()  // the file store kept whole seconds; the import carries what it had
        do {
            let store = try SQLiteStore(directory: dir)
            #expect(try (store as StateStore).load().lastTransactionID == 41)
            #expect(try (store as StateStore).load() == inFiles)
            // Their current limits may have been set without being kept: not known.
            #expect(inFiles.stations == state.stations.mapValues { var record = $0; record.currentLimit = .unknown; return record })
            #expect(inFiles.activeTransactions.keys == state.activeTransactions.keys)
            #expect(try store.history(station: nil, since: nil).map(\.id) == [40])
            #expect(try (store as OutboxStore).load().map(\.sequence) == [3])
        }
        #expect(FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("state.json.migrated")))
        #expect(!FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("state.json")))
        // Opening again imports nothing twice.
        #expect(try SQLiteStore(directory: dir).history(station: nil, since: nil).count == 1)
    }

    @Test func aDamagedDatabaseIsReportedClearly() throws {
        let dir = directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(String(repeating: "not a database ", count: 100).utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("gateway.sqlite3")))
        #expect {
            _ = try SQLiteStore(directory: dir)
        } throws: { error in
            "\(error)".contains("gateway.sqlite3") && "\(error)".contains("not a database")
        }
    }
}

@Suite struct SQLiteMigrationTests {
    @Test func aVersionOneDatabaseIsMigratedAndKeepsItsData() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-v1-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A database as version 1 of the schema left it.
        try SQLiteDatabase(path: (dir as NSString).appendingPathComponent("gateway.sqlite3")).execute("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE stations (id TEXT PRIMARY KEY, charging_enabled INTEGER NOT NULL);
            CREATE TABLE active_transactions (id INTEGER PRIMARY KEY, station TEXT NOT NULL, connector_id INTEGER NOT NULL,
                id_tag TEXT NOT NULL, meter_start INTEGER NOT NULL, started_at INTEGER NOT NULL);
            CREATE TABLE transactions (id INTEGER NOT NULL, station TEXT NOT NULL, connector_id INTEGER, id_tag TEXT,
                meter_start INTEGER, meter_stop INTEGER NOT NULL, started_at INTEGER, stopped_at INTEGER NOT NULL, stop_reason TEXT NOT NULL);
            CREATE TABLE outbox (sequence INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, retain INTEGER NOT NULL);
            INSERT INTO meta VALUES ('last_transaction_id', 12);
            INSERT INTO stations VALUES ('CP1', 0);
            INSERT INTO outbox VALUES (7, 'ocpp/CP1/state/status', 'Charging', 1), (8, 'ocpp/CP1/cmd_result', '{}', 0);
            PRAGMA user_version = 1;
            """)
        var state: PersistedState
        let path: String
        do {
            let store = try SQLiteStore(directory: dir)
            path = store.path
            state = try store.load()
            #expect(state.lastTransactionID == 12 && state.stations["CP1"]?.chargingEnabled == false)
            // The outbox's rows of one message each are now one row per event; nothing waiting is lost.
            #expect(try (store as OutboxStore).load() == [
                OutboxEntry(sequence: 7, topic: "ocpp/CP1/state/status", payload: "Charging", retain: true),
                OutboxEntry(sequence: 8, topic: "ocpp/CP1/cmd_result", payload: "{}", retain: false),
            ])
            state.stations["CP1"]?.boot = BootFacts(vendor: "Acme", model: "W", serialNumber: "S", firmwareVersion: "1")
            state.stations["CP1"]?.connectors = [1: ConnectorStatus(status: "Charging", errorCode: "NoError")]
            state.stations["CP1"]?.lastSeen = Date(timeIntervalSince1970: 1_795_269_090)
            try store.save(state)
        }
        #expect(try (SQLiteStore(directory: dir) as StateStore).load() == state)
        var version = 0
        try SQLiteDatabase(path: path).run("PRAGMA user_version") { version = $0.int(0) ?? 0 }
        #expect(version == SQLiteStore.schemaVersion)
    }
}

extension SQLiteMigrationTests {
    @Test func aVersionFourOutboxIsPackedAndKeepsItsMessages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-v4-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try SQLiteStore(directory: dir).path
        let waiting = [
            OutboxEntry(sequence: 7, topic: "ocpp/CP1/connector/1/state/energy", payload: "1500", retain: true),
            OutboxEntry(sequence: 8, topic: "ocpp/CP1/state/energy", payload: "1500", retain: true),
            OutboxEntry(sequence: 9, topic: "ocpp/CP1/cmd_result", payload: "{\"status\":\"Accepted\"}\n", retain: false),
        ]
        do {
            // The outbox as version 4 wrote it: JSON lines as text, the first entry already acknowledged (the mark).
            let database = try SQLiteDatabase(path: path)
            try database.run("INSERT INTO outbox_events (first, last, entries) VALUES (7, 8, ?)", [.text(String(decoding: OutboxLines.encode(waiting[0...1]), as: UTF8.self))])
            try database.run("INSERT INTO outbox_events (first, last, entries) VALUES (9, 9, ?)", [.text(String(decoding: OutboxLines.encode(waiting[2...]), as: UTF8.self))])
            // (Without schema 6's column, which a version 4 database never had.)
            try database.execute("INSERT INTO meta VALUES ('outbox_acknowledged_below', 8); ALTER TABLE stations DROP COLUMN current_limit; PRAGMA user_version = 4;")
        }
        do {
            let store = try SQLiteStore(directory: dir)
            #expect(try (store as OutboxStore).load() == Array(waiting[1...]))
        }
        let database = try SQLiteDatabase(path: path)
        var kinds: [String] = []
        try database.run("SELECT typeof(entries) FROM outbox_events ORDER BY first") { kinds.append($0.text(0) ?? "") }
        #expect(kinds == ["blob", "blob"])
        var version = 0
        try database.run("PRAGMA user_version") { version = $0.int(0) ?? 0 }
        #expect(version == SQLiteStore.schemaVersion)
    }
}

@Suite struct StoredCommandTests {
    @Test func commandsWaitInTheStoreUntilRemoved() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("commands-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(directory: dir)
        let first = try store.add(StoredCommand(station: "CP1", name: "reset", action: "Reset", payload: #"{"type":"Soft"}"#, requestID: "\"r1\""))
        let second = try store.add(StoredCommand(station: nil, name: "max_current", action: "SetChargingProfile", payload: "{}",
                                                 requestID: nil, stateParameter: "max_current", stateValue: "16"))
        try store.markSent(first, true)
        let stored = try store.storedCommands()
        #expect(stored.map(\.id) == [first, second])
        #expect(stored[0].sent && stored[0].requestID == "\"r1\"" && stored[0].station == "CP1")
        #expect(!stored[1].sent && stored[1].station == nil && stored[1].stateValue == "16")
        try store.remove(first)
        #expect(try store.storedCommands().map(\.id) == [second])
    }

    /// Issue 19: after a clean stop everything was still in `gateway.sqlite3-wal`; a copy of the database file alone
    /// started blank. After a checkpoint the database file alone holds the state.
    @Test func afterACheckpointTheDatabaseFileAloneHoldsTheState() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-\(UUID())").path
        let copy = dir + "-copy"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let store = try SQLiteStore(directory: dir)
        try store.save(PersistedState(lastTransactionID: 77, stations: ["CP1": StationRecord(chargingEnabled: false)]))
        func copyDatabaseFileAlone() throws -> PersistedState {
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: store.path, toPath: copy + "/gateway.sqlite3")
            return try (SQLiteStore(directory: copy) as StateStore).load()
        }
        #expect(try copyDatabaseFileAlone().lastTransactionID == 0)  // before: all of it in the write-ahead log
        try store.checkpoint()
        let copied = try copyDatabaseFileAlone()
        #expect(copied.lastTransactionID == 77 && copied.stations["CP1"]?.chargingEnabled == false)
    }

    @Test func aSecondGatewayOnTheSameDataDirectoryIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("locked-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try SQLiteStore(directory: dir)
        try first.save(PersistedState(lastTransactionID: 1))
        #expect {
            _ = try SQLiteStore(directory: dir)
        } throws: { error in
            "\(error)".contains("database is locked")
        }
        withExtendedLifetime(first) {}
    }
}

@Suite struct SaveOrderTests {
    /// Saves are written after the central system's lock is released, so two saves of one station can arrive in
    /// the wrong order: the older one must not overwrite the newer.
    @Test func aLateSaveOfAStationDoesNotUndoANewerOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-order-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(directory: dir)
        try store.save(StateSave(revision: 2, stations: [.init(id: "CP1", record: StationRecord(chargingEnabled: false))], lastTransactionID: 9))
        try store.save(StateSave(revision: 1, stations: [.init(id: "CP1", record: StationRecord(chargingEnabled: true))], lastTransactionID: 8))
        let state: PersistedState = try store.load()
        #expect(state.stations["CP1"]?.chargingEnabled == false)
        #expect(state.lastTransactionID == 9)
    }
}

@Suite struct CurrentLimitTests {
    @Test func theLimitIsKeptAndStationsFromBeforeSchemaSixAreNotKnown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-limit-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try SQLiteStore(directory: dir)
            let booted = BootFacts(vendor: "V", model: "M")
            try store.save(PersistedState(stations: ["NONE": StationRecord(boot: booted),
                                                     "SET": StationRecord(boot: booted, currentLimit: .amperes(16.5))]))
            // A database as schema 5 left it: its stations' limits were never kept.
            try store.database.execute("ALTER TABLE stations DROP COLUMN current_limit; PRAGMA user_version = 5;")
        }
        do {
            let store = try SQLiteStore(directory: dir)
            let state: PersistedState = try store.load()
            #expect(state.stations["NONE"]?.currentLimit == .unknown && state.stations["SET"]?.currentLimit == .unknown)
            try store.save(StateSave(revision: 1, stations: [.init(id: "NEW", record: StationRecord()),
                                                            .init(id: "SET", record: StationRecord(currentLimit: .amperes(10)))]))
        }
        let state: PersistedState = try SQLiteStore(directory: dir).load()
        #expect(state.stations["NEW"]?.currentLimit == CurrentLimit.none)
        #expect(state.stations["SET"]?.currentLimit == .amperes(10))
    }

    /// Issue 19: versions before schema 7 remembered a station from its handshake, so idle connections left permanent
    /// stations. The migration forgets those that have nothing of their own, once, and names them for the bridge.
    @Test func theMigrationToSevenForgetsStationsKeptFromAHandshakeAlone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-seven-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try SQLiteStore(directory: dir)
            try store.save(PersistedState(stations: [
                "SPAM": StationRecord(lastSeen: Date(timeIntervalSince1970: 1_790_000_000)),
                "UNKNOWN-LIMIT": StationRecord(currentLimit: .unknown),
                "BOOTED": StationRecord(boot: BootFacts(vendor: "V", model: "M")),
                "SWITCHED": StationRecord(chargingEnabled: false),
                "LIMITED": StationRecord(currentLimit: .amperes(10)),
                "STATUS": StationRecord(connectors: [1: ConnectorStatus(status: "Available", errorCode: "NoError")]),
                "CHARGING": StationRecord(),
            ], activeTransactions: [7: Transaction(id: 7, station: "CHARGING", connectorId: 1, idTag: "T", meterStart: 0,
                                                   startedAt: Date(timeIntervalSince1970: 1_790_000_000))]))
            try store.database.execute("PRAGMA user_version = 6;")
        }
        let migrated = try SQLiteStore(directory: dir)
        #expect(migrated.forgottenStations == ["SPAM", "UNKNOWN-LIMIT"])
        let state: PersistedState = try migrated.load()
        #expect(state.stations.keys.sorted() == ["BOOTED", "CHARGING", "LIMITED", "STATUS", "SWITCHED"])
        withExtendedLifetime(migrated) {}
    }
}
