import NIOHTTP1
import Testing

@testable import GatewayApp

@Suite struct AdminAccessTests {
    func headers(_ authorization: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        return headers
    }

    @Test func withATokenEverythingButTheProbesNeedsIt() {
        let access = AdminAccess(token: "s3cret", host: "0.0.0.0")
        for open in ["/healthz", "/readyz", "/metrics"] {
            #expect(access.verdict(path: open, headers: headers(nil)) == .allowed)
        }
        for path in ["/api/stations", "/api/transactions", "/api/transactions.csv", "/nothing"] {
            #expect(access.verdict(path: path, headers: headers(nil)) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cre")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cret!")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Basic s3cret")) == .unauthorized)
            #expect(access.verdict(path: path, headers: headers("Bearer s3cret")) == .allowed)
            #expect(access.verdict(path: path, headers: headers("bearer s3cret")) == .allowed)
        }
        #expect(AdminAccess.refusal(.unauthorized)?.status == .unauthorized)
        #expect(AdminAccess.refusal(.unauthorized)?.headers.first?.0 == "WWW-Authenticate")
    }

    @Test func withoutATokenOnlyALoopbackListenerServesTheAPI() {
        for host in ["127.0.0.1", "::1", "localhost"] {
            #expect(AdminAccess(token: nil, host: host).verdict(path: "/api/stations", headers: headers(nil)) == .allowed)
        }
        let open = AdminAccess(token: nil, host: "0.0.0.0")
        #expect(open.verdict(path: "/api/transactions", headers: headers(nil)) == .unprotected)
        #expect(open.verdict(path: "/metrics", headers: headers(nil)) == .allowed)
        let refusal = AdminAccess.refusal(.unprotected)
        #expect(refusal?.status == .forbidden && refusal?.body.contains("ADMIN_TOKEN") == true)
    }

    @Test func theComparisonLooksAtEveryByte() {
        #expect(AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!AdminAccess.constantTimeEqual([], Array("a".utf8)))
        #expect(AdminAccess.constantTimeEqual([], []))
    }
}
