import Foundation

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
