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

/// Per-station settings kept across restarts.
public struct StationRecord: Codable, Sendable, Hashable {
    /// The `charging_enabled` switch: while off, Authorize and StartTransaction answer `Blocked`.
    public var chargingEnabled: Bool

    public init(chargingEnabled: Bool = true) {
        self.chargingEnabled = chargingEnabled
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

/// Where ``PersistedState`` lives. Small on purpose, so the core can be tested with an in-memory store.
public protocol StateStore: Sendable {
    func load() throws -> PersistedState
    func save(_ state: PersistedState) throws
}

/// Why the store could not be used.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String
}

/// Keeps ``PersistedState`` as one JSON file, replaced atomically on every change.
public struct FileStateStore: StateStore {
    public let url: URL

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

    public func save(_ state: PersistedState) throws {
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

    public init(_ state: PersistedState = PersistedState()) {
        self.state = state
    }

    public func load() throws -> PersistedState {
        lock.withLock { state }
    }

    public func save(_ state: PersistedState) throws {
        lock.withLock { self.state = state }
    }
}
