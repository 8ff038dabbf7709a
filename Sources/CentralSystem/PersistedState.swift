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
    /// OCPP 2.0.1 stations' open transactions (the charger's ids), by ``Transaction201/key``.
    public var transactions201: [String: Transaction201]

    public init(lastTransactionID: Int = 0, stations: [String: StationRecord] = [:], activeTransactions: [Int: Transaction] = [:],
                transactions201: [String: Transaction201] = [:]) {
        self.lastTransactionID = lastTransactionID
        self.stations = stations
        self.activeTransactions = activeTransactions
        self.transactions201 = transactions201
    }
}

/// An OCPP 2.0.1 transaction the charger has not ended, as kept across restarts: what orders its events and what its
/// session energy counts from.
public struct Transaction201: Codable, Sendable, Hashable {
    public var station: String
    /// The charger's own id.
    public var id: String
    public var evse: Int?
    public var idToken: String?
    /// The energy register at its start, Wh: the Started event's Transaction.Begin reading, else its first reading.
    public var meterStart: Double?
    /// The time of its first event.
    public var startedAt: Date
    /// The highest seqNo applied. Kept as of the last save (at the start, when the meter start is learned): after a
    /// restart, events above it apply.
    public var highestSeqNo: Int
    /// Who started it (``Transaction/provider``).
    public var provider: String?
    /// The last energy register reading (Wh), for the history's meter stop when Ended carries none (kept as of the
    /// last save).
    public var lastEnergy: Double?

    public init(station: String, id: String, evse: Int?, idToken: String?, meterStart: Double?, startedAt: Date, highestSeqNo: Int,
                provider: String? = nil, lastEnergy: Double? = nil) {
        self.provider = provider
        self.lastEnergy = lastEnergy
        self.station = station
        self.id = id
        self.evse = evse
        self.idToken = idToken
        self.meterStart = meterStart
        self.startedAt = startedAt
        self.highestSeqNo = highestSeqNo
    }

    /// Its key in ``PersistedState/transactions201``: the station and the id.
    public var key: String { Self.key(station: station, id: id) }
    public static func key(station: String, id: String) -> String { "\(station)\u{1F}\(id)" }
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
    /// The current limit the gateway last set on the whole charger.
    public var currentLimit: CurrentLimit

    public init(
        chargingEnabled: Bool = true, boot: BootFacts? = nil, lastSeen: Date? = nil, connectors: [Int: ConnectorStatus]? = nil,
        currentLimit: CurrentLimit = .none
    ) {
        self.chargingEnabled = chargingEnabled
        self.boot = boot
        self.lastSeen = lastSeen
        self.connectors = connectors
        self.currentLimit = currentLimit
    }

    /// A status of a connector (an EVSE for OCPP 2.0.1) above 1 was kept: the station has more than one.
    public var hasSeveralConnectors: Bool {
        connectors?.keys.contains { $0 > 1 } ?? false
    }
}

/// The current limit the gateway set on a charger (the MQTT `max_current` control's TxDefaultProfile).
public enum CurrentLimit: Codable, Sendable, Hashable {
    /// None set: the charger's own maximum applies.
    case none
    /// This many amperes.
    case amperes(Double)
    /// Not known: the station was first kept by a version that did not keep its limit.
    case unknown
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
    /// Who started it: `charger` (a tag at the charger), `mqtt` (the MQTT `remote_start`), or in relay mode the
    /// backend whose accepted RemoteStartTransaction led to it (`primary`, a secondary's name). Nil before 0.6.
    public var provider: String?

    public init(id: Int, station: String, connectorId: Int, idTag: String, meterStart: Int, startedAt: Date, provider: String? = nil) {
        self.provider = provider
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
    /// The central system's id (0 for an OCPP 2.0.1 transaction: ``chargerTransactionId`` is its id).
    public var id: Int
    /// OCPP 2.0.1: the charger's own transaction id.
    public var chargerTransactionId: String?
    public var station: String
    /// nil for a transaction the gateway did not see start (started before its data was lost, or elsewhere).
    public var connectorId: Int?
    public var idTag: String?
    public var meterStart: Int?
    public var meterStop: Int
    public var startedAt: Date?
    public var stoppedAt: Date
    public var stopReason: String
    /// Who started it (``Transaction/provider``); nil when not known.
    public var provider: String?

    /// Wh charged, when the start is known.
    public var energy: Int? { meterStart.map { meterStop - $0 } }

    /// The id as the history shows it: the charger's for OCPP 2.0.1, else the central system's.
    public var displayID: String { chargerTransactionId ?? String(id) }

    public init(
        id: Int, station: String, connectorId: Int?, idTag: String?, meterStart: Int?, meterStop: Int,
        startedAt: Date?, stoppedAt: Date, stopReason: String, provider: String? = nil, chargerTransactionId: String? = nil
    ) {
        self.chargerTransactionId = chargerTransactionId
        self.provider = provider
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
    /// Writes what one change of the central system's state changed (its records as they are after it). The central
    /// system calls it after releasing its own lock, so saves may arrive out of order: of two saves of one station,
    /// the store keeps the one with the higher ``StateSave/revision``.
    func save(_ save: StateSave) throws
    /// Stations the store dropped when it was opened (an upgrade's clean-up), for the bridge to clear on MQTT.
    var forgottenStations: [String] { get }
    /// Adds an ended transaction to the history; a stop the charger repeats (same station, id and stop time) is kept once.
    func record(_ transaction: CompletedTransaction) throws
    /// Ended transactions, oldest first, of one station (or all) that stopped at or after `since`.
    func history(station: String?, since: Date?) throws -> [CompletedTransaction]
}

extension StateStore {
    public var forgottenStations: [String] { [] }

    /// Replaces everything the store holds with `state`.
    public func save(_ state: PersistedState) throws {
        try save(.everything(state))
    }
}

/// What one change of the central system's state writes: the records it touched, as they are after it.
public struct StateSave: Sendable, Hashable {
    /// A station's record; nil when it was removed.
    public struct Station: Sendable, Hashable {
        public var id: String
        public var record: StationRecord?
        public init(id: String, record: StationRecord?) {
            self.id = id
            self.record = record
        }
    }

    /// An active transaction; nil when it ended.
    public struct ActiveTransaction: Sendable, Hashable {
        public var id: Int
        public var transaction: Transaction?
        public init(id: Int, transaction: Transaction?) {
            self.id = id
            self.transaction = transaction
        }
    }

    /// An OCPP 2.0.1 open transaction (``Transaction201``); nil when it ended.
    public struct OpenTransaction201: Sendable, Hashable {
        public var station: String
        public var id: String
        public var transaction: Transaction201?
        public init(station: String, id: String, transaction: Transaction201?) {
            self.station = station
            self.id = id
            self.transaction = transaction
        }
    }

    /// Increases with every save the central system makes (1, 2, ...).
    public var revision: UInt64
    public var stations: [Station]
    public var transactions: [ActiveTransaction]
    public var transactions201: [OpenTransaction201] = []
    /// The last transaction id handed out, when it changed.
    public var lastTransactionID: Int?
    /// The store's stations and active transactions are replaced by these (a whole state).
    public var replacesAll: Bool

    public init(
        revision: UInt64, stations: [Station] = [], transactions: [ActiveTransaction] = [], lastTransactionID: Int? = nil,
        replacesAll: Bool = false
    ) {
        self.revision = revision
        self.stations = stations
        self.transactions = transactions
        self.lastTransactionID = lastTransactionID
        self.replacesAll = replacesAll
    }

    /// All of `state`, replacing what the store holds.
    public static func everything(_ state: PersistedState) -> StateSave {
        var save = StateSave(
            revision: 0, stations: state.stations.map { Station(id: $0.key, record: $0.value) },
            transactions: state.activeTransactions.map { ActiveTransaction(id: $0.key, transaction: $0.value) },
            lastTransactionID: state.lastTransactionID, replacesAll: true)
        save.transactions201 = state.transactions201.values.map { OpenTransaction201(station: $0.station, id: $0.id, transaction: $0) }
        return save
    }
}

/// The revision of the last save written of each station, for stores that write saves as they come: a save older
/// than the one written last for a station leaves that station's record alone.
public struct StationRevisions: Sendable {
    private var written: [String: UInt64] = [:]

    public init() {}

    /// Whether `save`'s record of `station` is newer than what was written; if so, it counts as written.
    public mutating func isNewer(_ station: String, in save: StateSave) -> Bool {
        guard save.revision > 0 else { return true }
        if let last = written[station], last > save.revision { return false }
        written[station] = save.revision
        return true
    }
}

/// Why the store could not be used.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// Transaction ids are never handed out twice, even when the store is lost or restored from an old backup: the next
/// id is one more than the last, and never below the seconds since 2024-01-01 (UTC). A store restored from
/// yesterday's backup starts again at today's clock, above every id handed out since, unless more transactions
/// started than seconds passed (a counter that ran ahead of the clock), which a fleet starting under one transaction a
/// second on average never does. Ids stay within OCPP's 32-bit integers until 2092.
public enum TransactionIDs {
    /// 2024-01-01T00:00:00Z.
    public static let epoch = Date(timeIntervalSince1970: 1_704_067_200)

    /// The id after `last` at `moment`.
    public static func next(after last: Int, at moment: Date) -> Int {
        max(last + 1, floor(at: moment))
    }

    /// The lowest id handed out at `moment`.
    public static func floor(at moment: Date) -> Int {
        Int(max(0, moment.timeIntervalSince(epoch)).rounded(.down))
    }
}
