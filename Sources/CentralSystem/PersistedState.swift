import Foundation
import OCPP

/// What the central system keeps across restarts.
public struct PersistedState: Codable, Sendable, Hashable {
    /// The last transaction id handed out; the next one is one higher, so ids are never reused.
    public var lastTransactionID: Int
    /// Per-station settings, by station id.
    public var stations: [String: StationRecord]
    /// Transactions started and not yet stopped, by transaction id.
    public var activeTransactions: [Int: Transaction]

    public init(lastTransactionID: Int = 0, stations: [String: StationRecord] = [:], activeTransactions: [Int: Transaction] = [:]) {
        self.lastTransactionID = lastTransactionID
        self.stations = stations
        self.activeTransactions = activeTransactions
    }
}

/// Per-station settings and last known state, kept across restarts.
public struct StationRecord: Codable, Sendable, Hashable {
    /// The `charging_enabled` switch: while off, Authorize and StartTransaction answer `Blocked`.
    public var chargingEnabled: Bool
    /// What the last BootNotification said.
    public var boot: BootFacts?
    /// When the station was last heard from (saved at boot and at disconnect, not on every message).
    public var lastSeen: Date?
    /// The last StatusNotification of each connector.
    public var connectors: [Int: ConnectorStatus]?

    public init(chargingEnabled: Bool = true, boot: BootFacts? = nil, lastSeen: Date? = nil, connectors: [Int: ConnectorStatus]? = nil) {
        self.chargingEnabled = chargingEnabled
        self.boot = boot
        self.lastSeen = lastSeen
        self.connectors = connectors
    }
}

/// The facts of a BootNotification worth keeping.
public struct BootFacts: Codable, Sendable, Hashable {
    public var vendor: String
    public var model: String
    public var serialNumber: String?
    public var firmwareVersion: String?

    public init(vendor: String, model: String, serialNumber: String? = nil, firmwareVersion: String? = nil) {
        self.vendor = vendor
        self.model = model
        self.serialNumber = serialNumber
        self.firmwareVersion = firmwareVersion
    }
}

/// A connector's last reported status.
public struct ConnectorStatus: Codable, Sendable, Hashable {
    public var status: String
    public var errorCode: String

    public init(status: String, errorCode: String) {
        self.status = status
        self.errorCode = errorCode
    }
}

/// A charging session as the central system saw it start.
public struct Transaction: Codable, Sendable, Hashable {
    public var id: Int
    public var station: String
    public var connectorId: Int
    public var idTag: String
    /// The meter reading at the start, in Wh.
    public var meterStart: Int
    public var startedAt: Date

    public init(id: Int, station: String, connectorId: Int, idTag: String, meterStart: Int, startedAt: Date) {
        self.id = id
        self.station = station
        self.connectorId = connectorId
        self.idTag = idTag
        self.meterStart = meterStart
        self.startedAt = startedAt
    }
}

/// A transaction that has ended, as the history keeps it.
public struct CompletedTransaction: Codable, Sendable, Hashable {
    public var id: Int
    public var station: String
    /// nil for a transaction the gateway did not see start (started before its data was lost, or elsewhere).
    public var connectorId: Int?
    public var idTag: String?
    public var meterStart: Int?
    public var meterStop: Int
    public var startedAt: Date?
    public var stoppedAt: Date
    public var stopReason: String

    /// Wh charged, when the start is known.
    public var energy: Int? { meterStart.map { meterStop - $0 } }

    public init(
        id: Int, station: String, connectorId: Int?, idTag: String?, meterStart: Int?, meterStop: Int,
        startedAt: Date?, stoppedAt: Date, stopReason: String
    ) {
        self.id = id
        self.station = station
        self.connectorId = connectorId
        self.idTag = idTag
        self.meterStart = meterStart
        self.meterStop = meterStop
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.stopReason = stopReason
    }
}

/// Where ``PersistedState`` and the transaction history live. Small on purpose, so the core can be tested with
/// an in-memory store.
public protocol StateStore: Sendable {
    func load() throws -> PersistedState
    /// Saves `state`; `changes` names what differs from the last save, so a store can write only that (a
    /// station's record, a transaction, the last transaction id) instead of comparing everything.
    func save(_ state: PersistedState, changes: StateChange) throws
    /// Adds an ended transaction to the history.
    func record(_ transaction: CompletedTransaction) throws
    /// Ended transactions, oldest first, of one station (or all) that stopped at or after `since`.
    func history(station: String?, since: Date?) throws -> [CompletedTransaction]
}

extension StateStore {
    /// Saves all of `state`.
    public func save(_ state: PersistedState) throws {
        try save(state, changes: .everything)
    }
}

/// What one save changes.
public struct StateChange: Sendable, Hashable {
    /// Stations whose record was added, changed or removed.
    public var stations: Set<String> = []
    /// Active transactions that were added or removed.
    public var transactions: Set<Int> = []
    public var lastTransactionID = false
    /// Anything may have changed: the store writes the whole state.
    public var everything = false

    public init(stations: Set<String> = [], transactions: Set<Int> = [], lastTransactionID: Bool = false) {
        self.stations = stations
        self.transactions = transactions
        self.lastTransactionID = lastTransactionID
    }

    public static let everything: StateChange = {
        var change = StateChange()
        change.everything = true
        return change
    }()

    public static func station(_ id: String) -> StateChange { StateChange(stations: [id]) }
}

/// Why the store could not be used.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// Keeps ``PersistedState`` as one JSON file, replaced atomically on every change, and the history as
/// `transactions.jsonl`, one JSON object per ended transaction, appended.
public struct FileStateStore: StateStore {
    public let url: URL
    public let historyURL: URL

    /// Uses `state.json` in `directory`, creating the directory if needed.
    public init(directory: String) throws {
        let directoryURL = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directoryURL, withIntermediateDirectories: true)
        } catch {
            throw StateStoreError(description: "cannot create data directory '\(directory)': \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: directoryURL.path) else {
            throw StateStoreError(description: "data directory '\(directory)' is not writable")
        }
        url = directoryURL.appendingPathComponent("state.json")
        historyURL = directoryURL.appendingPathComponent("transactions.jsonl")
    }

    private static func historyEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public func record(_ transaction: CompletedTransaction) throws {
        do {
            var line = try Self.historyEncoder().encode(transaction)
            line.append(UInt8(ascii: "\n"))
            if !FileManager.default.fileExists(atPath: historyURL.path) {
                FileManager.default.createFile(atPath: historyURL.path, contents: nil)
            }
            let handle = try FileHandle(forUpdating: historyURL)
            defer { try? handle.close() }
            let end = try handle.seekToEnd()
            if end > 0 {
                // A line torn by a crash is closed first, so this record is not glued onto it.
                try handle.seek(toOffset: end - 1)
                if try handle.read(upToCount: 1) != Data("\n".utf8) { line.insert(UInt8(ascii: "\n"), at: 0) }
                try handle.seekToEnd()
            }
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw StateStoreError(description: "cannot write '\(historyURL.path)': \(error.localizedDescription)")
        }
    }

    public func history(station: String?, since: Date?) throws -> [CompletedTransaction] {
        guard let data = FileManager.default.contents(atPath: historyURL.path) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        // A line cut short by a crash is skipped, not fatal.
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(CompletedTransaction.self, from: Data($0)) }
            .filter { (station == nil || $0.station == station) && (since == nil || $0.stoppedAt >= since!) }
    }

    public func load() throws -> PersistedState {
        guard FileManager.default.fileExists(atPath: url.path) else { return PersistedState() }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(PersistedState.self, from: Data(contentsOf: url))
        } catch {
            throw StateStoreError(description: "cannot read '\(url.path)': \(error)")
        }
    }

    public func save(_ state: PersistedState, changes: StateChange) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        do {
            try encoder.encode(state).write(to: url, options: .atomic)
        } catch {
            throw StateStoreError(description: "cannot write '\(url.path)': \(error.localizedDescription)")
        }
    }
}

/// Keeps ``PersistedState`` in memory; for tests and for running without a data directory.
public final class InMemoryStateStore: StateStore, @unchecked Sendable {
    private let lock = NSLock()
    private var state: PersistedState
    private var completed: [CompletedTransaction] = []

    public init(_ state: PersistedState = PersistedState()) {
        self.state = state
    }

    public func load() throws -> PersistedState {
        lock.withLock { state }
    }

    public func save(_ state: PersistedState, changes: StateChange) throws {
        lock.withLock { self.state = state }
    }

    public func record(_ transaction: CompletedTransaction) throws {
        lock.withLock { completed.append(transaction) }
    }

    public func history(station: String?, since: Date?) throws -> [CompletedTransaction] {
        lock.withLock { completed }.filter { (station == nil || $0.station == station) && (since == nil || $0.stoppedAt >= since!) }
    }
}
