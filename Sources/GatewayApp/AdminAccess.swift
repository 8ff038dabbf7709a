import Foundation
import NIOHTTP1
import Synchronization

/// Who may use the admin API and the web console.
///
/// `/healthz`, `/readyz` and `/metrics` are open (probes and Prometheus), and so are the console's login page and its
/// static files. The rest (the console, the station list, the transaction history with its RFID tags, commands)
/// needs, when a token is set (`ADMIN_TOKEN`), `Authorization: Bearer <token>` or the session cookie the login form
/// sets; without a token it is served only on a loopback listener, and refused with 403 (saying how to enable it) on
/// any other. Requests from `ADMIN_TRUSTED_ADDRESSES` (Home Assistant's Ingress proxy, which has authenticated the user
/// already) need neither.
final class AdminAccess: Sendable {
    enum Verdict: Equatable {
        case allowed(Via)
        /// No token, or the wrong one: 401 with `WWW-Authenticate: Bearer`.
        case unauthorized
        /// No token is set and the listener is reachable from other hosts: 403.
        case unprotected
    }

    /// How a request was let in.
    enum Via: Equatable {
        /// An open path, or an unprotected loopback listener.
        case open
        case bearer
        /// The login form's cookie: a browser, so a POST must also carry ``csrfHeader``.
        case session
        case trustedAddress
    }

    /// The token asked for; nil: none set.
    let token: String?
    /// The listener's address (`ADMIN_ADDR`).
    let host: String
    /// Peers let in without a token (`ADMIN_TRUSTED_ADDRESSES`).
    let trustedAddresses: Set<String>
    /// The login form's sessions: the cookie's value and when it expires. Kept in memory: a restart logs browsers out.
    private let sessions = Mutex<[String: Date]>([:])
    private let now: @Sendable () -> Date

    static let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics", "/login", "/console.css", "/console.js"]
    static let cookieName = "ocpp_gateway_session"
    /// A session lasts this long from the login.
    static let sessionLifetime: TimeInterval = 30 * 24 * 3600
    /// The most sessions kept; the oldest goes first.
    static let maxSessions = 1000
    /// The header a POST authenticated by the session cookie must carry: a form on another site cannot send it
    /// without the CORS preflight this listener never grants.
    static let csrfHeader = "X-OCPP-Gateway"

    init(token: String?, host: String, trustedAddresses: Set<String> = [], now: @escaping @Sendable () -> Date = Date.init) {
        self.token = token
        self.host = host
        self.trustedAddresses = trustedAddresses
        self.now = now
    }

    /// Whether the listener takes connections from this host only.
    var isLoopbackOnly: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func verdict(path: String, headers: HTTPHeaders, peer: String? = nil) -> Verdict {
        if Self.openPaths.contains(path) { return .allowed(.open) }
        if let peer, trustedAddresses.contains(peer) { return .allowed(.trustedAddress) }
        guard let token else { return isLoopbackOnly ? .allowed(.open) : .unprotected }
        for value in headers["Authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", Self.constantTimeEqual(Array(parts[1].utf8), Array(token.utf8)) {
                return .allowed(.bearer)
            }
        }
        if let session = Self.cookie(Self.cookieName, in: headers), isSession(session) { return .allowed(.session) }
        return .unauthorized
    }

    /// Checks a token typed into the login form; returns the new session's cookie value when it is right.
    func logIn(with candidate: String) -> String? {
        guard let token, Self.constantTimeEqual(Array(candidate.utf8), Array(token.utf8)) else { return nil }
        var generator = SystemRandomNumberGenerator()
        let session = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
        let expiry = now().addingTimeInterval(Self.sessionLifetime)
        sessions.withLock { sessions in
            let moment = now()
            sessions = sessions.filter { $0.value > moment }
            if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value < $1.value })?.key {
                sessions.removeValue(forKey: oldest)
            }
            sessions[session] = expiry
        }
        return session
    }

    func logOut(_ headers: HTTPHeaders) {
        guard let session = Self.cookie(Self.cookieName, in: headers) else { return }
        _ = sessions.withLock { $0.removeValue(forKey: session) }
    }

    private func isSession(_ candidate: String) -> Bool {
        let moment = now()
        return sessions.withLock { sessions in
            // Every session compared in constant time, not looked up by hash: no timing tells how close a guess came.
            guard let (value, expiry) = sessions.first(where: { Self.constantTimeEqual(Array($0.key.utf8), Array(candidate.utf8)) }) else {
                return false
            }
            if expiry <= moment {
                sessions.removeValue(forKey: value)
                return false
            }
            return true
        }
    }

    /// A cookie's value from the `Cookie` headers.
    static func cookie(_ name: String, in headers: HTTPHeaders) -> String? {
        for header in headers["Cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// Compares every byte whatever the first difference, so the time taken says nothing of how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// What a refused request gets.
    static func refusal(_ verdict: Verdict) -> AdminResponse? {
        switch verdict {
        case .allowed:
            return nil
        case .unauthorized:
            var response = AdminResponse.text(
                "this needs the admin token: send Authorization: Bearer <ADMIN_TOKEN>, or log in at /login\n", status: .unauthorized)
            response.headers = [("WWW-Authenticate", #"Bearer realm="ocpp-gateway""#)]
            return response
        case .unprotected:
            return .text("""
                the admin API is not protected, so it answers only on a loopback listener: set ADMIN_TOKEN (or \
                ADMIN_TOKEN_FILE) and send Authorization: Bearer <token> or log in at /login, or set \
                ADMIN_ADDR=127.0.0.1 (docs/security.md)

                """, status: .forbidden)
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
