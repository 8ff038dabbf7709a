import Foundation
import OCPP
import Synchronization

/// Which stations the central system remembers: a new one from its first message on, up to `maxKnownStations`.
extension CentralSystem {
    /// Whether a connection for `station` may be taken: a known station always, a new one while fewer than
    /// `maxKnownStations` are remembered (the handshake answers 503 otherwise).
    public func acceptsConnection(of station: String) -> Bool {
        state.withLock { $0.persisted.stations[station] != nil || $0.persisted.stations.count < configuration.maxKnownStations }
    }

    /// A new station's first message: the station is remembered (saved) and its connection announced, in order
    /// before the message's own event. False when `maxKnownStations` are remembered already: the message is refused.
    func announce(_ link: Link, batch: DurableBatch?) -> Bool {
        let outcome = state.withLock { state -> (save: StateSave?, full: Bool) in
            if state.persisted.stations[link.station] != nil { return (nil, false) }
            guard state.persisted.stations.count < configuration.maxKnownStations else { return (nil, true) }
            state.persisted.stations[link.station] = StationRecord()
            return (state.save(stations: [link.station]), false)
        }
        guard !outcome.full else {
            if knownStationsFullLogged.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                link.logger.warning("Refusing new stations: the gateway remembers OCPP_MAX_KNOWN_STATIONS stations already; forget some (bridge/request/forget_station) or raise the setting", metadata: [
                    "ocpp.max_known_stations": "\(configuration.maxKnownStations)",
                ])
            }
            return false
        }
        knownStationsFullLogged.store(false, ordering: .releasing)
        if let save = outcome.save { saveLogged(save, station: link.station) }
        link.announced.set()
        emit(.connected(station: link.station, info: link.info), into: batch)
        // The status noted last, read again now: one the upstream's loop noted since the station became known was
        // emitted by it already, and emitting an older one after it would leave MQTT showing the older.
        upstreamEmission.withLock { _ in
            if let upstream = state.withLock({ $0.upstream[link.station] }) { emit(.upstream(station: link.station, upstream), into: batch) }
        }
        return true
    }
}
