import CentralSystem
import Foundation
import Logging
import OCPP
import Synchronization
import Testing

@testable import Relay

/// What the store keeps, in memory (the gateway's is SQLite: StoreTests check it keeps the same across a reopen).
final class MemoryRelayStore: RelayStore {
    private let state = Mutex<(rows: [(Int64, String, QueuedMessage)], next: Int64, facts: [String: RelayFacts], links: [String: [Int: Int]],
                               verdicts: [String: [String: TagVerdict]])>(([], 1, [:], [:], [:]))

    func relayBacklog(of station: String) throws -> RelayBacklog {
        state.withLock { state in
            RelayBacklog(messages: state.rows.filter { $0.1 == station }.map { ($0.0, $0.2) }, facts: state.facts[station] ?? RelayFacts(),
                         links: state.links[station] ?? [:], verdicts: state.verdicts[station] ?? [:])
        }
    }

    func appendRelayMessage(_ message: QueuedMessage, station: String) throws -> Int64 {
        state.withLock { state in
            defer { state.next += 1 }
            state.rows.append((state.next, station, message))
            return state.next
        }
    }

    func removeRelayMessages(_ sequence: [Int64]) throws {
        state.withLock { state in state.rows.removeAll { sequence.contains($0.0) } }
    }

    func saveRelayFacts(_ facts: RelayFacts, station: String) throws {
        state.withLock { $0.facts[station] = facts }
    }

    func saveTransactionLink(local: Int, upstream: Int?, station: String) throws {
        state.withLock { $0.links[station, default: [:]][local] = upstream }
    }

    func saveTagVerdict(_ verdict: TagVerdict, tag: String, station: String) throws {
        state.withLock { $0.verdicts[station, default: [:]][tag] = verdict }
    }

    /// The actions of the kept messages, in order.
    var actions: [String] {
        state.withLock { $0.rows.compactMap { if case .call(let call)? = try? FrameCodec.decode($0.2.frame) { call.action } else { nil } } }
    }
}

@Suite struct StationLineTests {
    let store = MemoryRelayStore()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func line(limit: Int = 100, backlog: RelayBacklog = RelayBacklog(), listed: Set<String> = ["LOCAL"]) -> StationLine {
        StationLine(station: "CP1", backlog: backlog, store: store, limit: limit, logger: Logger(label: "test"), now: { [t0] in t0 }) {
            listed.contains($0) ? .accepted : .invalid
        }
    }

    func call(_ id: String, _ action: Action, _ payload: String) -> Call {
        Call(messageID: id, action: action.rawValue, payload: RawJSON(validatedBytes: Data(payload.utf8)))
    }

    static let boot = #"{"chargePointVendor":"V","chargePointModel":"M"}"#
    static let status = #"{"connectorId":1,"errorCode":"NoError","status":"Charging"}"#
    static func start(_ tag: String = "TAG") -> String { #"{"connectorId":1,"idTag":"\#(tag)","meterStart":0,"timestamp":"2027-01-15T08:00:00Z"}"# }
    static func meter(_ transaction: Int) -> String {
        #"{"connectorId":1,"transactionId":\#(transaction),"meterValue":[{"timestamp":"2027-01-15T08:00:01.5+01:00","sampledValue":[{"value":"7"}]}]}"#
    }
    static func stop(_ transaction: Int) -> String { #"{"meterStop":9,"timestamp":"2027-01-15T09:00:00Z","transactionId":\#(transaction)}"# }

    func result(_ payload: String) -> Frame {
        .callResult(CallResult(messageID: "x", payload: RawJSON(validatedBytes: Data(payload.utf8))))
    }

    func payload(_ frame: Frame?) throws -> String {
        guard case .callResult(let result)? = frame else { throw Failure("not a result: \(String(describing: frame))") }
        return result.payload.description
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func messagesGoUpInOrderOneAtATimeAndAKeptOneLeavesTheStoreWhenAnswered() async throws {
        let line = line()
        let generation = line.open()
        line.linkUp(generation)
        line.mirror(call("a", .statusNotification, Self.status), action: .statusNotification)
        let ticket = line.submit(call("b", .authorize, #"{"idTag":"TAG"}"#), action: .authorize)
        line.mirror(call("c", .heartbeat, "{}"), action: .heartbeat)
        #expect(store.actions == ["StatusNotification", "Heartbeat"])  // the Authorize waits in memory: its charger waits

        let first = try #require(line.take(generation))
        #expect(first.call.messageID == "a")
        _ = line.complete(first.id, answer: result("{}"))
        #expect(store.actions == ["Heartbeat"] && line.queued == 1)

        let second = try #require(line.take(generation))
        #expect(second.call.messageID == "b" && !ticket.isResolved)
        _ = line.complete(second.id, answer: result(#"{"idTagInfo":{"status":"Blocked"}}"#))
        #expect(try payload(await ticket.answer()) == #"{"idTagInfo":{"status":"Blocked"}}"#)

        let third = try #require(line.take(generation))
        #expect(third.call.messageID == "c")
        // Sent under the gateway's own message id, the payload as the charger sent it.
        #expect(String(decoding: line.frame(for: third, messageID: "relay-3"), as: UTF8.self) == #"[2,"relay-3","Heartbeat",{}]"#)
    }

    @Test func thePumpIsWokenOnlyWhenTheLinkIsUpAndNothingIsInFlight() throws {
        let line = line()
        let generation = line.open()
        let wakes = Mutex(0)
        line.setWaker(generation) { wakes.withLock { $0 += 1 } }
        line.mirror(call("a", .statusNotification, Self.status), action: .statusNotification)
        #expect(wakes.withLock { $0 } == 0)  // the link is down: the message waits
        line.linkUp(generation)
        line.setWaker(generation) { wakes.withLock { $0 += 1 } }
        let first = try #require(line.take(generation))
        line.mirror(call("b", .statusNotification, Self.status), action: .statusNotification)
        #expect(wakes.withLock { $0 } == 0 && line.take(generation) == nil)  // one in flight: the pump takes the next after it
        _ = line.complete(first.id, answer: result("{}"))
        #expect(line.take(generation)?.call.messageID == "b")
        _ = line.complete(1, answer: result("{}"))
        line.mirror(call("c", .statusNotification, Self.status), action: .statusNotification)
        #expect(wakes.withLock { $0 } == 1)
    }

    @Test func pastTheGraceTheWaitingMessagesAreAnsweredHereAndAStartGetsALocalID() async throws {
        let line = line()
        let generation = line.open()
        let boot = line.submit(call("b", .bootNotification, Self.boot), action: .bootNotification)
        let start = line.submit(call("s", .startTransaction, Self.start("LOCAL")), action: .startTransaction)
        #expect(!boot.isResolved && !start.isResolved && store.actions.isEmpty)

        line.goAway(generation)
        let booted = try PayloadCoding.decode(BootNotificationResponse.self, from: RawJSON(validatedBytes: Data(try payload(await boot.answer()).utf8)))
        #expect(booted.status == .accepted && booted.interval == 300 && booted.currentTime == t0)
        let started = try PayloadCoding.decode(StartTransactionResponse.self, from: RawJSON(validatedBytes: Data(try payload(await start.answer()).utf8)))
        #expect(started.transactionId == 2_100_000_000 && started.idTagInfo.status == .accepted)
        #expect(store.actions == ["StartTransaction"])  // the boot is not queued: a fresh one goes first
        #expect(try store.relayBacklog(of: "CP1").messages.first?.message.localTransaction == 2_100_000_000)

        // From now on answered at once; the next start gets the next id.
        let again = line.submit(call("s2", .startTransaction, Self.start()), action: .startTransaction)
        let second = try PayloadCoding.decode(StartTransactionResponse.self, from: RawJSON(validatedBytes: Data(try payload(await again.answer()).utf8)))
        #expect(second.transactionId == 2_100_000_001 && second.idTagInfo.status == .invalid)
        #expect(try store.relayBacklog(of: "CP1").facts.nextLocalTransaction == 2_100_000_002)
    }

    @Test func theReplayStartsWithABootThenTheUpstreamsIDIsUsedBothWays() async throws {
        let line = line()
        let generation = line.open()
        line.goAway(generation)
        _ = line.submit(call("b", .bootNotification, Self.boot), action: .bootNotification)
        _ = line.submit(call("s", .startTransaction, Self.start()), action: .startTransaction)
        line.mirror(call("m", .meterValues, Self.meter(2_100_000_000)), action: .meterValues)
        #expect(line.upstreamTransaction(for: 2_100_000_000) == nil)

        line.linkUp(generation)
        let boot = try #require(line.owedBoot())
        #expect(boot.description == Self.boot)
        #expect(line.bootAnswered(result(#"{"status":"Pending","currentTime":"2027-01-15T08:00:00Z","interval":60}"#)) == .seconds(60))
        #expect(line.owedBoot() != nil)
        #expect(line.bootAnswered(result(#"{"status":"Accepted","currentTime":"2027-01-15T08:00:00Z","interval":900}"#)) == nil)
        #expect(try line.owedBoot() == nil && store.relayBacklog(of: "CP1").facts.interval == 900)

        let start = try #require(line.take(generation))
        #expect(start.action == .v16(.startTransaction))
        #expect(line.complete(start.id, answer: result(#"{"transactionId":77,"idTagInfo":{"status":"Accepted"}}"#)).transactionsChanged)
        #expect(line.upstreamTransaction(for: 2_100_000_000) == 77 && line.localTransaction(for: 77) == 2_100_000_000)
        #expect(try store.relayBacklog(of: "CP1").links == [2_100_000_000: 77])

        // The reading goes up under the upstream's id, every other byte as the charger sent it.
        let meter = try #require(line.take(generation))
        #expect(String(decoding: line.frame(for: meter, messageID: "r"), as: UTF8.self)
            == #"[2,"r","MeterValues",{"connectorId":1,"transactionId":77,"meterValue":[{"timestamp":"2027-01-15T08:00:01.5+01:00","sampledValue":[{"value":"7"}]}]}]"#)
        _ = line.complete(meter.id, answer: result("{}"))

        // The stop, once the upstream has it, ends the link.
        let stop = line.submit(call("t", .stopTransaction, Self.stop(2_100_000_000)), action: .stopTransaction)
        let up = try #require(line.take(generation))
        #expect(String(decoding: line.frame(for: up, messageID: "r2"), as: UTF8.self).contains(#""transactionId":77"#))
        _ = line.complete(up.id, answer: result("{}"))
        #expect(try payload(await stop.answer()) == "{}")
        #expect(try line.localTransaction(for: 77) == nil && store.relayBacklog(of: "CP1").links.isEmpty)
    }

    @Test func theStationsIDTagRewriteGoesUpInItsMessagesWithTags() async throws {
        let line = StationLine(station: "CP1", backlog: RelayBacklog(), store: store, limit: 10, idTags: ["Card-1": "DE*ABC*1"],
                               logger: Logger(label: "test")) { _ in .invalid }
        let generation = line.open()
        line.linkUp(generation)
        _ = line.submit(call("a", .authorize, #"{"idTag":"CARD-1"}"#), action: .authorize)
        let entry = try #require(line.take(generation))
        #expect(String(decoding: line.frame(for: entry, messageID: "r"), as: UTF8.self) == #"[2,"r","Authorize",{"idTag":"DE*ABC*1"}]"#)
        _ = line.complete(entry.id, answer: result(#"{"idTagInfo":{"status":"Accepted"}}"#))
        _ = line.submit(call("b", .authorize, #"{"idTag":"other"}"#), action: .authorize)
        let other = try #require(line.take(generation))
        #expect(String(decoding: line.frame(for: other, messageID: "r2"), as: UTF8.self) == #"[2,"r2","Authorize",{"idTag":"other"}]"#)
    }

    @Test func theChargersOwnBootAcceptedByTheUpstreamSettlesTheBootOwed() throws {
        let line = line()
        let generation = line.open()
        line.goAway(generation)
        _ = line.submit(call("b", .bootNotification, Self.boot), action: .bootNotification)
        line.linkUp(generation)
        #expect(line.owedBoot() != nil)
        // The charger boots again before the owed boot went: the upstream accepts the charger's own.
        let reboot = line.submit(call("b2", .bootNotification, Self.boot), action: .bootNotification)
        let entry = try #require(line.take(generation))
        _ = line.complete(entry.id, answer: result(#"{"status":"Accepted","currentTime":"2027-01-15T08:00:00Z","interval":60}"#))
        #expect(reboot.isResolved && line.owedBoot() == nil)
        #expect(try store.relayBacklog(of: "CP1").facts.interval == 60)
    }

    @Test func anUpstreamAwayPastTheGraceStaysSoForTheChargersNextConnection() async throws {
        let line = line()
        let first = line.open()
        line.goAway(first)
        line.close(first)
        let second = line.open()
        #expect(line.link == .away)
        let answer = line.submit(call("a", .authorize, #"{"idTag":"LOCAL"}"#), action: .authorize)
        #expect(try payload(await answer.answer()) == #"{"idTagInfo":{"status":"Accepted"}}"#)
        line.linkUp(second)
        line.close(second)
        _ = line.open()
        #expect(line.link == .down)  // it was back: the next connection waits for it again
    }

    @Test func anAnsweredRemoteStartsTagGoesInTheNextStartOnly() throws {
        let line = line()
        _ = line.open()
        line.answeredRemoteStart(tag: "SEC-1")
        line.mirror(call("s", .startTransaction, Self.start("CARD")), action: .startTransaction, localTransaction: 5)
        line.mirror(call("s2", .startTransaction, Self.start("CARD")), action: .startTransaction, localTransaction: 6)
        let tags = try store.relayBacklog(of: "CP1").messages.map { message -> String? in
            guard case .call(let call)? = try? FrameCodec.decode(message.message.frame) else { return nil }
            return call.payload.string(at: ["idTag"])
        }
        #expect(tags == ["SEC-1", "CARD"])
    }

    @Test func aFullQueueDropsReadingsFirstThenOtherNotificationsAndNeverAStartOrStop() throws {
        let line = line(limit: 3)
        let generation = line.open()
        line.goAway(generation)
        _ = line.submit(call("s", .startTransaction, Self.start()), action: .startTransaction)
        line.mirror(call("m1", .meterValues, Self.meter(1)), action: .meterValues)
        line.mirror(call("n1", .statusNotification, Self.status), action: .statusNotification)
        line.mirror(call("m2", .meterValues, Self.meter(1)), action: .meterValues)  // drops m1
        #expect(store.actions == ["StartTransaction", "StatusNotification", "MeterValues"])
        _ = line.submit(call("t", .stopTransaction, Self.stop(1)), action: .stopTransaction)  // drops m2
        #expect(store.actions == ["StartTransaction", "StatusNotification", "StopTransaction"])
        _ = line.submit(call("s2", .startTransaction, Self.start()), action: .startTransaction)  // drops the status
        _ = line.submit(call("t2", .stopTransaction, Self.stop(2)), action: .stopTransaction)  // nothing to drop: kept
        #expect(store.actions == ["StartTransaction", "StopTransaction", "StartTransaction", "StopTransaction"])
        #expect(line.queued == 4)
        line.mirror(call("h", .heartbeat, "{}"), action: .heartbeat)  // not kept while away
        #expect(line.queued == 4)
    }

    @Test func aKeptMessageTheUpstreamDoesNotAnswerIsTriedThreeTimesThenDropped() async throws {
        let line = line()
        let generation = line.open()
        line.linkUp(generation)
        line.mirror(call("n", .statusNotification, Self.status), action: .statusNotification)
        for attempt in 1...3 {
            let entry = try #require(line.take(generation))
            _ = line.complete(entry.id, answer: nil)
            #expect(line.queued == (attempt < 3 ? 1 : 0))
        }
        // A waiting charger's message unanswered gets no answer (the charger sends it again), and is not tried again.
        let ticket = line.submit(call("a", .authorize, #"{"idTag":"TAG"}"#), action: .authorize)
        let entry = try #require(line.take(generation))
        _ = line.complete(entry.id, answer: nil)
        #expect(await ticket.answer() == nil)
    }

    @Test func aNewConnectionTakesUpTheBacklogAndTheEarlierOnesWaitingChargerGetsNoAnswer() async throws {
        let line = line()
        let first = line.open()
        line.goAway(first)
        _ = line.submit(call("s", .startTransaction, Self.start()), action: .startTransaction)
        let backlog = try store.relayBacklog(of: "CP1")
        #expect(backlog.messages.count == 1 && backlog.facts.bootOwed)

        // After a restart: the same backlog, in order, with its local id.
        let restarted = StationLine(station: "CP1", backlog: backlog, store: store, limit: 100, logger: Logger(label: "test")) { _ in .invalid }
        let generation = restarted.open()
        let waiting = restarted.submit(call("a", .authorize, #"{"idTag":"TAG"}"#), action: .authorize)
        restarted.linkUp(generation)
        let head = try #require(restarted.take(generation))
        #expect(head.action == .v16(.startTransaction) && head.localTransaction == 2_100_000_000)

        let next = restarted.open()  // the charger connected again: the earlier connection's charger gets nothing
        #expect(await waiting.answer() == nil)
        #expect(restarted.take(generation) == nil)  // the earlier connection's pump stops
        restarted.linkUp(next)
        #expect(try #require(restarted.take(next)).action == .v16(.startTransaction))
    }
}

@Suite struct StandInTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theUpstreamsVerdictHoldsUntilItExpiresThenTheLocalListDecides() {
        var standIn = StandIn(facts: RelayFacts(), verdicts: [:])
        _ = standIn.learn(IdTagInfo(status: .accepted, expiryDate: now.addingTimeInterval(60)), tag: "Soon")
        _ = standIn.learn(IdTagInfo(status: .blocked), tag: "LISTED-BLOCKED")
        _ = standIn.learn(IdTagInfo(status: .accepted, expiryDate: now.addingTimeInterval(-1)), tag: "gone")
        let local: (String) -> AuthorizationStatus = { ["listed-blocked", "listed"].contains($0.lowercased()) ? .accepted : .invalid }
        #expect(standIn.idTagInfo("soon", now, local).status == .accepted)
        #expect(standIn.idTagInfo("soon", now.addingTimeInterval(61), local).status == .invalid)
        #expect(standIn.idTagInfo("listed-blocked", now, local).status == .blocked)  // the upstream's refusal wins
        #expect(standIn.idTagInfo("LISTED", now, local).status == .accepted)
        #expect(standIn.idTagInfo("gone", now, local).status == .invalid)
        // The charging switch off blocks every tag, as without relaying.
        #expect(standIn.idTagInfo("soon", now) { _ in .blocked }.status == .blocked)
        #expect(standIn.learn(IdTagInfo(status: .blocked), tag: "listed-BLOCKED") == nil)  // unchanged: nothing to save
    }

    @Test func aMessageThatDoesNotFitItsSchemaGetsItsCallError() {
        var standIn = StandIn(facts: RelayFacts(), verdicts: [:])
        let answer = standIn.answer(Call(messageID: "1", action: "StartTransaction", payload: RawJSON(validatedBytes: Data(#"{"connectorId":1}"#.utf8))),
                                    action: .startTransaction, now: now) { _ in .accepted }
        guard case .callError(let error) = answer.frame else {
            Issue.record("expected a CallError")
            return
        }
        #expect(error.messageID == "1" && !answer.queued && standIn.facts.nextLocalTransaction == RelayFacts.localTransactionIDs.lowerBound)
    }
}

@Suite struct RawJSONMemberTests {
    func json(_ text: String) -> RawJSON { RawJSON(validatedBytes: Data(text.utf8)) }

    @Test func anIntegerIsFoundAndReplacedWhereItStandsEverythingElseKept() {
        let payload = json(#"{ "a" : {"x":"transactionId"}, "transactionId" : 12 , "b":[1,2] }"#)
        #expect(payload.integer(at: ["transactionId"]) == 12)
        #expect(payload.replacingInteger(at: ["transactionId"], with: -7)?.description == #"{ "a" : {"x":"transactionId"}, "transactionId" : -7 , "b":[1,2] }"#)
        let nested = json(#"{"connectorId":1,"csChargingProfiles":{"stackLevel":0,"transactionId":2100000000}}"#)
        #expect(nested.integer(at: ["csChargingProfiles", "transactionId"]) == 2_100_000_000)
        #expect(nested.replacingInteger(at: ["csChargingProfiles", "transactionId"], with: 5)?.description
            == #"{"connectorId":1,"csChargingProfiles":{"stackLevel":0,"transactionId":5}}"#)
    }

    @Test func aStringIsFoundAndReplacedEscaped() {
        let payload = json(#"{"idTag":"A\u0042C","n":1}"#)
        #expect(payload.string(at: ["idTag"]) == "ABC")
        #expect(payload.replacingString(at: ["idTag"], with: #"q"\"#)?.description == #"{"idTag":"q\"\\","n":1}"#)
        #expect(payload.string(at: ["n"]) == nil && payload.replacingString(at: ["n"], with: "x") == nil)
    }

    @Test(arguments: [#"{}"#, #"[1]"#, #"{"transactionId":"12"}"#, #"{"transactionId":1.5}"#, #"{"other":{"transactionId":3}}"#, #"{"transactionId":null}"#])
    func noIntegerThereIsNil(_ text: String) {
        #expect(json(text).integer(at: ["transactionId"]) == nil && json(text).replacingInteger(at: ["transactionId"], with: 1) == nil)
    }
}
