import Foundation
import NIOHTTP1
import Testing

@testable import OCPPServer

@Suite struct StationAccessTests {
    private func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    let access = StationAccess(passwords: ["CP1": "0123456789abcdef", "CP2": "pa:ss"])

    @Test func rightPasswordsPass() {
        #expect(access.check(station: "CP1", authorization: basic("CP1", "0123456789abcdef")) == nil)
        #expect(access.check(station: "CP2", authorization: basic("CP2", "pa:ss")) == nil)  // a colon in the password
        #expect(access.check(station: "CP1", authorization: "basic " + Data("CP1:0123456789abcdef".utf8).base64EncodedString()) == nil)
    }

    @Test func everyFailureHasItsReason() {
        #expect(access.check(station: "CP1", authorization: nil) == .missingCredentials)
        #expect(access.check(station: "CP1", authorization: "Bearer xyz") == .missingCredentials)
        #expect(access.check(station: "CP1", authorization: "Basic !!!") == .missingCredentials)
        #expect(access.check(station: "CP1", authorization: basic("CP2", "pa:ss")) == .userMismatch)
        #expect(access.check(station: "CP1", authorization: basic("CP1", "0123456789abcdeF")) == .wrongPassword)
        #expect(access.check(station: "CP1", authorization: basic("CP1", "")) == .wrongPassword)
        #expect(access.check(station: "CP3", authorization: basic("CP3", "x")) == .noPassword)
    }

    @Test func theAllowlistComesFirst() {
        let listed = StationAccess(allowedStations: ["CP1"])
        #expect(listed.check(station: "CP1", authorization: nil) == nil)
        #expect(listed.check(station: "CP9", authorization: nil) == .unknownStation)
    }

    @Test func constantTimeComparison() {
        #expect(StationAccess.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!StationAccess.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!StationAccess.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!StationAccess.constantTimeEqual([], Array("a".utf8)))
        #expect(StationAccess.constantTimeEqual([], []))
    }

    @Test func verdictsCarryTheRightStatus() {
        func head(_ uri: String, authorization: String? = nil) -> HTTPRequestHead {
            var headers = HTTPHeaders([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
            if let authorization { headers.add(name: "Authorization", value: authorization) }
            return HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
        }
        guard case .refuse(.unauthorized, _, "missing_credentials") = HandshakeVerdict.evaluate(head("/CP1"), access: access),
            case .refuse(.notFound, _, "unknown_station") = HandshakeVerdict.evaluate(head("/CP9"), access: StationAccess(allowedStations: ["CP1"])),
            case .refuse(.serviceUnavailable, _, "too_many_stations") = HandshakeVerdict.evaluate(head("/CP1"), atCapacity: { _ in true })
        else {
            Issue.record("wrong verdict")
            return
        }
        #expect(HandshakeVerdict.evaluate(head("/CP1", authorization: basic("CP1", "0123456789abcdef")), access: access)
            == .accept(station: "CP1", subprotocol: nil))
    }
}
