import CentralSystem
import Foundation
import MQTTBridge

/// The files of the versions before the SQLite store, in DATA_DIR: `state.json` (the central system's state),
/// `transactions.jsonl` (the history, one JSON object per line) and `outbox.jsonl` (``OutboxLines``). Read once,
/// when a new database is made, and then renamed `*.migrated`. Frozen: these types mirror what those versions
/// wrote, whatever today's types become.
struct LegacyFiles {
    let state: URL
    let history: URL
    let outbox: URL

    init(directory: String) {
        let directory = URL(fileURLWithPath: directory, isDirectory: true)
        state = directory.appendingPathComponent("state.json")
        history = directory.appendingPathComponent("transactions.jsonl")
        outbox = directory.appendingPathComponent("outbox.jsonl")
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The central system's state; an empty one when there is no file.
    /// - Throws: ``StateStoreError`` for a file that cannot be read as the state.
    func loadState() throws -> PersistedState {
        guard let data = FileManager.default.contents(atPath: state.path) else { return PersistedState() }
        do {
            return try Self.decoder().decode(StateFile.self, from: data).persisted
        } catch {
            throw StateStoreError(description: "cannot read '\(state.path)': \(error)")
        }
    }

    /// The ended transactions; a line cut short by a crash is skipped.
    func loadHistory() -> [CompletedTransaction] {
        guard let data = FileManager.default.contents(atPath: history.path) else { return [] }
        let decoder = Self.decoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(HistoryLine.self, from: Data($0)).completed }
    }

    /// The outbox's entries; a line torn by a crash is skipped.
    func loadOutbox() -> [OutboxEntry] {
        FileManager.default.contents(atPath: outbox.path).map(OutboxLines.decode) ?? []
    }

    /// Renames the files that exist to `*.migrated`.
    func retire() throws {
        for file in [state, history, outbox] where FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.moveItem(atPath: file.path, toPath: file.path + ".migrated")
        }
    }

    // MARK: The formats

    private struct StateFile: Decodable {
        var lastTransactionID: Int
        var stations: [String: Station]
        var activeTransactions: [Int: ActiveTransaction]

        var persisted: PersistedState {
            PersistedState(
                lastTransactionID: lastTransactionID, stations: stations.mapValues(\.record),
                activeTransactions: activeTransactions.mapValues(\.transaction))
        }
    }

    private struct Station: Decodable {
        var chargingEnabled: Bool
        var boot: Boot?
        var lastSeen: Date?
        var connectors: [Int: Connector]?

        var record: StationRecord {
            StationRecord(
                chargingEnabled: chargingEnabled,
                boot: boot.map { BootFacts(vendor: $0.vendor, model: $0.model, serialNumber: $0.serialNumber, firmwareVersion: $0.firmwareVersion) },
                lastSeen: lastSeen, connectors: connectors?.mapValues { ConnectorStatus(status: $0.status, errorCode: $0.errorCode) },
                currentLimit: .unknown)
        }
    }

    private struct Boot: Decodable {
        var vendor: String
        var model: String
        var serialNumber: String?
        var firmwareVersion: String?
    }

    private struct Connector: Decodable {
        var status: String
        var errorCode: String
    }

    private struct ActiveTransaction: Decodable {
        var id: Int
        var station: String
        var connectorId: Int
        var idTag: String
        var meterStart: Int
        var startedAt: Date

        var transaction: Transaction {
            Transaction(id: id, station: station, connectorId: connectorId, idTag: idTag, meterStart: meterStart, startedAt: startedAt)
        }
    }

    private struct HistoryLine: Decodable {
        var id: Int
        var station: String
        var connectorId: Int?
        var idTag: String?
        var meterStart: Int?
        var meterStop: Int
        var startedAt: Date?
        var stoppedAt: Date
        var stopReason: String

        var completed: CompletedTransaction {
            CompletedTransaction(id: id, station: station, connectorId: connectorId, idTag: idTag, meterStart: meterStart,
                                 meterStop: meterStop, startedAt: startedAt, stoppedAt: stoppedAt, stopReason: stopReason)
        }
    }
}
