@testable import CentralSystem
import Foundation
import OCPP
import OCPP201
import TestSupport
import Testing

/// Issue 24: OCPP 2.0.1 connections in the central system.
@Suite(.timeLimit(.minutes(1))) struct V201Tests {
    private func connect201(_ central: CentralSystem, _ station: String = "CS1", _ connection: FakeConnection = FakeConnection()) async -> CentralSystem.Link {
        await central.attach(station: station, connection: connection, info: ConnectionInfo(remoteAddress: "test", subprotocol: "ocpp2.0.1"))
    }

    private func answer(_ central: CentralSystem, _ text: String, _ link: CentralSystem.Link) async throws -> JSONValue {
        guard case .callResult(let result) = try await central.exchange(text, on: link) else { throw TestFailure("not answered: \(text)") }
        return JSONValue.parse(result.payload.bytes)!
    }

    @Test func everyPlainAnswerFitsItsResponseSchemaAndEveryChargerActionIsAnswered() {
        for action in MessageSchemas201.chargerInitiated {
            let answer = CentralSystem.plainAnswers201[action] ?? [:]
            #expect(MessageSchemas201.shared.check(action, .response, answer) == .fits || [
                "BootNotification", "Heartbeat", "Authorize", "TransactionEvent",  // answered by their own code, below
            ].contains(action), "\(action)")
        }
        #expect(MessageSchemas201.chargerInitiated.count == 25)
    }

    /// Every message a 2.0.1 charger may send, in its golden form (every field, from the shipped fixtures), is
    /// answered with a CALLRESULT that fits the action's response schema, and each of its faults with a CALLERROR:
    /// nothing is NotImplemented, nothing answered wrongly.
    @Test func everyChargerMessageIsAnsweredSchemaValidAndEveryFaultRefused() async throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("OCPP201Tests/Fixtures")
        let central = try CentralSystem.make()
        let link = await connect201(central)
        for action in MessageSchemas201.chargerInitiated.sorted() {
            let fixture = try #require(JSONValue.parse(Array(try Data(contentsOf: fixtures.appendingPathComponent("\(action)Request.json")))))
            let golden = try #require(fixture["golden"])
            let reply = try await central.exchange("[2,\"g\",\"\(action)\",\(golden.text)]", on: link)
            guard case .callResult(let result) = reply else {
                Issue.record("\(action): \(reply)")
                continue
            }
            #expect(MessageSchemas201.shared.check(action, .response, json: result.payload.bytes) == .fits, "\(action)")
            for fault in fixture["faults"]?.arrayValue ?? [] {
                let payload = try #require(fault["payload"])
                guard case .callError = try await central.exchange("[2,\"f\",\"\(action)\",\(payload.text)]", on: link) else {
                    Issue.record("\(action): a fault was answered: \(payload.text)")
                    continue
                }
            }
        }
    }

    @Test func bootHeartbeatAuthorizeAndStatusAreAnsweredSchemaValid() async throws {
        let central = try CentralSystem.make()
        let link = await connect201(central)
        let boot = try await answer(central, #"[2,"b","BootNotification",{"chargingStation":{"vendorName":"A vendor name longer than twenty","model":"M"},"reason":"PowerUp"}]"#, link)
        #expect(MessageSchemas201.shared.check("BootNotification", .response, boot) == .fits)
        #expect(boot["status"] == "Accepted" && boot["currentTime"] == "2026-11-21T13:51:30Z")
        #expect(central.stationRecord("CS1")?.boot?.vendor == "A vendor name longer than twenty")
        let heartbeat = try await answer(central, #"[2,"h","Heartbeat",{}]"#, link)
        #expect(MessageSchemas201.shared.check("Heartbeat", .response, heartbeat) == .fits)
        let authorize = try await answer(central, #"[2,"a","Authorize",{"idToken":{"idToken":"tag-2","type":"ISO14443"}}]"#, link)
        #expect(authorize == ["idTokenInfo": ["status": "Accepted"]])
        let free = try await answer(central, #"[2,"f","Authorize",{"idToken":{"idToken":"","type":"NoAuthorization"}}]"#, link)
        #expect(free == ["idTokenInfo": ["status": "Accepted"]])
        let status = try await answer(central, #"[2,"s","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z","connectorStatus":"Occupied","evseId":1,"connectorId":1}]"#, link)
        #expect(status == [:])
        #expect(central.version(of: "CS1") == .v201)
    }

    @Test func faultsGetTheCallErrorNamesOf201() async throws {
        let central = try CentralSystem.make()
        let link = await connect201(central)
        func code(_ text: String) async -> (String, String)? {
            guard let reply = await central.receive(Array(text.utf8), on: link),
                  case .callError(let error) = try? FrameCodec.decode(reply) else { return nil }
            return (error.messageID, error.code.rawValue)
        }
        #expect(await code("{") ?? ("", "") == ("-1", "RpcFrameworkError"))
        #expect(await code(#"[2,"x","Heartbeat",{}"#) ?? ("", "") == ("x", "FormatViolation"))
        #expect(await code(#"[2,"y","BootNotification",{"reason":"PowerUp"}]"#) ?? ("", "") == ("y", "OccurrenceConstraintViolation"))
        #expect(await code(#"[2,"z","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z","connectorStatus":"Occupied","evseId":99,"connectorId":1}]"#) ?? ("", "") == ("z", "PropertyConstraintViolation"))
        #expect(await code(#"[9,"w","Heartbeat",{}]"#) ?? ("", "") == ("w", "MessageTypeNotSupported"))
        #expect(await code(#"[2,"v","GetVariables",{"getVariableData":[{"component":{"name":"A"},"variable":{"name":"B"}}]}]"#)?.1 == "NotSupported")
        #expect(await code(#"[2,"u","Frobnicate",{}]"#)?.1 == "NotImplemented")
        // A broken answer to a call of the gateway's is not answered (as in 1.6).
        #expect(await central.receive(Array(#"[3,"q"]"#.utf8), on: link) == nil)
    }

    @Test func transactionEventsApplyInSeqNoOrderAndNothingRevivesAnEndedOne() {
        var transactions = Transactions201()
        func event(_ type: TransactionEvent201.EventType, _ id: String, _ seqNo: Int, evse: Int? = 1, wh: Double? = nil,
                   at: Date = someDate) -> TransactionEvent201 {
            TransactionEvent201(eventType: type, transactionId: id, seqNo: seqNo, timestamp: at, triggerReason: "x", evse: evse,
                                samples: wh.map { [MeterSample(timestamp: someDate, measurand: .energyActiveImportRegister, value: $0, rawValue: "")] } ?? [])
        }
        func place(_ event: TransactionEvent201) -> Transactions201.Placement { transactions.place(event, station: "CS") }
        let started = place(event(.started, "t", 0))
        #expect(started.applies && started.evse == 1 && started.meterStart == nil && started.changes.map(\.id) == ["t"])  // new: saved
        let updated = place(event(.updated, "t", 2, evse: nil, wh: 1500))
        #expect(updated.applies && updated.evse == 1)  // the EVSE carried on
        #expect(updated.meterStart == 1500 && updated.changes.first?.record?.meterStart == 1500)  // its first reading: saved
        #expect(place(event(.updated, "t", 3, wh: 1600)).changes.isEmpty)  // nothing new to keep: no write per reading
        #expect(place(event(.updated, "t", 1)).applies == false)  // older than one applied
        #expect(place(event(.updated, "t", 3)).applies == false)  // a duplicate
        let ended = place(event(.ended, "t", 4))
        #expect(ended.applies && ended.meterStart == 1500 && ended.changes.count == 1 && ended.changes[0].record == nil)
        #expect(place(event(.updated, "t", 5)).applies == false)
        #expect(place(event(.ended, "t", 4)).applies == false)
        // Another transaction starts at 0 again.
        #expect(place(event(.started, "u", 0)).applies)
        // Bounded: a charger that never ends its transactions does not grow the table without limit; the one that
        // started first goes (and leaves the store).
        for index in 0..<200 { _ = place(event(.started, "x\(index)", 0, at: someDate.addingTimeInterval(Double(index + 1)))) }
        #expect(transactions.open.count == Transactions201.openKept)
        #expect(transactions.open["u"] == nil && transactions.open["x199"] != nil)
        for index in 0..<100 { _ = place(event(.ended, "y\(index)", 0)) }
        #expect(transactions.ended.count == Transactions201.endedKept)
    }

    /// Schema 10: an open 2.0.1 transaction survives a restart: its events keep their order and its meter start.
    @Test func openTransactionsSurviveARestart() async throws {
        let store = InMemoryStateStore()
        let central = try CentralSystem.make(store: store)
        let link = await connect201(central)
        _ = try await answer(central, #"[2,"t0","TransactionEvent",{"eventType":"Started","timestamp":"2026-01-01T00:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"T9"},"evse":{"id":2,"connectorId":1},"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":4.5,"context":"Transaction.Begin","unitOfMeasure":{"unit":"kWh"}}]}]}]"#, link)
        let restarted = try CentralSystem.make(store: store)
        let kept = restarted.activeTransactions201
        #expect(kept.map(\.id) == ["T9"] && kept.first?.meterStart == 4500 && kept.first?.evse == 2 && kept.first?.highestSeqNo == 0)
        #expect(restarted.openTransactions201(of: "CS1").map(\.evse) == [2])
        let again = await connect201(restarted)
        _ = try await answer(restarted, #"[2,"t1","TransactionEvent",{"eventType":"Ended","timestamp":"2026-01-01T01:00:00Z","triggerReason":"StopAuthorized","seqNo":1,"transactionInfo":{"transactionId":"T9"}}]"#, again)
        #expect(restarted.activeTransactions201.isEmpty)
        #expect(try store.load().transactions201.isEmpty)
        // Into the history under the charger's id; Ended carried no reading: the last one kept (the start's) is its stop.
        #expect(try store.history(station: "CS1", since: nil).map { [$0.displayID, "\($0.meterStart ?? -1)", "\($0.meterStop)"] } == [["T9", "4500", "4500"]])
    }

    @Test func anEndedTransactionGoesIntoTheHistoryUnderTheChargersId() async throws {
        let store = InMemoryStateStore()
        let central = try CentralSystem.make(store: store)
        let link = await connect201(central)
        _ = try await answer(central, #"[2,"t0","TransactionEvent",{"eventType":"Started","timestamp":"2026-01-01T00:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"H1"},"idToken":{"idToken":"TAG-1","type":"ISO14443"},"evse":{"id":1,"connectorId":1},"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":1000.4,"context":"Transaction.Begin"}]}]}]"#, link)
        _ = try await answer(central, #"[2,"t1","TransactionEvent",{"eventType":"Updated","timestamp":"2026-01-01T00:30:00Z","triggerReason":"MeterValuePeriodic","seqNo":1,"transactionInfo":{"transactionId":"H1"},"meterValue":[{"timestamp":"2026-01-01T00:30:00Z","sampledValue":[{"value":1800}]}]}]"#, link)
        _ = try await answer(central, #"[2,"t2","TransactionEvent",{"eventType":"Ended","timestamp":"2026-01-01T01:00:00Z","triggerReason":"EVCommunicationLost","seqNo":2,"transactionInfo":{"transactionId":"H1","stoppedReason":"EVDisconnected"}}]"#, link)
        let history = try store.history(station: "CS1", since: nil)
        #expect(history == [CompletedTransaction(
            id: 0, station: "CS1", connectorId: 1, idTag: "TAG-1", meterStart: 1000, meterStop: 1800, startedAt: OCPPDateTime.parse("2026-01-01T00:00:00Z"),
            stoppedAt: OCPPDateTime.parse("2026-01-01T01:00:00Z")!, stopReason: "EVDisconnected", provider: "charger", chargerTransactionId: "H1")])
        #expect(history.first?.displayID == "H1" && history.first?.energy == 800)
    }

    @Test func theMultiplierAndKiloUnitsAreApplied() {
        let samples = MeterSample.normalise201([[
            "timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [
                ["value": 12.5, "unitOfMeasure": ["unit": "Wh", "multiplier": 3]],
                ["value": 7.2, "measurand": "Power.Active.Import", "unitOfMeasure": ["unit": "kW"]],
                ["value": 16, "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": ["unit": "A"]],
                ["value": 1, "measurand": "Energy.Active.Net"],  // not a measurand MQTT has a topic for
                ["value": 2],  // Energy.Active.Import.Register in Wh by default
            ],
        ]])
        #expect(samples.map(\.value) == [12_500, 7_200, 16, 2])
        #expect(samples.map(\.unit) == [.wh, .w, .a, .wh])
        #expect(samples[2].phase == .l1)
    }

    @Test func aRemoteStartsTokenIsAcceptedOnceAndTheStartingTokenEndsItsTransaction() async throws {
        let central = try CentralSystem.make()
        let link = await connect201(central)
        central.state.withLock { $0.remoteStartTags["CS1"] = ["guest": RemoteStart(until: .distantFuture, provider: "mqtt")] }
        let started = try await answer(central, #"[2,"t0","TransactionEvent",{"eventType":"Started","timestamp":"2026-01-01T00:00:00Z","triggerReason":"RemoteStart","seqNo":0,"transactionInfo":{"transactionId":"T1"},"idToken":{"idToken":"guest","type":"Central"},"evse":{"id":1,"connectorId":1}}]"#, link)
        #expect(started == ["idTokenInfo": ["status": "Accepted"]])
        #expect(central.openTransactions201(of: "CS1").map(\.id) == ["T1"])
        // Used up by its transaction; still its own at the end.
        let other = try await answer(central, #"[2,"a","Authorize",{"idToken":{"idToken":"guest","type":"Central"}}]"#, link)
        #expect(other == ["idTokenInfo": ["status": "Invalid"]])
        let ended = try await answer(central, #"[2,"t1","TransactionEvent",{"eventType":"Ended","timestamp":"2026-01-01T00:10:00Z","triggerReason":"StopAuthorized","seqNo":1,"transactionInfo":{"transactionId":"T1","stoppedReason":"Local"},"idToken":{"idToken":"guest","type":"Central"}}]"#, link)
        #expect(ended == ["idTokenInfo": ["status": "Accepted"]])
        #expect(central.openTransactions201(of: "CS1").isEmpty)
    }
}

/// The 1.6 commands' translations (docs/ocpp201.md's table): each fits 2.0.1's schema.
@Suite struct Translation201Tests {
    private func plan(_ action: String, _ payload: JSONValue) throws -> (String, JSONValue) {
        guard case .success(.call(let name, let body)) = Translation201.plan(action, payload, remoteStartId: 7, requestId: 9) else {
            throw TestFailure("no call for \(action)")
        }
        #expect(MessageSchemas201.shared.check(name, .request, body) == .fits, "\(name) \(body.text)")
        return (name, body)
    }

    @Test func everyTranslatedCommandFitsTheSchema() throws {
        #expect(try plan("RemoteStartTransaction", ["idTag": "t", "connectorId": 2])
                == ("RequestStartTransaction", ["idToken": ["idToken": "t", "type": "Central"], "remoteStartId": 7, "evseId": 2]))
        #expect(try plan("RemoteStopTransaction", ["transactionId": 42]) == ("RequestStopTransaction", ["transactionId": "42"]))
        #expect(try plan("Reset", ["type": "Soft"]) == ("Reset", ["type": "Immediate"]))
        #expect(try plan("UnlockConnector", ["connectorId": 2]) == ("UnlockConnector", ["evseId": 2, "connectorId": 1]))
        #expect(try plan("ChangeAvailability", ["connectorId": 0, "type": "Inoperative"]) == ("ChangeAvailability", ["operationalStatus": "Inoperative"]))
        #expect(try plan("TriggerMessage", ["requestedMessage": "DiagnosticsStatusNotification"]) == ("TriggerMessage", ["requestedMessage": "LogStatusNotification"]))
        #expect(try plan("GetConfiguration", ["key": ["MeterValueSampleInterval"]]).0 == "GetVariables")
        #expect(try plan("ChangeConfiguration", ["key": "OCPPCommCtrlr/HeartbeatInterval", "value": "60"]).0 == "SetVariables")
        let profile: JSONValue = ["connectorId": 0, "csChargingProfiles": [
            "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": ["chargingRateUnit": "A", "startSchedule": "2024-01-01T00:00:00Z",
                                 "chargingSchedulePeriod": [["startPeriod": 0, "limit": 10.0]]]]]
        let (_, translated) = try plan("SetChargingProfile", profile)
        #expect(translated["chargingProfile"]?["chargingProfilePurpose"] == "ChargingStationMaxProfile")
        #expect(try plan("ClearChargingProfile", ["id": 3]).1 == ["chargingProfileId": 3])
        #expect(try plan("GetCompositeSchedule", ["connectorId": 1, "duration": 60]).1 == ["evseId": 1, "duration": 60])
        #expect(try plan("ClearCache", [:]).0 == "ClearCache")
        #expect(try plan("DataTransfer", ["vendorId": "v"]).0 == "DataTransfer")
        #expect(try plan("CancelReservation", ["reservationId": 4]).0 == "CancelReservation")
        #expect(try plan("ReserveNow", ["connectorId": 1, "expiryDate": "2026-01-01T00:00:00Z", "idTag": "t", "reservationId": 4]).0 == "ReserveNow")
        #expect(try plan("UpdateFirmware", ["location": "https://x/f.bin", "retrieveDate": "2026-01-01T00:00:00Z"]).0 == "UpdateFirmware")
        #expect(try plan("GetLocalListVersion", [:]).0 == "GetLocalListVersion")
    }

    @Test func whatHasNoTranslationSaysWhatToDoInstead() {
        guard case .failure(let failure) = Translation201.plan("GetDiagnostics", ["location": "x"], remoteStartId: 1, requestId: 1) else {
            Issue.record("GetDiagnostics has no 2.0.1 counterpart")
            return
        }
        #expect(failure.message.contains("send the 2.0.1 action by its name"))
        guard case .failure(let key) = Translation201.plan("ChangeConfiguration", ["key": "NoSuchKey", "value": "1"], remoteStartId: 1, requestId: 1) else {
            Issue.record("an unknown 1.6 key cannot be translated")
            return
        }
        #expect(key.message.contains("Component/Variable"))
        #expect(Translation201.plan("GetConfiguration", [:], remoteStartId: 1, requestId: 9)
                == .success(.report(payload: ["requestId": 9, "reportBase": "FullInventory"], requestId: 9)))
    }

    @Test func answersComeBackInTheShapeOfTheir16Results() {
        let variables: JSONValue = ["getVariableResult": [
            ["attributeStatus": "Accepted", "attributeValue": "60", "component": ["name": "SampledDataCtrlr"], "variable": ["name": "TxUpdatedInterval"]],
            ["attributeStatus": "UnknownVariable", "component": ["name": "X"], "variable": ["name": "Y"]],
        ]]
        let configuration = Translation201.answer(variables, to: "GetConfiguration")
        #expect(configuration["configurationKey"] == [["key": "MeterValueSampleInterval", "readonly": false, "value": "60"]])
        #expect(configuration["unknownKey"] == ["X/Y"])
        let set: JSONValue = ["setVariableResult": [["attributeStatus": "RebootRequired", "component": ["name": "X"], "variable": ["name": "Y"]]]]
        #expect(Translation201.answer(set, to: "ChangeConfiguration")["status"] == "RebootRequired")
        var assembly = ReportAssembly201()
        assembly.parts[1] = [["component": ["name": "B"], "variable": ["name": "V"], "variableAttribute": [["value": "2", "mutability": "ReadOnly"]]]]
        assembly.lastSeqNo = 1
        #expect(assembly.complete == nil)  // part 0 is missing
        assembly.parts[0] = [["component": ["name": "A", "evse": ["id": 1]], "variable": ["name": "V"], "variableAttribute": [["value": "1"]]]]
        #expect(Translation201.configuration(fromReport: assembly.complete!) == ["configurationKey": [
            ["key": "A/V@1", "readonly": false, "value": "1"], ["key": "B/V", "readonly": true, "value": "2"],
        ]])
    }
}
