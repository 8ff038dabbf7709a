import CentralSystem
import Foundation
import Testing

@testable import Store

/// Schema 10: OCPP 2.0.1 stations' open transactions survive a reopen, and leave with their end.
@Suite struct Transactions201StoreTests {
    @Test func openTransactionsSurviveAReopenAndLeaveWhenEnded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("t201-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date(timeIntervalSince1970: 1_795_269_090.5)
        let first = Transaction201(station: "CS1", id: "a-1", evse: 2, idToken: "tag", meterStart: 1234.5, startedAt: started, highestSeqNo: 3)
        let second = Transaction201(station: "CS1", id: "a-2", evse: nil, idToken: nil, meterStart: nil, startedAt: started, highestSeqNo: 0)
        do {
            let store = try SQLiteStore(directory: dir)
            var save = StateSave(revision: 1)
            save.transactions201 = [.init(station: "CS1", id: "a-1", transaction: first), .init(station: "CS1", id: "a-2", transaction: second)]
            try store.save(save)
        }
        do {
            let reopened = try SQLiteStore(directory: dir)
            #expect(try reopened.load().transactions201 == [first.key: first, second.key: second])
            var ended = StateSave(revision: 2)
            ended.transactions201 = [.init(station: "CS1", id: "a-1", transaction: nil)]
            try reopened.save(ended)
        }
        do {
            let store = try SQLiteStore(directory: dir)
            #expect(try store.load().transactions201 == [second.key: second])
            // A whole state replaces them too.
            try store.save(PersistedState())
        }
        #expect(try SQLiteStore(directory: dir).load().transactions201.isEmpty)
    }

    @Test func theHistoryKeepsA201TransactionsOwnIdOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("h201-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(directory: dir)
        let stopped = Date(timeIntervalSince1970: 1_795_269_090)
        let ended = CompletedTransaction(id: 0, station: "CS1", connectorId: 1, idTag: "t", meterStart: 10, meterStop: 30, startedAt: nil,
                                         stoppedAt: stopped, stopReason: "Local", provider: "charger", chargerTransactionId: "abc")
        var other = ended
        other.chargerTransactionId = "def"  // another transaction that stopped in the same millisecond
        try store.record(ended)
        try store.record(ended)  // the charger sent its Ended again
        try store.record(other)
        #expect(try store.history(station: "CS1", since: nil).map(\.chargerTransactionId) == ["abc", "def"])
    }
}
