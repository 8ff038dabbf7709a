import Foundation
import OCPP
import Synchronization

/// What the central system keeps of each station: the charging switch, the last known state, the history.
extension CentralSystem {
    /// Whether the station's `charging_enabled` switch is on (it is unless turned off).
    public func chargingEnabled(station: String) -> Bool {
        state.withLock { $0.persisted.stations[station]?.chargingEnabled ?? true }
    }

    /// Turns a station's `charging_enabled` switch on or off; kept across restarts.
    public func setChargingEnabled(_ enabled: Bool, station: String) throws {
        let (before, save) = state.withLock { state in
            let before = state.persisted.stations[station]?.chargingEnabled ?? true
            state.persisted.stations[station, default: StationRecord()].chargingEnabled = enabled
            return (before, state.save(stations: [station]))
        }
        do {
            try store.save(save)
        } catch {
            // Not kept: back to what it was, unless it was changed again meanwhile.
            state.withLock { state in
                if state.persisted.stations[station]?.chargingEnabled == enabled { state.persisted.stations[station]?.chargingEnabled = before }
            }
            throw error
        }
        logger.info("Charging switch changed", metadata: ["ocpp.station_id": "\(station)", "ocpp.charging_enabled": "\(enabled)"])
        emit(.chargingEnabledChanged(station: station, enabled: enabled))
    }

    /// What the store knows of each station: its switch and last known state.
    public var stationRecords: [String: StationRecord] {
        state.withLock { $0.persisted.stations }
    }

    /// What the store knows of one station.
    public func stationRecord(_ station: String) -> StationRecord? {
        state.withLock { $0.persisted.stations[station] }
    }

    /// Keeps the current limit the gateway set on a station (kept across restarts).
    public func noteCurrentLimit(_ amperes: Double, station: String) {
        remember(station) { $0.currentLimit = .amperes(amperes) }
    }

    /// Changes a station's record and saves it when it changed. Failures are logged: the last known state is a
    /// convenience, not worth refusing a charger's message for.
    func remember(_ station: String, _ change: (inout StationRecord) -> Void) {
        let save = state.withLock { state -> StateSave? in
            let before = state.persisted.stations[station]
            var record = before ?? StationRecord()
            change(&record)
            guard record != before else { return nil }
            state.persisted.stations[station] = record
            return state.save(stations: [station])
        }
        guard let save else { return }
        saveLogged(save, station: station)
    }

    /// Saves a change whose failure is logged, not reported: it stays in memory and the station's next saved change
    /// writes it. A failing store (a full disk) is logged once, when it starts failing, and once when it works again,
    /// not for every message meanwhile.
    func saveLogged(_ save: StateSave, station: String) {
        do {
            try store.save(save)
            if saveFailing.exchange(false, ordering: .acquiringAndReleasing) {
                logger.notice("The state store can be written again")
            }
        } catch {
            if !saveFailing.exchange(true, ordering: .acquiringAndReleasing) {
                logger.error("Cannot save a station's state; kept in memory, and further failures are not logged until a save succeeds", metadata: [
                    "ocpp.station_id": "\(station)", "error": "\(error)",
                ])
            }
        }
    }

    /// Every station that has ever connected (kept across restarts).
    public var knownStations: [String] {
        state.withLock { Array($0.persisted.stations.keys) }.sorted()
    }

    /// Ended transactions, oldest first, of one station (or all) that stopped at or after `since`.
    public func history(station: String? = nil, since: Date? = nil) throws -> [CompletedTransaction] {
        try store.history(station: station, since: since)
    }

    /// Transactions started and not yet stopped.
    public var activeTransactions: [Transaction] {
        state.withLock { Array($0.persisted.activeTransactions.values) }.sorted { $0.id < $1.id }
    }
}
