import CentralSystem
import Foundation
import OCPP
import Testing

/// A sampled value that is no finite number cannot become a state value: MeterValues gets a CallError naming it;
/// StopTransaction is answered all the same, without that sample.
@Suite(.timeLimit(.minutes(1))) struct MeterValueLimitTests {
    @Test func aValueThatIsNotAFiniteNumberIsRefused() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        for value in ["1e308", "NaN", "inf", "-Infinity"] {
            let reply = try await central.exchange(#"[2,"m","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T10:00:00Z","sampledValue":[{"value":"\#(value)","unit":"kWh"}]}]}]"#, on: link)
            guard case .callError(let error) = reply else {
                Issue.record("\(value) was taken: \(reply)")
                continue
            }
            #expect(error.code == .propertyConstraintViolation)
            #expect(error.description.contains(value))
        }
        // Large but finite is taken.
        let fine = try await central.exchange(#"[2,"f","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T10:00:00Z","sampledValue":[{"value":"1e300","unit":"kWh"}]}]}]"#, on: link)
        if case .callResult = fine {} else { Issue.record("a finite value was refused: \(fine)") }
        let stop = try await central.exchange(#"[2,"s","StopTransaction",{"transactionId":1,"meterStop":5,"timestamp":"2026-11-21T10:00:00Z","transactionData":[{"timestamp":"2026-11-21T10:00:00Z","sampledValue":[{"value":"1e308","unit":"kWh"}]}]}]"#, on: link)
        if case .callResult = stop {} else { Issue.record("the stop was not answered: \(stop)") }
    }
}
