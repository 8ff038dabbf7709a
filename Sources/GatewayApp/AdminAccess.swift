import NIOHTTP1

/// Who may use the admin API. `/healthz`, `/readyz` and `/metrics` are open (probes and Prometheus). The rest (the
/// station list, the transaction history with its RFID tags) needs `Authorization: Bearer <ADMIN_TOKEN>` when a
/// token is set; without one, it is served only on a loopback listener, and refused with 403 (saying how to enable
/// it) on any other.
struct AdminAccess: Sendable {
    enum Verdict: Equatable {
        case allowed
        /// No token, or the wrong one: 401 with `WWW-Authenticate: Bearer`.
        case unauthorized
        /// No token is set and the listener is reachable from other hosts: 403.
        case unprotected
    }

    /// The token asked for; nil: none set.
    let token: String?
    /// The listener's address (`ADMIN_ADDR`).
    let host: String

    static let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    /// Whether the listener takes connections from this host only.
    var isLoopbackOnly: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func verdict(path: String, headers: HTTPHeaders) -> Verdict {
        if Self.openPaths.contains(path) { return .allowed }
        guard let token else { return isLoopbackOnly ? .allowed : .unprotected }
        for value in headers["Authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", Self.constantTimeEqual(Array(parts[1].utf8), Array(token.utf8)) {
                return .allowed
            }
        }
        return .unauthorized
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
            var response = AdminResponse.text("this needs the admin token: send Authorization: Bearer <ADMIN_TOKEN>\n", status: .unauthorized)
            response.headers = [("WWW-Authenticate", #"Bearer realm="ocpp-gateway""#)]
            return response
        case .unprotected:
            return .text("""
                the admin API is not protected, so it answers only on a loopback listener: set ADMIN_TOKEN (or \
                ADMIN_TOKEN_FILE) and send Authorization: Bearer <token>, or set ADMIN_ADDR=127.0.0.1 \
                (docs/security.md)

                """, status: .forbidden)
        }
    }
}
