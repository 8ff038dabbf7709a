import Foundation

/// Who may connect: OCPP 1.6 security profile 1 (HTTP Basic authentication per station) and a station allowlist.
public struct StationAccess: Sendable {
    /// The password of each station (`OCPP_STATION_PASSWORDS`); nil when chargers connect without one.
    public var passwords: [String: String]?
    /// The stations that may connect (`OCPP_ALLOWED_STATIONS`); nil for any.
    public var allowedStations: Set<String>?

    public init(passwords: [String: String]? = nil, allowedStations: Set<String>? = nil) {
        self.passwords = passwords
        self.allowedStations = allowedStations
    }

    /// Why a station was refused.
    public enum Refusal: String, Sendable, Hashable {
        /// Not on the allowlist (HTTP 404).
        case unknownStation = "unknown_station"
        /// No `Authorization: Basic` header (401).
        case missingCredentials = "missing_credentials"
        /// The user name is not the station id (401).
        case userMismatch = "user_mismatch"
        /// The station has no password configured (401).
        case noPassword = "no_password"
        /// Wrong password (401).
        case wrongPassword = "wrong_password"
    }

    /// Checks a handshake's station and `Authorization` header.
    public func check(station: String, authorization: String?) -> Refusal? {
        if let allowedStations, !allowedStations.contains(station) { return .unknownStation }
        guard let passwords else { return nil }
        guard let (user, password) = Self.basicCredentials(authorization) else { return .missingCredentials }
        guard user == station else { return .userMismatch }
        guard let expected = passwords[station] else { return .noPassword }
        return Self.constantTimeEqual(Array(password.utf8), Array(expected.utf8)) ? nil : .wrongPassword
    }

    /// `Basic base64(user:password)`; the user ends at the first `:` (RFC 7617).
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
