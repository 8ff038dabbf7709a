import CentralSystem
import Foundation

/// The central system's state and the transaction history.
extension SQLiteStore {
    public func load() throws -> PersistedState {
        try locked { try readState() }
    }

    /// Writes what `save` changed, nothing else: a station's status is one or two rows, whatever the fleet's size.
    /// A station whose newer save was written already is left alone.
    public func save(_ save: StateSave) throws {
        try locked {
            try database.transaction { try write(save) }
        }
    }

    /// Writes `save` (inside a transaction).
    func write(_ save: StateSave) throws {
        if save.replacesAll {
            try database.execute("DELETE FROM stations; DELETE FROM connector_status; DELETE FROM active_transactions; DELETE FROM transactions_201;")
        }
        if let last = save.lastTransactionID {
            // Never lowered by a save that arrives late.
            let kept = save.replacesAll ? last : max(last, try meta("last_transaction_id") ?? 0)
            try setMeta("last_transaction_id", Int64(kept))
        }
        for station in save.stations where revisions.isNewer(station.id, in: save) {
            try writeStation(station.id, station.record)
        }
        for active in save.transactions {
            if let transaction = active.transaction {
                try database.run("INSERT OR REPLACE INTO active_transactions (id, station, connector_id, id_tag, meter_start, started_at, provider) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [.int(Int64(active.id)), .text(transaction.station), .int(Int64(transaction.connectorId)), .text(transaction.idTag),
                                  .int(Int64(transaction.meterStart)), .int(Self.millis(transaction.startedAt)), .init(transaction.provider)])
            } else {
                try database.run("DELETE FROM active_transactions WHERE id = ?", [.int(Int64(active.id))])
            }
        }
        for open in save.transactions201 {
            if let transaction = open.transaction {
                try database.run("""
                    INSERT OR REPLACE INTO transactions_201 (station, id, evse, id_token, meter_start, started_at, highest_seq_no,
                    provider, last_energy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(open.station), .text(open.id), transaction.evse.map { .int(Int64($0)) } ?? .null, .init(transaction.idToken),
                          transaction.meterStart.map { .double($0) } ?? .null, .int(Self.millis(transaction.startedAt)),
                          .int(Int64(transaction.highestSeqNo)), .init(transaction.provider), transaction.lastEnergy.map { .double($0) } ?? .null])
            } else {
                try database.run("DELETE FROM transactions_201 WHERE station = ? AND id = ?", [.text(open.station), .text(open.id)])
            }
        }
    }

    private func writeStation(_ id: String, _ record: StationRecord?) throws {
        guard let record else {
            try database.run("DELETE FROM stations WHERE id = ?", [.text(id)])
            try database.run("DELETE FROM connector_status WHERE station = ?", [.text(id)])
            return
        }
        try database.run("""
                INSERT INTO stations (id, charging_enabled, vendor, model, serial_number, firmware_version, last_seen, current_limit)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET charging_enabled = excluded.charging_enabled,
                vendor = excluded.vendor, model = excluded.model, serial_number = excluded.serial_number,
                firmware_version = excluded.firmware_version, last_seen = excluded.last_seen, current_limit = excluded.current_limit
                """, [.text(id), .int(record.chargingEnabled ? 1 : 0), .init(record.boot?.vendor), .init(record.boot?.model),
                      .init(record.boot?.serialNumber), .init(record.boot?.firmwareVersion),
                      record.lastSeen.map { .int(Self.millis($0)) } ?? .null, Self.column(record.currentLimit)])
        for (connector, status) in record.connectors ?? [:] {
            try database.run("INSERT OR REPLACE INTO connector_status (station, connector, status, error_code) VALUES (?, ?, ?, ?)",
                             [.text(id), .int(Int64(connector)), .text(status.status), .text(status.errorCode)])
        }
    }

    private func readState() throws -> PersistedState {
        var state = PersistedState()
        state.lastTransactionID = try meta("last_transaction_id") ?? 0
        try database.run("SELECT id, charging_enabled, vendor, model, serial_number, firmware_version, last_seen, current_limit FROM stations") { row in
            let boot = row.text(2).map { BootFacts(vendor: $0, model: row.text(3) ?? "", serialNumber: row.text(4), firmwareVersion: row.text(5)) }
            state.stations[row.text(0) ?? ""] = StationRecord(chargingEnabled: row.int(1) != 0, boot: boot, lastSeen: row.int(6).map(Self.date),
                                                              currentLimit: Self.currentLimit(row.double(7)))
        }
        try database.run("SELECT station, connector, status, error_code FROM connector_status") { row in
            let station = row.text(0) ?? ""
            state.stations[station, default: StationRecord()].connectors =
                (state.stations[station]?.connectors ?? [:]).merging([row.int(1) ?? 0: ConnectorStatus(status: row.text(2) ?? "", errorCode: row.text(3) ?? "")]) { _, new in new }
        }
        try database.run("SELECT id, station, connector_id, id_tag, meter_start, started_at, provider FROM active_transactions") { row in
            let id = row.int(0) ?? 0
            state.activeTransactions[id] = Transaction(
                id: id, station: row.text(1) ?? "", connectorId: row.int(2) ?? 0, idTag: row.text(3) ?? "",
                meterStart: row.int(4) ?? 0, startedAt: Self.date(row.int(5) ?? 0), provider: row.text(6))
        }
        try database.run("SELECT station, id, evse, id_token, meter_start, started_at, highest_seq_no, provider, last_energy FROM transactions_201") { row in
            let transaction = Transaction201(station: row.text(0) ?? "", id: row.text(1) ?? "", evse: row.int(2), idToken: row.text(3),
                                             meterStart: row.double(4), startedAt: Self.date(row.int(5) ?? 0), highestSeqNo: row.int(6) ?? -1,
                                             provider: row.text(7), lastEnergy: row.double(8))
            state.transactions201[transaction.key] = transaction
        }
        return state
    }

    public func record(_ transaction: CompletedTransaction) throws {
        try locked { try insert(transaction) }
    }

    func insert(_ t: CompletedTransaction) throws {
        // A stop the charger sends again (its answer was lost) has the same station, id and time: kept once.
        try database.run("""
            INSERT INTO transactions (id, station, connector_id, id_tag, meter_start, meter_stop, started_at, stopped_at, stop_reason, provider,
                                      charger_transaction_id)
            SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
            WHERE NOT EXISTS (SELECT 1 FROM transactions WHERE station = ?2 AND stopped_at = ?8 AND id = ?1
                              AND charger_transaction_id IS ?11)
            """, [.int(Int64(t.id)), .text(t.station), .init(t.connectorId), .init(t.idTag), .init(t.meterStart),
                  .int(Int64(t.meterStop)), t.startedAt.map { .int(Self.millis($0)) } ?? .null, .int(Self.millis(t.stoppedAt)),
                  .text(t.stopReason), .init(t.provider), .init(t.chargerTransactionId)])
    }

    public func history(station: String?, since: Date?) throws -> [CompletedTransaction] {
        try locked {
            var out: [CompletedTransaction] = []
            var sql = "SELECT id, station, connector_id, id_tag, meter_start, meter_stop, started_at, stopped_at, stop_reason, provider, charger_transaction_id FROM transactions WHERE stopped_at >= ?"
            var values: [SQLiteDatabase.Value] = [.int(since.map(Self.millis) ?? Int64.min)]
            if let station {
                sql += " AND station = ?"
                values.append(.text(station))
            }
            try database.run(sql + " ORDER BY stopped_at, rowid", values) { row in
                out.append(CompletedTransaction(
                    id: row.int(0) ?? 0, station: row.text(1) ?? "", connectorId: row.int(2), idTag: row.text(3),
                    meterStart: row.int(4), meterStop: row.int(5) ?? 0, startedAt: row.int(6).map(Self.date),
                    stoppedAt: Self.date(row.int(7) ?? 0), stopReason: row.text(8) ?? "", provider: row.text(9),
                    chargerTransactionId: row.text(10)))
            }
            return out
        }
    }

    /// `current_limit`: NULL for none, -1 for not known, else the amperes.
    private static func column(_ limit: CurrentLimit) -> SQLiteDatabase.Value {
        switch limit {
        case .none: .null
        case .unknown: .double(-1)
        case .amperes(let amperes): .double(amperes)
        }
    }

    private static func currentLimit(_ value: Double?) -> CurrentLimit {
        guard let value else { return .none }
        return value < 0 ? .unknown : .amperes(value)
    }
}
