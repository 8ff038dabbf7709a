import CentralSystem
import Foundation
import OCPP
import Testing

@testable import MQTTBridge

/// Issue 24: OCPP 2.0.1 messages on the 1.6 contract's topics.
@Suite struct V201StateTests {
    let t0 = Date(timeIntervalSince1970: 1_795_269_090)  // 2026-11-21T13:51:30Z
    var model = StationStateModel(topics: TopicLayout(basePath: "ocpp", useStationName: true))

    private mutating func apply(_ message: Message201) -> [String: String] {
        var out: [String: String] = [:]
        for publication in model.apply(.message(station: "CS", .v201(message)), at: t0) { out[publication.topic] = publication.payload }
        return out
    }

    private func energy(_ wh: Double, _ at: Date, _ context: ReadingContext? = nil) -> MeterSample {
        MeterSample(timestamp: at, measurand: .energyActiveImportRegister, context: context, unit: .wh, value: wh, rawValue: "\(wh)")
    }

    private func event(_ type: TransactionEvent201.EventType, _ seqNo: Int, state: String? = nil, samples: [MeterSample] = [],
                       applies: Bool = true, stopped: String? = nil) -> TransactionEvent201 {
        var event = TransactionEvent201(eventType: type, transactionId: "T1", seqNo: seqNo, timestamp: t0, triggerReason: "x", evse: 2, connector: 1,
                                        chargingState: state, stoppedReason: stopped, idToken: type == .started ? "tag" : nil,
                                        idTokenType: type == .started ? "ISO14443" : nil, samples: samples, applies: applies)
        event.meterStart = 1000  // the central system's word on it (Transactions201)
        return event
    }

    @Test mutating func statusIsDerivedFromTheConnectorStatusAndTheChargingState() {
        let c2 = "ocpp/CS/connector/2/state"
        var out = apply(.statusNotification(evse: 2, connector: 1, status: "Occupied"))
        #expect(out["\(c2)/status"] == "Preparing" && out["\(c2)/connector_status"] == "Occupied" && out["\(c2)/evse_id"] == "2")
        out = apply(.transactionEvent(event(.started, 0, state: "Charging", samples: [energy(1000, t0, .transactionBegin)])))
        #expect(out["\(c2)/status"] == "Charging" && out["\(c2)/charging"] == "ON" && out["\(c2)/transaction_id"] == "T1")
        #expect(out["\(c2)/meter_start"] == "1000" && out["\(c2)/id_tag"] == "tag" && out["\(c2)/id_token_type"] == "ISO14443")
        out = apply(.transactionEvent(event(.updated, 1, state: "SuspendedEV", applies: false)))
        #expect(out.isEmpty)  // an event that does not apply moves nothing
        out = apply(.transactionEvent(event(.updated, 2, state: "SuspendedEVSE", samples: [energy(1500, t0.addingTimeInterval(60))])))
        #expect(out["\(c2)/status"] == "SuspendedEVSE" && out["\(c2)/session_energy"] == "500")
        out = apply(.transactionEvent(event(.ended, 3, samples: [energy(1800, t0.addingTimeInterval(120), .transactionEnd)], stopped: "EVDisconnected")))
        #expect(out["\(c2)/status"] == "Finishing" && out["\(c2)/transaction_id"] == "" && out["\(c2)/meter_stop"] == "1800")
        #expect(out["\(c2)/session_energy"] == "800" && out["\(c2)/meter_stop_reason"] == "EVDisconnected")
        // A reading older than the one published (a backlog) is not published again.
        out = apply(.meterValues(evse: 2, samples: [energy(1700, t0)]))
        #expect(out["\(c2)/energy_active_import_register"] == nil)
        out = apply(.statusNotification(evse: 2, connector: 1, status: "Available"))
        #expect(out["\(c2)/status"] == "Available" && out["\(c2)/plugged"] == "OFF")
        #expect(StationStateModel.status(.init(connectorStatus: "Faulted")) == .faulted)
    }

    /// A transaction open before a restart goes on: its readings count from its meter start, and its next event does
    /// not make it a new one (no new meter_start_timestamp).
    @Test mutating func aRestoredTransactionGoesOn() {
        model.restore(Transaction201(station: "CS", id: "T1", evse: 2, idToken: "tag", meterStart: 1000, startedAt: t0, highestSeqNo: 3))
        let out = apply(.transactionEvent(event(.updated, 4, state: "Charging", samples: [energy(1700, t0)])))
        #expect(out["ocpp/CS/connector/2/state/session_energy"] == "700")
        #expect(out["ocpp/CS/connector/2/state/meter_start_timestamp"] == nil && out["ocpp/CS/connector/2/state/transaction_id"] == nil)
    }

    @Test func commandsIn201FormAreCheckedAgainstTheSchemaAndKeepTheirName() throws {
        let reset = try CommandParser.parse(Array(#"{"action": "reset", "args": {"type": "OnIdle"}}"#.utf8)).get()
        #expect(reset.name == "reset")
        guard case .ocpp201("Reset", let payload) = reset.operation else { throw TestFailure("not a 2.0.1 call: \(reset.operation)") }
        #expect(JSONValue.parse(payload.bytes) == ["type": "OnIdle"])
        // The 1.6 form stays a 1.6 command (translated for 2.0.1 stations when sent).
        guard case .ocpp(.reset, _) = try CommandParser.parse(Array(#"{"action": "reset", "args": {"type": "Hard"}}"#.utf8)).get().operation else {
            throw TestFailure("Hard is 1.6's")
        }
        let status = try CommandParser.parse(Array(#"{"action": "GetTransactionStatus", "args": {"transaction_id": "t"}}"#.utf8)).get()
        #expect(status.name == "get_transaction_status")
        let stop = try CommandParser.parse(Array(#"{"action": "remote_stop_transaction", "args": {"transaction_id": "abc"}}"#.utf8)).get()
        guard case .ocpp201("RequestStopTransaction", _) = stop.operation else { throw TestFailure("a string id is 2.0.1's") }
        guard case .failure(let rejection) = CommandParser.parse(Array(#"{"action": "get_variables", "args": {}}"#.utf8)) else {
            throw TestFailure("get_variables needs get_variable_data")
        }
        #expect(rejection.code == .invalidArguments && rejection.message.contains("getVariableData"))
        guard case .failure(let unknown) = CommandParser.parse(Array(#"{"action": "frobnicate"}"#.utf8)) else { throw TestFailure("unknown") }
        #expect(unknown.code == .unknownAction)
    }

    struct TestFailure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }
}
