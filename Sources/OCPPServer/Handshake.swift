import NIOHTTP1

/// The decision on a charger's WebSocket upgrade request, made before the upgrade.
enum HandshakeVerdict: Sendable, Hashable {
    /// Upgrade; echo `subprotocol` when the charger offered one.
    case accept(station: String, subprotocol: String?)
    /// Answer with an HTTP error instead of upgrading.
    case refuse(HTTPResponseStatus, reason: String)

    /// The OCPP version this gateway speaks.
    static let subprotocol = "ocpp1.6"

    static func evaluate(_ head: HTTPRequestHead) -> HandshakeVerdict {
        let station: String
        switch StationPath.stationID(fromRequestTarget: head.uri) {
        case .success(let id): station = id
        case .failure(.missing): return .refuse(.notFound, reason: StationPath.Failure.missing.description)
        case .failure(let failure): return .refuse(.badRequest, reason: failure.description)
        }
        // canonicalForm splits comma-separated values and trims them.
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }.filter { !$0.isEmpty }
        if offered.isEmpty {
            // Several real chargers offer no subprotocol at all; they speak 1.6.
            return .accept(station: station, subprotocol: nil)
        }
        if offered.contains(subprotocol) {
            return .accept(station: station, subprotocol: subprotocol)
        }
        return .refuse(.badRequest, reason: "unsupported subprotocol \(offered.joined(separator: ", ")); this central system speaks \(subprotocol)")
    }
}
