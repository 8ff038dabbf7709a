import CentralSystem
import Foundation
import OCPP
import Synchronization
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1))) struct ChargerMessageTests {
    @Test func bootIsAcceptedWithTheConfiguredIntervalAndUTCTime() async throws {
        let time = ManualTime()
        let central = try CentralSystem.make(CentralSystemConfiguration(heartbeatInterval: .seconds(120)), time: time)
        let link = await central.connect("CP1")
        let reply = try await central.exchange(#"[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]"#, on: link)
        #expect(reply == .callResult(CallResult(messageID: "b1", payload: RawJSON(validatedBytes: Data(
            #"{"currentTime":"2026-11-21T13:51:30Z","interval":120,"status":"Accepted"}"#.utf8)))))
    }

    /// Issue 19: while the bridge cannot keep what they publish (a full outbox, a failing store), transaction-related
    /// messages get no answer at all (the charger keeps and resends them) and create no transaction; the rest is
    /// answered as usual.
    @Test func transactionMessagesGoUnansweredWhileTheDurabilityGateIsClosed() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        central.durability.close()
        for message in [
            #"[2,"s1","StartTransaction",{"connectorId":1,"idTag":"TAG-1","meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}]"#,
            #"[2,"m1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}]}]"#,
            #"[2,"t1","StopTransaction",{"transactionId":1,"meterStop":5,"timestamp":"2026-01-01T00:00:00Z"}]"#,
        ] {
            #expect(await central.receive(Array(message.utf8), on: link) == nil)
        }
        #expect(central.activeTransactions.isEmpty)
        guard case .callResult = try await central.exchange(#"[2,"h1","Heartbeat",{}]"#, on: link) else {
            Issue.record("the heartbeat was not answered")
            return
        }
        central.durability.reopen()
        let start = StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 0, timestamp: someDate)
        // The unanswered start used no id: the first one is the clock's floor.
        #expect(try await central.request(start, on: link).transactionId == TransactionIDs.floor(at: ManualTime().now))
    }

    @Test func listedTagsAreAcceptedIgnoringCaseAndOthersInvalid() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        #expect(try await central.request(AuthorizeRequest(idTag: "TAG-1"), on: link).idTagInfo.status == .accepted)
        #expect(try await central.request(AuthorizeRequest(idTag: "TAG-2"), on: link).idTagInfo.status == .accepted)
        #expect(try await central.request(AuthorizeRequest(idTag: "other"), on: link).idTagInfo.status == .invalid)
    }

    @Test func chargingSwitchOffBlocksAuthorizeAndStartOnThatStationOnly() async throws {
        let store = InMemoryStateStore()
        let central = try CentralSystem.make(store: store)
        let cp1 = await central.connect("CP1")
        let cp2 = await central.connect("CP2")
        try central.setChargingEnabled(false, station: "CP1")
        #expect(try await central.request(AuthorizeRequest(idTag: "TAG-1"), on: cp1).idTagInfo.status == .blocked)
        let start = StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 0, timestamp: someDate)
        #expect(try await central.request(start, on: cp1).idTagInfo.status == .blocked)
        #expect(try await central.request(AuthorizeRequest(idTag: "TAG-1"), on: cp2).idTagInfo.status == .accepted)

        // Kept across a restart.
        let restarted = try CentralSystem.make(store: store)
        #expect(restarted.chargingEnabled(station: "CP1") == false)
        #expect(restarted.chargingEnabled(station: "CP2") == true)
    }

    /// Issue 19: a store lost or restored from an old backup handed out transaction id 1 again. Ids never go below the
    /// clock's floor (seconds since 2024), so a blank store a day later starts above every id of the day before.
    @Test func aLostStoreDoesNotHandOutOldTransactionIDsAgain() async throws {
        let time = ManualTime()
        let start = StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 10, timestamp: someDate)
        let before = try CentralSystem.make(time: time)
        let link = await before.connect("CP1")
        var handedOut: [Int] = []
        for _ in 0..<5 { handedOut.append(try await before.request(start, on: link).transactionId) }
        #expect(handedOut == Array(handedOut[0]..<handedOut[0] + 5))  // consecutive within a second
        time.advance(86_400)
        let blank = try CentralSystem.make(time: time)  // the store is lost
        let after = try await blank.request(start, on: await blank.connect("CP1")).transactionId
        #expect(after > handedOut.max()!)
        #expect(after < Int(Int32.max))
    }

    @Test func startTransactionChecksTheTagListAndIdsNeverRepeatAcrossRestarts() async throws {
        let store = InMemoryStateStore()
        var ids: [Int] = []
        for _ in 0..<3 {
            let central = try CentralSystem.make(store: store)
            let link = await central.connect("CP1")
            let accepted = try await central.request(
                StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 10, timestamp: someDate), on: link)
            let refused = try await central.request(
                StartTransactionRequest(connectorId: 2, idTag: "stranger", meterStart: 10, timestamp: someDate), on: link)
            #expect(accepted.idTagInfo.status == .accepted)
            #expect(refused.idTagInfo.status == .invalid)
            ids += [accepted.transactionId, refused.transactionId]
        }
        #expect(ids == Array(ids[0]..<ids[0] + 6))  // the counter goes on from the store, above the clock's floor
    }

    /// Issue 19: 5,000 StartTransactions on one connector left 5,000 open transactions. A start on a connector with an
    /// open transaction ends that one, recorded as superseded; other connectors keep theirs.
    @Test func aNewStartOnAConnectorSupersedesItsOpenTransaction() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        func start(_ connector: Int, at meter: Int) async throws -> Int {
            try await central.request(StartTransactionRequest(connectorId: connector, idTag: "TAG-1", meterStart: meter, timestamp: someDate),
                                      on: link, id: "s\(connector)-\(meter)").transactionId
        }
        let first = try await start(1, at: 100)
        let other = try await start(2, at: 5)
        for meter in 200..<250 { _ = try await start(1, at: meter) }
        #expect(central.activeTransactions.count == 2)
        #expect(central.activeTransactions.contains { $0.id == other })
        let history = try central.history()
        #expect(history.count == 50 && history.allSatisfy { $0.stopReason == "Superseded" })
        #expect(history.first { $0.id == first }?.energy == 100)  // stopped at the next start's meter reading
    }

    @Test func stopTransactionIsAlwaysAnswered() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        let events = central.events()
        let started = try await central.request(
            StartTransactionRequest(connectorId: 1, idTag: "TAG-1", meterStart: 1000, timestamp: someDate), on: link)
        // Known transaction, with tag and reason.
        let known = try await central.request(
            StopTransactionRequest(transactionId: started.transactionId, meterStop: 5000, timestamp: someDate, idTag: "TAG-1", reason: .local),
            on: link)
        #expect(known.idTagInfo?.status == .accepted)
        // Unknown transaction, no optional fields at all.
        let unknown = try await central.exchange(
            #"[2,"s2","StopTransaction",{"meterStop":1,"timestamp":"2026-01-01T00:00:00Z","transactionId":987654}]"#, on: link)
        #expect(unknown == .callResult(CallResult(messageID: "s2", payload: .emptyObject)))
        #expect(central.activeTransactions.isEmpty)

        let seen = await collectMessages(3, from: events)
        guard case .message(_, .stopTransaction(_, _, let transaction?, _)) = seen[1] else {
            Issue.record("expected the known stop with its transaction, got \(seen[1])")
            return
        }
        #expect(transaction.meterStart == 1000)
        guard case .message(_, .stopTransaction(_, _, nil, _)) = seen[2] else {
            Issue.record("expected the unknown stop without a transaction, got \(seen[2])")
            return
        }
    }

    @Test func remoteStartTagIsAcceptedOnItsStationForAWhile() async throws {
        let time = ManualTime()
        let central = try CentralSystem.make(time: time)
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)
        async let answer = central.send(RemoteStartTransactionRequest(idTag: "guest", connectorId: 1), to: "CP1")
        await connection.waitForSent(1)
        let call = try connection.call(0)
        _ = await central.receive(Array(#"[3,"\#(call.messageID)",{"status":"Accepted"}]"#.utf8), on: link)
        #expect(try await answer.get().status == .accepted)

        let other = await central.connect("CP2")
        #expect(try await central.request(AuthorizeRequest(idTag: "guest"), on: link).idTagInfo.status == .accepted)
        #expect(try await central.request(AuthorizeRequest(idTag: "guest"), on: other).idTagInfo.status == .invalid)
        time.advance(301)
        #expect(try await central.request(AuthorizeRequest(idTag: "guest"), on: link).idTagInfo.status == .invalid)
    }

    @Test func meterValuesAreNormalisedSampleBySample() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        let events = central.events()
        let frame = #"""
            [2,"mv","MeterValues",{"connectorId":2,"transactionId":5,"meterValue":[
              {"timestamp":"2026-11-21T13:00:00Z","sampledValue":[
                {"value":"12.5","unit":"kWh"},
                {"value":"7.2","measurand":"Power.Active.Import","unit":"kW"},
                {"value":"16.1","measurand":"Current.Import","phase":"L1","unit":"A"},
                {"value":"15.9","measurand":"Current.Import","phase":"L2","unit":"A"},
                {"value":"231","measurand":"Voltage","phase":"L1-N","unit":"V","location":"Outlet","context":"Sample.Periodic"}]},
              {"timestamp":"2026-11-21T13:01:00Z","sampledValue":[{"value":"12600","measurand":"Energy.Active.Import.Register"}]}
            ]}]
            """#
        #expect(try await central.exchange(frame, on: link) == .callResult(CallResult(messageID: "mv", payload: .emptyObject)))
        guard case .message(_, .meterValues(let request, let samples)) = await collectMessages(1, from: events)[0] else {
            Issue.record("no meter values event")
            return
        }
        #expect(request.connectorId == 2)
        #expect(samples.map(\.measurand) == [.energyActiveImportRegister, .powerActiveImport, .currentImport, .currentImport, .voltage, .energyActiveImportRegister])
        #expect(samples.map(\.value) == [12_500, 7_200, 16.1, 15.9, 231, 12_600])
        #expect(samples.map(\.unit) == [.wh, .w, .a, .a, .v, .wh])
        #expect(samples.map(\.phase) == [nil, nil, .l1, .l2, .l1N, nil])
        #expect(samples[4].location == .outlet && samples[4].context == .samplePeriodic)
        #expect(samples[5].timestamp == OCPPDateTime.parse("2026-11-21T13:01:00Z"))
    }

    @Test func dataTransferIsAnsweredUnknownVendorUnlessHandled() async throws {
        let plain = try CentralSystem.make()
        let link = await plain.connect("CP1")
        #expect(try await plain.request(DataTransferRequest(vendorId: "acme", data: "x"), on: link).status == .unknownVendorId)

        let handled = try CentralSystem.make(CentralSystemConfiguration(dataTransferHandler: { station, request in
            DataTransferResponse(status: .accepted, data: "\(station):\(request.data ?? "")")
        }))
        let link2 = await handled.connect("CP9")
        #expect(try await handled.request(DataTransferRequest(vendorId: "acme", data: "x"), on: link2) == DataTransferResponse(status: .accepted, data: "CP9:x"))
    }

    @Test func notificationsAreAcknowledged() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        _ = try await central.request(DiagnosticsStatusNotificationRequest(status: .uploaded), on: link)
        _ = try await central.request(FirmwareStatusNotificationRequest(status: .installed), on: link)
        _ = try await central.request(SecurityEventNotificationRequest(type: "FirmwareUpdated", timestamp: someDate), on: link)
        _ = try await central.request(SignedFirmwareStatusNotificationRequest(status: .signatureVerified, requestId: 3), on: link)
        _ = try await central.request(LogStatusNotificationRequest(status: .uploaded), on: link)
        _ = try await central.request(StatusNotificationRequest(connectorId: 0, errorCode: .noError, status: .available), on: link)
        #expect(try await central.request(HeartbeatRequest(), on: link).currentTime == ManualTime().now)
    }

    @Test(arguments: [
        (#"[2,"u1","FlyToTheMoon",{}]"#, "NotImplemented"),
        (#"[2,"u2","Reset",{"type":"Hard"}]"#, "NotSupported"),
        (#"[2,"u3","SignCertificate",{"csr":"x"}]"#, "NotSupported"),
        (#"[2,"u4","Authorize",{}]"#, "OccurenceConstraintViolation"),
        (#"[2,"u5","Authorize",{"idTag":42}]"#, "TypeConstraintViolation"),
        (#"[2,"u6","StatusNotification",{"connectorId":1,"errorCode":"Oops","status":"Available"}]"#, "PropertyConstraintViolation"),
        (#"[2,"u7","Heartbeat"]"#, "ProtocolError"),
        (#"not json"#, "FormationViolation"),
    ])
    func badCallsGetTheSpecsCallError(frame: String, code: String) async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        guard case .callError(let error) = try await central.exchange(frame, on: link) else {
            Issue.record("expected a CALLERROR")
            return
        }
        #expect(error.code.rawValue == code)
    }

    @Test func answersToCallsAreNeverAnswered() async throws {
        let central = try CentralSystem.make()
        let link = await central.connect("CP1")
        #expect(await central.receive(Array(#"[3,"nobody-asked",{}]"#.utf8), on: link) == nil)
        #expect(await central.receive(Array(#"[4,"nobody-asked","GenericError","x",{}]"#.utf8), on: link) == nil)
        #expect(await central.receive(Array(#"[3,"broken"]"#.utf8), on: link) == nil)
    }
}

@Suite struct KnownStationTests {
    /// Issue 19: every handshake created a permanent station (2,000 idle connections left 2,065 stations and 43,365
    /// Home Assistant configs). A station is remembered and announced from its first message on.
    @Test func aStationIsRememberedAndAnnouncedFromItsFirstMessage() async throws {
        let store = InMemoryStateStore()
        let central = try CentralSystem.make(store: store)
        let events = central.events()
        let silent = await central.connect("SILENT")
        let link = await central.connect("CP-A")
        #expect(central.knownStations.isEmpty)
        _ = try await central.exchange(#"[2,"h1","Heartbeat",{}]"#, on: link)
        #expect(central.knownStations == ["CP-A"])
        await central.detach(silent, reason: .connectionLost)
        await central.detach(link, reason: .normalClosure)
        let seen = await collect(3, from: events)
        #expect(seen.map(\.station) == ["CP-A", "CP-A", "CP-A"])  // connected, the heartbeat, disconnected: nothing of SILENT
        guard case .connected = seen[0], case .disconnected = seen[2] else {
            Issue.record("expected connected first and disconnected last: \(seen)")
            return
        }
        #expect(try CentralSystem.make(store: store).knownStations == ["CP-A"])
        // A known station is announced at its connection.
        let again = try CentralSystem.make(store: store)
        let known = again.events()
        _ = await again.connect("CP-A")
        guard case .connected = await collect(1, from: known)[0] else {
            Issue.record("not announced at connect")
            return
        }
    }

    /// The number of remembered stations is bounded: a new station past it is refused at the handshake and at its first
    /// message; known ones go on.
    @Test func newStationsPastTheBoundAreRefused() async throws {
        let central = try CentralSystem.make(CentralSystemConfiguration(maxKnownStations: 2))
        for station in ["A", "B"] { _ = try await central.exchange(#"[2,"h","Heartbeat",{}]"#, on: await central.connect(station)) }
        #expect(!central.acceptsConnection(of: "C") && central.acceptsConnection(of: "A"))
        let reply = try await central.exchange(#"[2,"h","Heartbeat",{}]"#, on: await central.connect("C"))
        guard case .callError(let error) = reply, error.code == .genericError else {
            Issue.record("expected GenericError: \(reply)")
            return
        }
        #expect(central.knownStations == ["A", "B"])
    }
}

@Suite struct HistoryTests {
    @Test func endedTransactionsAreKeptOnceWithTheirEnergy() async throws {
        let store = InMemoryStateStore()
        let central = try CentralSystem.make(store: store)
        let link = await central.connect("CP1")
        let started = try await central.request(
            StartTransactionRequest(connectorId: 2, idTag: "TAG-1", meterStart: 1000, timestamp: someDate), on: link)
        let stop = StopTransactionRequest(transactionId: started.transactionId, meterStop: 4500, timestamp: someDate + 3600, reason: .evDisconnected)
        _ = try await central.request(stop, on: link)
        _ = try await central.request(stop, on: link, id: "again")  // the charger repeats the stop: not a second record
        // A transaction this gateway never issued (started on another central system) is kept, partly known.
        _ = try await central.request(StopTransactionRequest(transactionId: 999_999, meterStop: 10, timestamp: someDate + 7200), on: link)
        let history = try central.history()
        #expect(history.count == 2)
        #expect(history[0].energy == 3500 && history[0].connectorId == 2 && history[0].stopReason == "EVDisconnected")
        #expect(history[1].id == 999_999 && history[1].energy == nil && history[1].stopReason == "Local")
        #expect(try central.history(station: "CP2").isEmpty)
        #expect(try central.history(since: someDate + 5000).map(\.id) == [999_999])
    }
}

@Suite(.timeLimit(.minutes(1))) struct DurableEventTests {
    final class RecordingSink: DurableEventSink {
        let events = Mutex<[CentralSystemEvent]>([])
        func deliver(_ event: CentralSystemEvent) { events.withLock { $0.append(event) } }
    }

    @Test func aMessageReachesTheDurableSinkBeforeItIsAnswered() async throws {
        let central = try CentralSystem.make()
        let sink = RecordingSink()
        central.setDurableSink(sink)
        let link = await central.connect("CP1")
        #expect(await central.receive(Array(#"[2,"h1","Heartbeat",{}]"#.utf8), on: link) != nil)
        // Handed over synchronously: there when the answer is.
        let events = sink.events.withLock { $0 }
        #expect(events.count == 2)
        guard events.count == 2, case .connected = events[0], case .message(_, .heartbeat) = events[1] else {
            Issue.record("expected connected, then the heartbeat: \(events)")
            return
        }
    }

    @Test func aRemovedSinkGetsNothingMore() async throws {
        let central = try CentralSystem.make(store: InMemoryStateStore.knowing(["CP1"]))
        let sink = RecordingSink()
        central.setDurableSink(sink)
        let link = await central.connect("CP1")
        central.setDurableSink(nil)
        #expect(await central.receive(Array(#"[2,"h1","Heartbeat",{}]"#.utf8), on: link) != nil)
        #expect(sink.events.withLock { $0.count } == 1)
    }
}
