import Foundation
import OCPP
import Relay

/// Relay mode's durable queue and stand-in facts (schema 8).
extension SQLiteStore: RelayStore {
    public func relayBacklog(of station: String) throws -> RelayBacklog {
        try locked {
            var backlog = RelayBacklog()
            try database.run("SELECT sequence, frame, local_transaction FROM relay_queue WHERE station = ? ORDER BY sequence", [.text(station)]) { row in
                backlog.messages.append((Int64(row.int(0) ?? 0), QueuedMessage(frame: row.bytes(1), localTransaction: row.int(2))))
            }
            try database.run("SELECT boot, interval, boot_owed, next_local_transaction FROM relay_stations WHERE station = ?", [.text(station)]) { row in
                let boot = row.bytes(0)
                backlog.facts = RelayFacts(boot: boot.isEmpty ? nil : Data(boot), interval: row.int(1) ?? 300, bootOwed: row.int(2) != 0,
                                           nextLocalTransaction: row.int(3) ?? RelayFacts.localTransactionIDs.lowerBound)
            }
            try database.run("SELECT local_id, upstream_id FROM relay_transactions WHERE station = ?", [.text(station)]) { row in
                if let local = row.int(0), let upstream = row.int(1) { backlog.links[local] = upstream }
            }
            try database.run("SELECT tag, status, expiry, parent FROM relay_tags WHERE station = ?", [.text(station)]) { row in
                guard let tag = row.text(0), let status = row.text(1).flatMap(AuthorizationStatus.init(rawValue:)) else { return }
                backlog.verdicts[tag] = TagVerdict(status: status, expiry: row.int(2).map(Self.date), parentIdTag: row.text(3))
            }
            return backlog
        }
    }

    public func appendRelayMessage(_ message: QueuedMessage, station: String) throws -> Int64 {
        try locked {
            try database.run("INSERT INTO relay_queue (station, frame, local_transaction) VALUES (?, ?, ?)",
                             [.text(station), .blob(message.frame), message.localTransaction.map { .int(Int64($0)) } ?? .null])
            return database.lastInsertedRow
        }
    }

    public func removeRelayMessages(_ sequence: [Int64]) throws {
        try locked {
            for number in sequence { try database.run("DELETE FROM relay_queue WHERE sequence = ?", [.int(number)]) }
        }
    }

    public func saveRelayFacts(_ facts: RelayFacts, station: String) throws {
        try locked {
            try database.run("""
                INSERT INTO relay_stations (station, boot, interval, boot_owed, next_local_transaction) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (station) DO UPDATE SET boot = excluded.boot, interval = excluded.interval, boot_owed = excluded.boot_owed,
                    next_local_transaction = excluded.next_local_transaction
                """, [.text(station), facts.boot.map { .blob(Array($0)) } ?? .null, .int(Int64(facts.interval)), .int(facts.bootOwed ? 1 : 0),
                      .int(Int64(facts.nextLocalTransaction))])
        }
    }

    public func saveTransactionLink(local: Int, upstream: Int?, station: String) throws {
        try locked {
            if let upstream {
                try database.run("INSERT OR REPLACE INTO relay_transactions (station, local_id, upstream_id) VALUES (?, ?, ?)",
                                 [.text(station), .int(Int64(local)), .int(Int64(upstream))])
            } else {
                try database.run("DELETE FROM relay_transactions WHERE station = ? AND local_id = ?", [.text(station), .int(Int64(local))])
            }
        }
    }

    public func saveTagVerdict(_ verdict: TagVerdict, tag: String, station: String) throws {
        try locked {
            try database.run("INSERT OR REPLACE INTO relay_tags (station, tag, status, expiry, parent) VALUES (?, ?, ?, ?, ?)",
                             [.text(station), .text(tag), .text(verdict.status.rawValue), verdict.expiry.map { .int(Self.millis($0)) } ?? .null,
                              verdict.parentIdTag.map { .text($0) } ?? .null])
        }
    }
}
