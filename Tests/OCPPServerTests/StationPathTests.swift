import CentralSystem
import NIOHTTP1
import Testing

@testable import OCPPServer

@Suite struct StationPathTests {
    @Test(arguments: [
        ("/CP1", "CP1"),
        ("/ocpp/CP1", "CP1"),
        ("/a/b/c/CP-1_x.y", "CP-1_x.y"),
        ("/ocpp/CP1/", "CP1"),
        ("/CP%201", "CP 1"),
        ("/%C3%A9tienne", "étienne"),
        ("/ignored?station=Q%2D7", "Q-7"),
        ("/path-id?other=1", "path-id"),
        ("/path-id?station=", "path-id"),
    ])
    func readsTheStationID(target: String, station: String) {
        #expect(StationPath.stationID(fromRequestTarget: target) == .success(station))
    }

    @Test(arguments: [
        ("/", StationPath.Failure.missing),
        ("", .missing),
        ("/ocpp/a+b", .forbiddenCharacter("+")),
        ("/ocpp/a%2Bb", .forbiddenCharacter("+")),
        ("/ocpp/a%23b", .forbiddenCharacter("#")),
        ("/ocpp/a%2Fb", .forbiddenCharacter("/")),
        ("/ocpp/a%00b", .forbiddenCharacter("\u{0}")),
        ("/ocpp/a%0Ab", .forbiddenCharacter("\n")),
        ("/ocpp/a%2", .badEncoding),
        ("/ocpp/a%zz", .badEncoding),
        ("/ocpp/%FF", .badEncoding),
        // Issue 19: ids that name no station, share the gateway's or the broker's topics, or hide characters.
        ("/ocpp/.", .reserved(".")),
        ("/ocpp/..", .reserved("..")),
        ("/ocpp/bridge", .reserved("bridge")),
        ("/ocpp/$SYS", .reserved("$SYS")),
        ("/ocpp/CP%E2%80%8B1", .invisibleCharacter("\u{200B}")),  // zero-width space
        ("/ocpp/CP%E2%80%AE1", .invisibleCharacter("\u{202E}")),  // right-to-left override
        ("/ocpp/CP%C2%A01", .invisibleCharacter("\u{A0}")),  // no-break space
        ("/ocpp/%20CP1", .surroundingSpace),
    ])
    func refusesIDsThatCannotBeATopicLevel(target: String, failure: StationPath.Failure) {
        #expect(StationPath.stationID(fromRequestTarget: target) == .failure(failure))
    }

    @Test func refusesOverLongIDs() {
        let long = String(repeating: "x", count: StationPath.maximumLength + 1)
        #expect(StationPath.stationID(fromRequestTarget: "/\(long)") == .failure(.tooLong))
    }

    private func head(_ uri: String, protocols: [String], key: String = "dGhlIHNhbXBsZSBub25jZQ==",
                      version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        var headers = HTTPHeaders([("Sec-WebSocket-Key", key)])
        for value in protocols { headers.add(name: "Sec-WebSocket-Protocol", value: value) }
        return HTTPRequestHead(version: version, method: .GET, uri: uri, headers: headers)
    }

    /// Issue 19: RFC 6455 section 4.1 asks for HTTP/1.1 and a key of 16 bytes in base64; both were accepted without.
    @Test func refusesHTTP10AndMalformedKeys() {
        for bad in [head("/CP1", protocols: [], version: .http1_0), head("/CP1", protocols: [], key: "short"),
                    head("/CP1", protocols: [], key: "dGhlIHNhbXBsZSBub25jZQ=!"), head("/CP1", protocols: [], key: "dGhl*HNhbXBsZSBub25jZQ==")] {
            guard case .refuse(.badRequest, _, "bad_handshake") = HandshakeVerdict.evaluate(bad) else {
                Issue.record("accepted: \(bad)")
                continue
            }
        }
    }

    @Test func negotiatesTheSubprotocol() {
        #expect(HandshakeVerdict.evaluate(head("/CP1", protocols: ["ocpp1.6"])) == .accept(station: "CP1", subprotocol: "ocpp1.6"))
        #expect(HandshakeVerdict.evaluate(head("/CP1", protocols: ["ocpp2.0.1, ocpp1.6"])) == .accept(station: "CP1", subprotocol: "ocpp1.6"))
        #expect(HandshakeVerdict.evaluate(head("/CP1", protocols: [])) == .accept(station: "CP1", subprotocol: nil))
        // Issue 24: 2.0.1 too; a charger offering both gets the gateway's preferred one (OCPP_VERSIONS' order).
        #expect(HandshakeVerdict.evaluate(head("/CP1", protocols: ["ocpp2.0.1", "ocpp1.5"])) == .accept(station: "CP1", subprotocol: "ocpp2.0.1"))
        #expect(HandshakeVerdict.evaluate(head("/CP1", protocols: ["ocpp2.0.1, ocpp1.6"]), versions: [.v201, .v16])
                == .accept(station: "CP1", subprotocol: "ocpp2.0.1"))
        for (offered, versions) in [(["ocpp1.5", "ocpp2.1"], [OCPPVersion.v16, .v201]), (["ocpp1.6"], [.v201]), ([], [.v201])] {
            guard case .refuse(let status, _, "bad_subprotocol") = HandshakeVerdict.evaluate(head("/CP1", protocols: offered), versions: versions) else {
                Issue.record("offered \(offered) with \(versions) must be refused")
                continue
            }
            #expect(status == .badRequest)
        }
    }

    @Test func refusesBadIDsWith400AndMissingOnesWith404() {
        guard case .refuse(.notFound, _, _) = HandshakeVerdict.evaluate(head("/", protocols: ["ocpp1.6"])),
            case .refuse(.badRequest, _, _) = HandshakeVerdict.evaluate(head("/a%23b", protocols: ["ocpp1.6"]))
        else {
            Issue.record("wrong refusal")
            return
        }
    }
}
