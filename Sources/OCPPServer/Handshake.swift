import NIOHTTP1

/// The decision on a charger's WebSocket upgrade request, made before the upgrade.
enum HandshakeVerdict: Sendable, Hashable {
    /// Upgrade; echo `subprotocol` when the charger offered one.
    case accept(station: String, subprotocol: String?)
    /// Answer with an HTTP error instead of upgrading; `metric` names the refusal in metrics.
    case refuse(HTTPResponseStatus, reason: String, metric: String)

    /// The OCPP version this gateway speaks.
    static let subprotocol = "ocpp1.6"

    /// - Parameters:
    ///   - access: passwords and the allowlist.
    ///   - atCapacity: whether a new station would pass `OCPP_MAX_STATIONS` (a station already connected may
    ///     always reconnect, replacing its old connection).
    static func evaluate(
        _ head: HTTPRequestHead, access: StationAccess = StationAccess(), atCapacity: (String) -> Bool = { _ in false }
    ) -> HandshakeVerdict {
        let station: String
        switch StationPath.stationID(fromRequestTarget: head.uri) {
        case .success(let id): station = id
        case .failure(.missing): return .refuse(.notFound, reason: StationPath.Failure.missing.description, metric: "bad_station_id")
        case .failure(let failure): return .refuse(.badRequest, reason: failure.description, metric: "bad_station_id")
        }
        switch access.check(station: station, authorization: head.headers.first(name: "Authorization")) {
        case nil: break
        case .unknownStation?: return .refuse(.notFound, reason: "unknown station", metric: "unknown_station")
        case let refusal?: return .refuse(.unauthorized, reason: "authentication failed", metric: refusal.rawValue)
        }
        // canonicalForm splits comma-separated values and trims them.
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }.filter { !$0.isEmpty }
        // Several real chargers offer no subprotocol at all; they speak 1.6.
        guard offered.isEmpty || offered.contains(subprotocol) else {
            return .refuse(.badRequest, reason: "unsupported subprotocol \(offered.joined(separator: ", ")); this central system speaks \(subprotocol)",
                           metric: "bad_subprotocol")
        }
        if atCapacity(station) {
            return .refuse(.serviceUnavailable, reason: "too many stations connected (OCPP_MAX_STATIONS)", metric: "too_many_stations")
        }
        return .accept(station: station, subprotocol: offered.isEmpty ? nil : subprotocol)
    }
}
