import CentralSystem
import Foundation
import OCPP
import Testing

@testable import MQTTBridge

/// docs/mqtt-api.md names every state parameter and control the code defines (``StateParameter``, ``ControlName``),
/// and the bridge's published values come from those names.
@Suite struct ContractDocsTests {
    let mqttAPI: String = {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/mqtt-api.md")
        return (try? String(contentsOf: docs, encoding: .utf8)) ?? ""
    }()

    @Test func everyStateParameterAndControlIsDocumented() {
        #expect(!mqttAPI.isEmpty)
        let parameters = StateParameter.stationWide + StateParameter.perConnector
        #expect(Set(parameters).count == parameters.count)
        #expect(Set(ControlName.all).count == ControlName.all.count)
        let names = parameters + ControlName.all
        for name in names {
            #expect(mqttAPI.contains("`\(name)`"), "docs/mqtt-api.md does not name `\(name)`")
        }
        // Meter parameters are documented by their rule and examples.
        for example in [StateParameter.meter(.energyActiveImportRegister), StateParameter.meter(.currentImport, phase: .l1),
                        StateParameter.meter(.voltage, phase: .l1L2), StateParameter.meter(.temperature, location: .body)] {
            #expect(mqttAPI.contains(example), "docs/mqtt-api.md does not show `\(example)`")
        }
    }

    @Test func everyDisconnectReasonHasAWireValueTheDocsName() {
        let reasons: [DisconnectReason] = [.normalClosure, .goingAway, .timeout, .replaced, .protocolError, .messageTooLarge,
                                           .unsupportedData, .connectionLost]
        for reason in reasons {
            let value = StateValue.disconnectReason(reason)
            #expect(mqttAPI.contains("`\(value)`"), "docs/mqtt-api.md does not name disconnect_reason `\(value)`")
        }
        #expect(StateValue.disconnectReason(.closed(code: 4000)) == "closed_4000")
        #expect(mqttAPI.contains("`closed_<code>`"))
    }
}
