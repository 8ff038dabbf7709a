import Foundation

/// Relay mode's settings (`RELAY_*`, docs/relay.md).
public struct RelayConfiguration: Sendable {
    /// The upstream central system (`RELAY_URL`): `ws://` or `wss://`. The station id (percent-encoded) replaces
    /// `{station}`, or is appended as the last path segment.
    public var url: UpstreamURL
    /// How the gateway logs in to the upstream for a station (`RELAY_AUTH`).
    public var authentication: Authentication
    /// Trust anchors for a `wss://` upstream (`RELAY_TLS_CA`, PEM); nil: the system's.
    public var tlsCA: String?
    /// How long charger messages wait for an upstream that is away before the charger is closed (`RELAY_OFFLINE_GRACE`).
    public var offlineGrace: Duration
    /// How long the upstream has to answer a message (`OCPP_CALL_TIMEOUT`).
    public var answerTimeout: Duration

    public enum Authentication: Sendable, Hashable {
        /// The charger's own `Authorization` header goes to the upstream (and to no one else).
        case forward
        /// HTTP Basic with the station id and this password (`RELAY_PASSWORD_FILE`).
        case basic(password: String)
        case none
    }

    public init(url: UpstreamURL, authentication: Authentication = .forward, tlsCA: String? = nil,
                offlineGrace: Duration = .seconds(30), answerTimeout: Duration = .seconds(30)) {
        self.url = url
        self.authentication = authentication
        self.tlsCA = tlsCA
        self.offlineGrace = offlineGrace
        self.answerTimeout = answerTimeout
    }

    /// The `Authorization` header for `station`'s upstream connection, if any.
    func authorization(for station: String, charger: String?) -> String? {
        switch authentication {
        case .forward: charger
        case .basic(let password): "Basic " + Data("\(station):\(password)".utf8).base64EncodedString()
        case .none: nil
        }
    }
}

/// `RELAY_URL`, read: where each station's upstream connection goes.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// The path and query, with `{station}` where the station id goes (appended as a last segment when the URL had
    /// no `{station}`).
    public var template: String

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws(Invalid) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("ws://") {
            secure = false
            rest = text.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            secure = true
            rest = text.dropFirst(6)
        } else {
            throw Invalid(description: "a ws:// or wss:// URL")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var path = String(rest.dropFirst(authority.count))
        if path.isEmpty { path = "/" }
        guard !authority.isEmpty, !authority.contains("@") else { throw Invalid(description: "a ws:// or wss:// URL with a host (and no user info)") }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Invalid(description: "a URL with a valid IPv6 host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : (secure ? 443 : 80)
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = secure ? 443 : 80
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw Invalid(description: "a URL with a host and a port from 1 to 65535") }
        if !path.contains("{station}") {
            let query = path.firstIndex(of: "?").map { String(path[$0...]) } ?? ""
            var base = String(path.prefix { $0 != "?" })
            if !base.hasSuffix("/") { base += "/" }
            path = base + "{station}" + query
        }
        template = path
    }

    /// The request target for `station`: its id percent-encoded where `{station}` is.
    public func target(for station: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let encoded = station.addingPercentEncoding(withAllowedCharacters: allowed) ?? station
        return template.replacingOccurrences(of: "{station}", with: encoded)
    }

    public var description: String {
        "\(secure ? "wss" : "ws")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(template)"
    }
}
