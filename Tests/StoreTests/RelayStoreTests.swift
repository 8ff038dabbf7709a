import CentralSystem
import Foundation
import OCPP
import Relay
import Testing

@testable import Store

/// Relay mode's durable queue (schema 8): what a station's line keeps survives a reopen, as after a kill.
@Suite struct RelayStoreTests {
    @Test func theQueueFactsLinksAndVerdictsSurviveAReopen() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expiry = Date(timeIntervalSince1970: 1_900_000_000.25)
        do {
            let store = try SQLiteStore(directory: dir)
            let first = try store.appendRelayMessage(QueuedMessage(frame: Array(#"[2,"1","StartTransaction",{}]"#.utf8), localTransaction: 2_100_000_000), station: "CP1")
            let second = try store.appendRelayMessage(QueuedMessage(frame: Array(#"[2,"2","MeterValues",{}]"#.utf8)), station: "CP1")
            _ = try store.appendRelayMessage(QueuedMessage(frame: Array(#"[2,"3","Heartbeat",{}]"#.utf8)), station: "CP2")
            let third = try store.appendRelayMessage(QueuedMessage(frame: Array(#"[2,"4","StopTransaction",{}]"#.utf8)), station: "CP1")
            #expect(first < second && second < third)
            try store.removeRelayMessages([second])
            try store.saveRelayFacts(RelayFacts(boot: Data("{}".utf8), interval: 120, bootOwed: true, nextLocalTransaction: 2_100_000_001), station: "CP1")
            try store.saveTransactionLink(local: 2_100_000_000, upstream: 77, station: "CP1")
            try store.saveTransactionLink(local: 2_100_000_005, upstream: 78, station: "CP1")
            try store.saveTransactionLink(local: 2_100_000_005, upstream: nil, station: "CP1")
            try store.saveTagVerdict(TagVerdict(status: .accepted, expiry: expiry, parentIdTag: "FLEET"), tag: "tag-1", station: "CP1")
            try store.saveTagVerdict(TagVerdict(status: .blocked), tag: "tag-2", station: "CP1")
        }
        let backlog = try SQLiteStore(directory: dir).relayBacklog(of: "CP1")
        #expect(backlog.messages.map { String(decoding: $0.message.frame, as: UTF8.self) } == [#"[2,"1","StartTransaction",{}]"#, #"[2,"4","StopTransaction",{}]"#])
        #expect(backlog.messages.map(\.message.localTransaction) == [2_100_000_000, nil])
        #expect(backlog.facts == RelayFacts(boot: Data("{}".utf8), interval: 120, bootOwed: true, nextLocalTransaction: 2_100_000_001))
        #expect(backlog.links == [2_100_000_000: 77])
        #expect(backlog.verdicts == ["tag-1": TagVerdict(status: .accepted, expiry: expiry, parentIdTag: "FLEET"), "tag-2": TagVerdict(status: .blocked)])
        let empty = try SQLiteStore(directory: dir).relayBacklog(of: "CP3")
        #expect(empty.messages.isEmpty && empty.facts == RelayFacts() && empty.links.isEmpty && empty.verdicts.isEmpty)
    }

    @Test func whoStartedATransactionIsKeptOpenAndEnded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("provider-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        do {
            let store = try SQLiteStore(directory: dir)
            var state = PersistedState()
            state.activeTransactions[7] = Transaction(id: 7, station: "CP1", connectorId: 1, idTag: "T", meterStart: 0, startedAt: start, provider: "energy")
            try store.save(state)
            try store.record(CompletedTransaction(id: 6, station: "CP1", connectorId: 1, idTag: "T", meterStart: 0, meterStop: 10,
                                                  startedAt: start, stoppedAt: start, stopReason: "Local", provider: "mqtt"))
        }
        let store = try SQLiteStore(directory: dir)
        #expect(try (store as StateStore).load().activeTransactions[7]?.provider == "energy")
        #expect(try store.history(station: nil, since: nil).map(\.provider) == ["mqtt"])
    }
}
