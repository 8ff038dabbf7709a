import CentralSystem
import Foundation
import MQTTBridge

// The stores of the gateway's small store protocols, in memory, for tests.

/// Keeps ``PersistedState`` in memory.
public final class InMemoryStateStore: StateStore, @unchecked Sendable {
    private let lock = NSLock()
    private var state: PersistedState
    private var completed: [CompletedTransaction] = []
    private var revisions = StationRevisions()

    public init(_ state: PersistedState = PersistedState()) {
        self.state = state
    }

    public func load() throws -> PersistedState {
        lock.withLock { state }
    }

    public func save(_ save: StateSave) throws {
        lock.withLock {
            if save.replacesAll {
                state.stations = [:]
                state.activeTransactions = [:]
                state.transactions201 = [:]
            }
            for station in save.stations where revisions.isNewer(station.id, in: save) {
                state.stations[station.id] = station.record
            }
            for active in save.transactions { state.activeTransactions[active.id] = active.transaction }
            for open in save.transactions201 { state.transactions201[Transaction201.key(station: open.station, id: open.id)] = open.transaction }
            if let last = save.lastTransactionID { state.lastTransactionID = max(last, save.replacesAll ? last : state.lastTransactionID) }
        }
    }

    public func record(_ transaction: CompletedTransaction) throws {
        lock.withLock {
            // A repeated stop (same station, id and time) is kept once, as in the SQLite store.
            if !completed.contains(where: { $0.id == transaction.id && $0.chargerTransactionId == transaction.chargerTransactionId
                && $0.station == transaction.station && $0.stoppedAt == transaction.stoppedAt }) {
                completed.append(transaction)
            }
        }
    }

    public func history(station: String?, since: Date?) throws -> [CompletedTransaction] {
        lock.withLock { completed }.filter { (station == nil || $0.station == station) && (since == nil || $0.stoppedAt >= since!) }
    }
}

/// An outbox in memory.
public final class MemoryOutbox: OutboxStore, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [OutboxEntry]

    public init(_ entries: [OutboxEntry] = []) {
        self.entries = entries
    }

    public func load() throws -> [OutboxEntry] { lock.withLock { entries } }
    public func append(_ entries: [OutboxEntry]) throws { lock.withLock { self.entries += entries } }
    public func dropAcknowledged(below first: UInt64?) throws {
        lock.withLock { entries.removeAll { entry in first.map { entry.sequence < $0 } ?? true } }
    }
}

/// Commands in memory.
public final class MemoryCommandStore: CommandStore, @unchecked Sendable {
    private let lock = NSLock()
    private var next: Int64 = 1
    private var all: [StoredCommand] = []

    public init() {}

    public func add(_ command: StoredCommand) throws -> Int64 {
        lock.withLock {
            var stored = command
            stored.id = next
            next += 1
            all.append(stored)
            return stored.id
        }
    }

    public func markSent(_ id: Int64, _ sent: Bool) throws {
        lock.withLock {
            if let index = all.firstIndex(where: { $0.id == id }) { all[index].sent = sent }
        }
    }

    public func remove(_ id: Int64) throws {
        lock.withLock { all.removeAll { $0.id == id } }
    }

    public func storedCommands() throws -> [StoredCommand] {
        lock.withLock { all }
    }
}
