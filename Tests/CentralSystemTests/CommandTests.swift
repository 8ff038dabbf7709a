import CentralSystem
import Foundation
import OCPP
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1))) struct CommandTests {
    private func answer(_ call: Call, _ payload: String, on link: CentralSystem.Link, _ central: CentralSystem) async {
        _ = await central.receive(Array(#"[3,"\#(call.messageID)",\#(payload)]"#.utf8), on: link)
    }

    @Test func aCommandToAStationThatIsNotConnectedFailsAtOnce() async throws {
        let central = try CentralSystem.make()
        let result = await central.send(ResetRequest(type: .soft), to: "nowhere")
        #expect(result.failure?.kind == .notConnected)
    }

    @Test func oneCallIsOutstandingAtATimeAndTheRestFollowInOrder() async throws {
        let central = try CentralSystem.make()
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)

        async let first = central.send(ResetRequest(type: .soft), to: "CP1")
        await connection.waitForSent(1)
        async let second = central.send(UnlockConnectorRequest(connectorId: 1), to: "CP1")
        async let third = central.send(ClearCacheRequest(), to: "CP1")
        // Give the queued calls every chance to (wrongly) go out: the first is still unanswered.
        for _ in 0..<50 { await Task.yield() }
        #expect(connection.sent.count == 1)
        #expect(try connection.call(0).action == "Reset")

        await answer(try connection.call(0), #"{"status":"Accepted"}"#, on: link, central)
        #expect(try await first.get().status == .accepted)
        // The two queued calls were submitted concurrently, so either may go first; each goes alone.
        for index in 1...2 {
            await connection.waitForSent(index + 1)
            for _ in 0..<50 { await Task.yield() }
            #expect(connection.sent.count == index + 1)
            let call = try connection.call(index)
            await answer(call, call.action == "UnlockConnector" ? #"{"status":"Unlocked"}"# : #"{"status":"Rejected"}"#, on: link, central)
        }
        #expect(Set([try connection.call(1).action, try connection.call(2).action]) == ["UnlockConnector", "ClearCache"])
        #expect(try await second.get().status == .unlocked)
        #expect(try await third.get().status == .rejected)
    }

    @Test func stationsDoNotWaitForEachOther() async throws {
        let central = try CentralSystem.make()
        let slow = FakeConnection()
        let fast = FakeConnection()
        _ = await central.connect("SLOW", slow)
        let fastLink = await central.connect("FAST", fast)
        async let stuck = central.send(ResetRequest(type: .hard), to: "SLOW")
        await slow.waitForSent(1)
        async let quick = central.send(ResetRequest(type: .hard), to: "FAST")
        await fast.waitForSent(1)
        await answer(try fast.call(0), #"{"status":"Accepted"}"#, on: fastLink, central)
        #expect(try await quick.get().status == .accepted)
        _ = await central.receive(Array(#"[4,"\#(try slow.call(0).messageID)","InternalError","busy",{}]"#.utf8),
                                  on: await central.connect("SLOW", slow))
        _ = await stuck
    }

    @Test func aCallErrorIsReturnedWithTheChargersCode() async throws {
        let central = try CentralSystem.make()
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)
        async let result = central.send(GetConfigurationRequest(), to: "CP1")
        await connection.waitForSent(1)
        _ = await central.receive(Array(#"[4,"\#(try connection.call(0).messageID)","NotSupported","nope",{}]"#.utf8), on: link)
        let error = await result.failure
        #expect(error?.kind == .callError)
        #expect(error?.callError?.code == .notSupported)
    }

    @Test func anAnswerThatBreaksTheSchemaIsReported() async throws {
        let central = try CentralSystem.make()
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)
        async let result = central.send(ResetRequest(type: .soft), to: "CP1")
        await connection.waitForSent(1)
        await answer(try connection.call(0), #"{"status":"Maybe"}"#, on: link, central)
        #expect(await result.failure?.kind == .invalidResponse)
    }

    @Test func anUnansweredCallTimesOutAndTheNextOneGoes() async throws {
        let central = try CentralSystem.make(CentralSystemConfiguration(callTimeout: .milliseconds(100)))
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)
        async let first = central.send(ResetRequest(type: .soft), to: "CP1")
        await connection.waitForSent(1)
        async let second = central.send(ClearCacheRequest(), to: "CP1")
        #expect(await first.failure?.kind == .timeout)
        await connection.waitForSent(2)
        // A late answer to the first call is ignored; the second is answered.
        await answer(try connection.call(0), #"{"status":"Accepted"}"#, on: link, central)
        await answer(try connection.call(1), #"{"status":"Accepted"}"#, on: link, central)
        #expect(try await second.get().status == .accepted)
    }

    @Test func disconnectingFailsTheOutstandingAndQueuedCalls() async throws {
        let central = try CentralSystem.make()
        let connection = FakeConnection()
        let link = await central.connect("CP1", connection)
        async let first = central.send(ResetRequest(type: .soft), to: "CP1")
        await connection.waitForSent(1)
        async let second = central.send(ClearCacheRequest(), to: "CP1")
        for _ in 0..<50 { await Task.yield() }
        await central.detach(link, reason: .connectionLost)
        #expect(await first.failure?.kind == .connectionLost)
        #expect(await second.failure?.kind == .notConnected)
        #expect(await central.send(ClearCacheRequest(), to: "CP1").failure?.kind == .notConnected)
    }

    @Test func aSecondConnectionReplacesTheFirst() async throws {
        let central = try CentralSystem.make(store: InMemoryStateStore.knowing(["CP1"]))
        let events = central.events()
        let old = FakeConnection()
        let oldLink = await central.connect("CP1", old)
        let new = FakeConnection()
        let newLink = await central.connect("CP1", new)
        #expect(old.closed == .replaced)
        // The old connection's end must not take the new one down.
        await central.detach(oldLink, reason: .normalClosure)
        #expect(central.connectedStations.keys.contains("CP1"))

        async let result = central.send(ResetRequest(type: .soft), to: "CP1")
        await new.waitForSent(1)
        await answer(try new.call(0), #"{"status":"Accepted"}"#, on: newLink, central)
        #expect(try await result.get().status == .accepted)
        #expect(old.sent.isEmpty)

        let seen = await collect(3, from: events).map { event -> String in
            switch event {
            case .connected: "connected"
            case .disconnected(_, let reason): "disconnected:\(reason)"
            default: "other"
            }
        }
        #expect(seen == ["connected", "disconnected:\(DisconnectReason.replaced)", "connected"])
    }

    @Test func aConnectionReplacedWhileClosingForAnotherCauseIsReportedWithThatCause() async throws {
        let central = try CentralSystem.make(store: InMemoryStateStore.knowing(["CP1"]))
        let events = central.events()
        let old = FakeConnection()
        _ = await central.connect("CP1", old)
        // The server is closing it (a message too large) and has not detached it yet when the charger reconnects.
        await old.close(because: .messageTooLarge)
        _ = await central.connect("CP1", FakeConnection())
        let seen = await collect(3, from: events).map { event -> String in
            if case .disconnected(_, let reason) = event { return "disconnected:\(reason)" }
            return "\(event)".hasPrefix("connected") ? "connected" : "other"
        }
        #expect(seen == ["connected", "disconnected:\(DisconnectReason.messageTooLarge)", "connected"])
    }

    @Test func anOverLongArgumentIsRefusedBeforeSending() throws {
        let tooLong = String(repeating: "k", count: 51)
        #expect(throws: PayloadDecodingError.self) { _ = ChangeConfigurationRequest(key: try CiString50(tooLong), value: "1") }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
