import CentralSystem
import Foundation
import OCPP
import Testing

/// One station cannot make the central system keep thousands of connectors: ids above `maxConnectors` are refused
/// before any state is made.
@Suite(.timeLimit(.minutes(1))) struct ConnectorBoundTests {
    @Test func connectorIdsAboveTheBoundAreRefusedAndKeepNothing() async throws {
        let central = try CentralSystem.make(CentralSystemConfiguration(authorizedTags: ["TAG-1"], maxConnectors: 2))
        let link = await central.connect("CP1")
        let frames = [
            #"[2,"s","StatusNotification",{"connectorId":3,"errorCode":"NoError","status":"Available"}]"#,
            #"[2,"m","MeterValues",{"connectorId":10,"meterValue":[{"timestamp":"2026-11-21T10:00:00Z","sampledValue":[{"value":"1"}]}]}]"#,
            #"[2,"t","StartTransaction",{"connectorId":3,"idTag":"TAG-1","meterStart":0,"timestamp":"2026-11-21T10:00:00Z"}]"#,
            #"[2,"n","StatusNotification",{"connectorId":-1,"errorCode":"NoError","status":"Available"}]"#,
        ]
        for frame in frames {
            let reply = try await central.exchange(frame, on: link)
            guard case .callError(let error) = reply else {
                Issue.record("taken: \(frame)")
                continue
            }
            #expect(error.code == .propertyConstraintViolation)
            #expect(error.description.contains("OCPP_MAX_CONNECTORS"))
        }
        #expect(central.stationRecord("CP1")?.connectors == nil)
        #expect(central.activeTransactions.isEmpty)
        // Within the bound, as before.
        let within = try await central.exchange(#"[2,"w","StatusNotification",{"connectorId":2,"errorCode":"NoError","status":"Available"}]"#, on: link)
        if case .callResult = within {} else { Issue.record("connector 2 refused: \(within)") }
        #expect(central.stationRecord("CP1")?.connectors?.keys.sorted() == [2])
    }
}
