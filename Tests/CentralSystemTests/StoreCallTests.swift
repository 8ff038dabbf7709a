import CentralSystem
import Foundation
import OCPP
import Synchronization
import TestSupport
import Testing

/// The central system writes to its store after releasing its own lock, and a store that fails leaves no change
/// the charger was told about.
@Suite(.timeLimit(.minutes(1))) struct StoreCallTests {
    /// A store that reads the central system from inside every save (as a slow disk lets other threads do): with
    /// the central system's lock held around the save, this would deadlock.
    final class ReentrantStore: StateStore, @unchecked Sendable {
        let inner = InMemoryStateStore()
        var central: CentralSystem?
        let saves = Mutex(0)
        let failing = Mutex(false)

        func load() throws -> PersistedState { try inner.load() }
        func save(_ save: StateSave) throws {
            _ = central?.activeTransactions
            _ = central?.knownStations
            saves.withLock { $0 += 1 }
            if failing.withLock({ $0 }) { throw StateStoreError(description: "disk full") }
            try inner.save(save)
        }
        func record(_ transaction: CompletedTransaction) throws { try inner.record(transaction) }
        func history(station: String?, since: Date?) throws -> [CompletedTransaction] { try inner.history(station: station, since: since) }
    }

    @Test func savesHappenOutsideTheCentralSystemsLock() async throws {
        let store = ReentrantStore()
        let central = try CentralSystem.make(store: store)
        store.central = central
        let link = await central.connect("CP1")
        let start = try await central.request(StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 10, timestamp: someDate), on: link)
        try central.setChargingEnabled(false, station: "CP1")
        _ = try await central.request(StopTransactionRequest(transactionId: start.transactionId, meterStop: 20, timestamp: someDate), on: link)
        #expect(store.saves.withLock { $0 } >= 4)
        #expect(try store.inner.load().stations["CP1"]?.chargingEnabled == false)
        #expect(try store.inner.load().activeTransactions.isEmpty)
    }

    @Test func aFailedSaveUndoesWhatTheChargerWasNotToldAbout() async throws {
        let store = ReentrantStore()
        let central = try CentralSystem.make(store: store)
        let link = await central.connect("CP1")
        let first = try await central.request(StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 0, timestamp: someDate), on: link)
        store.failing.withLock { $0 = true }
        // The start is refused with an error and leaves no open transaction; the switch stays as it was.
        let refused = try await central.exchange(
            #"[2,"s2","StartTransaction",{"connectorId":2,"idTag":"TAG-1","meterStart":0,"timestamp":"2026-11-21T10:00:00Z"}]"#, on: link)
        guard case .callError(let error) = refused else {
            Issue.record("expected a CallError, got \(refused)")
            return
        }
        #expect(error.code == .internalError)
        #expect(central.activeTransactions.map(\.id) == [first.transactionId])
        #expect(throws: StateStoreError.self) { try central.setChargingEnabled(false, station: "CP1") }
        #expect(central.chargingEnabled(station: "CP1"))
        // The stop of the open transaction is refused too, and the transaction stays open for the charger's retry.
        let stop = try await central.exchange(
            #"[2,"s3","StopTransaction",{"meterStop":5,"timestamp":"2026-11-21T10:00:00Z","transactionId":\#(first.transactionId)}]"#, on: link)
        if case .callError = stop {} else { Issue.record("expected a CallError, got \(stop)") }
        #expect(central.activeTransactions.map(\.id) == [first.transactionId])
        // Once the store works again, ids go on growing: the refused start's id is not handed out again.
        store.failing.withLock { $0 = false }
        let next = try await central.request(StartTransactionRequest(connectorId: 2, idTag: "TAG-1", meterStart: 0, timestamp: someDate), on: link)
        #expect(next.transactionId == first.transactionId + 2)
    }
}
