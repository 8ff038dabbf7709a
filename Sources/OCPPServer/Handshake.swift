import CentralSystem
import NIOHTTP1

/// The decision on a charger's WebSocket upgrade request, made before the upgrade.
enum HandshakeVerdict: Sendable, Hashable {
    /// Upgrade; echo `subprotocol` when the charger offered one.
    case accept(station: String, subprotocol: String?)
    /// Answer with an HTTP error instead of upgrading; `metric` names the refusal in metrics.
    case refuse(HTTPResponseStatus, reason: String, metric: String)

    /// The versions the gateway speaks unless told otherwise (`OCPP_VERSIONS`), in its order of preference.
    static let defaultVersions: [OCPPVersion] = [.v16, .v201]

    /// - Parameters:
    ///   - access: passwords and the allowlist.
    ///   - atCapacity: whether a new station would pass `OCPP_MAX_STATIONS` (a station already connected may
    ///     always reconnect, replacing its old connection).
    ///   - remembers: whether the central system takes this station: a new one is refused once it remembers
    ///     `OCPP_MAX_KNOWN_STATIONS`.
    ///   - versions: the versions offered, preferred first (`OCPP_VERSIONS`). A charger offering several gets the
    ///     first of these it offers; one offering none gets 1.6 (if 1.6 is among them), as many 1.6 chargers offer none.
    static func evaluate(
        _ head: HTTPRequestHead, access: StationAccess = StationAccess(), versions: [OCPPVersion] = defaultVersions,
        atCapacity: (String) -> Bool = { _ in false },
        remembers: (String) -> Bool = { _ in true }
    ) -> HandshakeVerdict {
        // RFC 6455 section 4.1: an upgrade is an HTTP/1.1 (or later) GET with a key of 16 bytes in base64.
        guard head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1) else {
            return .refuse(.badRequest, reason: "a WebSocket handshake needs HTTP/1.1", metric: "bad_handshake")
        }
        guard let key = head.headers.first(name: "Sec-WebSocket-Key"), isWellFormedKey(key) else {
            return .refuse(.badRequest, reason: "Sec-WebSocket-Key must be 16 bytes in base64", metric: "bad_handshake")
        }
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
        let chosen = offered.isEmpty ? versions.first { $0 == .v16 } : versions.first { offered.contains($0.rawValue) }
        guard let chosen else {
            let spoken = versions.map(\.rawValue).joined(separator: ", ")
            return .refuse(.badRequest, reason: offered.isEmpty
                               ? "no subprotocol offered, which means OCPP 1.6, and OCPP_VERSIONS leaves it out; this central system speaks \(spoken)"
                               : "unsupported subprotocol \(offered.joined(separator: ", ")); this central system speaks \(spoken)",
                           metric: "bad_subprotocol")
        }
        if atCapacity(station) {
            return .refuse(.serviceUnavailable, reason: "too many stations connected (OCPP_MAX_STATIONS)", metric: "too_many_stations")
        }
        if !remembers(station) {
            return .refuse(.serviceUnavailable, reason: "the central system remembers as many stations as it may (OCPP_MAX_KNOWN_STATIONS)",
                           metric: "too_many_known_stations")
        }
        return .accept(station: station, subprotocol: offered.isEmpty ? nil : chosen.rawValue)
    }

    /// 16 bytes in base64: 22 characters of the alphabet and `==`.
    static func isWellFormedKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
        }
    }
}
