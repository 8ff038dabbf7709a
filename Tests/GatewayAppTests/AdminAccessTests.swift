import Foundation
import NIOHTTP1
import Testing

@testable import GatewayApp

/// A settable wall clock.
final class TestClock: @unchecked Sendable {
    var now = Date(timeIntervalSince1970: 1_800_000_000)
}

@Suite struct AdminAccessTests {
    func headers(_ authorization: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        return headers
    }

    @Test func withATokenEverythingButTheProbesNeedsIt() {
        let access = AdminAccess(token: "s3cret", host: "0.0.0.0")
        for open in ["/healthz", "/readyz", "/metrics"] {
            #expect(access.verdict(path: open, headers: headers(nil)) == .allowed(.open))
        }
        for path in ["/", "/api/stations", "/api/transactions", "/api/transactions.csv", "/api/events", "/api/status", "/nothing"] {
            #expect(access.verdict(path: path, headers: headers(nil)) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cre")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cret!")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Basic s3cret")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cret")) == .allowed(.bearer))
            #expect(access.verdict(path: path, headers: headers("bearer s3cret")) == .allowed(.bearer))
        }
        #expect(AdminAccess.refusal(.unauthorized)?.status == .unauthorized)
        #expect(AdminAccess.refusal(.unauthorized)?.headers.first?.0 == "WWW-Authenticate")
    }

    @Test func withoutATokenOnlyALoopbackListenerServesTheAPI() {
        for host in ["127.0.0.1", "::1", "localhost"] {
            #expect(AdminAccess(token: nil, host: host).verdict(path: "/api/stations", headers: headers(nil)) == .allowed(.open))
        }
        let open = AdminAccess(token: nil, host: "0.0.0.0")
        #expect(open.verdict(path: "/api/transactions", headers: headers(nil)) == .unprotected)
        #expect(open.verdict(path: "/", headers: headers(nil)) == .unprotected)
        #expect(open.verdict(path: "/metrics", headers: headers(nil)) == .allowed(.open))
        #expect(open.verdict(path: "/login", headers: headers(nil)) == .allowed(.open))
        let refusal = AdminAccess.refusal(.unprotected)
        #expect(refusal?.status == .forbidden && refusal?.body.contains("ADMIN_TOKEN") == true)
    }

    func cookie(_ value: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Cookie", value: "theme=dark; \(AdminAccess.cookieName)=\(value); other=1")
        return headers
    }

    @Test func theLoginFormGivesASessionThatExpiresAndEndsAtLogOut() {
        let clock = TestClock()
        let access = AdminAccess(token: "s3cret", host: "0.0.0.0", now: { clock.now })
        #expect(access.logIn(with: "s3cre") == nil)
        #expect(access.logIn(with: "") == nil)
        let session = try! #require(access.logIn(with: "s3cret"))
        #expect(session.count == 64 && session.allSatisfy(\.isHexDigit))
        #expect(access.logIn(with: "s3cret") != session)  // every login a session of its own
        #expect(access.verdict(path: "/api/status", headers: cookie(session)) == .allowed(.session))
        #expect(access.verdict(path: "/api/status", headers: cookie(String(repeating: "0", count: 64))) == .unauthorized)
        #expect(access.verdict(path: "/api/status", headers: cookie("")) == .unauthorized)

        clock.now = clock.now.addingTimeInterval(AdminAccess.sessionLifetime + 1)
        #expect(access.verdict(path: "/api/status", headers: cookie(session)) == .unauthorized)

        let second = try! #require(access.logIn(with: "s3cret"))
        access.logOut(cookie(second))
        #expect(access.verdict(path: "/api/status", headers: cookie(second)) == .unauthorized)
    }

    @Test func withoutATokenNoLoginSucceeds() {
        #expect(AdminAccess(token: nil, host: "127.0.0.1").logIn(with: "") == nil)
    }

    @Test func theIngressProxyNeedsNoToken() {
        let access = AdminAccess(token: "s3cret", host: "0.0.0.0", trustedAddresses: ["172.30.32.2"])
        #expect(access.verdict(path: "/api/status", headers: headers(nil), peer: "172.30.32.2") == .allowed(.trustedAddress))
        #expect(access.verdict(path: "/api/status", headers: headers(nil), peer: "172.30.32.3") == .unauthorized)
        #expect(access.verdict(path: "/api/status", headers: headers(nil), peer: nil) == .unauthorized)
        let tokenless = AdminAccess(token: nil, host: "0.0.0.0", trustedAddresses: ["172.30.32.2"])
        #expect(tokenless.verdict(path: "/", headers: headers(nil), peer: "172.30.32.2") == .allowed(.trustedAddress))
        #expect(tokenless.verdict(path: "/", headers: headers(nil), peer: "10.0.0.9") == .unprotected)
    }

    @Test func cookiesAreReadFromEveryCookieHeader() {
        var headers = HTTPHeaders()
        headers.add(name: "Cookie", value: "a=1")
        headers.add(name: "Cookie", value: "b = 2 ; c=3=4")
        #expect(AdminAccess.cookie("b", in: headers) == "2")
        #expect(AdminAccess.cookie("c", in: headers) == "3=4")
        #expect(AdminAccess.cookie("d", in: headers) == nil)
    }

    @Test func theComparisonLooksAtEveryByte() {
        #expect(AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!AdminAccess.constantTimeEqual([], Array("a".utf8)))
        #expect(AdminAccess.constantTimeEqual([], []))
    }
}
