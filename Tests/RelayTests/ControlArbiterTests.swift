import Foundation
import OCPP
import Synchronization
import Testing

@testable import Relay

/// Who controls a shared charger: one backend at a time, with a clock the test moves.
@Suite struct ControlArbiterTests {
    let t0 = ContinuousClock.now
    let start = "RemoteStartTransaction", stop = "RemoteStopTransaction", profile = "SetChargingProfile"

    @Test func theFirstControlActionClaimsAndAnotherBackendWaitsUntilTheHolderIsIdle() {
        var arbiter = ControlArbiter(rules: .init(idle: .seconds(60), preferred: []))
        #expect(arbiter.request(profile, from: "energy", at: t0) == .granted && arbiter.holder == "energy")
        #expect(arbiter.request(start, from: "fleet", at: t0 + .seconds(30)) == .refused("energy holds control of this charger", holder: "energy"))
        #expect(arbiter.request(profile, from: "energy", at: t0 + .seconds(50)) == .granted)  // its own use keeps it
        #expect(arbiter.request(start, from: "fleet", at: t0 + .seconds(100)) != .granted)
        #expect(arbiter.request(start, from: "fleet", at: t0 + .seconds(110)) == .granted && arbiter.holder == "fleet")  // idle 60 s
    }

    @Test func aPreferredBackendTakesControlAndABlockedOneNeverGetsIt() {
        var arbiter = ControlArbiter(rules: .init(preferred: ["primary"], blocked: ["stranger"]))
        #expect(arbiter.request(profile, from: "energy", at: t0) == .granted)
        #expect(arbiter.request(stop, from: "primary", at: t0 + .seconds(1)) == .granted && arbiter.holder == "primary")
        #expect(arbiter.request(profile, from: "energy", at: t0 + .seconds(2)) == .refused("primary holds control of this charger", holder: "primary"))
        #expect(arbiter.request(profile, from: "stranger", at: t0 + .seconds(3)) == .refused("stranger may not control this charger", holder: "primary"))
    }

    @Test func theEndOfTheHoldersSessionAndAFaultReleaseControl() {
        var arbiter = ControlArbiter(rules: .init(preferred: []))
        #expect(arbiter.request(start, from: "fleet", at: t0) == .granted)
        arbiter.transactionStarted(41)
        arbiter.transactionStopped(40)  // another transaction's stop changes nothing
        #expect(arbiter.holder == "fleet")
        arbiter.transactionStopped(41)
        #expect(arbiter.holder == nil)
        #expect(arbiter.request(profile, from: "energy", at: t0 + .seconds(1)) == .granted)
        arbiter.faulted()
        #expect(arbiter.holder == nil && arbiter.request(start, from: "fleet", at: t0 + .seconds(2)) == .granted)
        arbiter.remoteStartDeclined()
        arbiter.transactionStarted(42)  // not the holder's: its remote start was declined
        arbiter.transactionStopped(42)
        #expect(arbiter.holder == "fleet")
    }

    @Test func aBackendKeepsItsMinimumIntervalBetweenControlActions() {
        var arbiter = ControlArbiter(rules: .init(preferred: [], minimumInterval: .seconds(10)))
        #expect(arbiter.request(profile, from: "energy", at: t0) == .granted)
        #expect(arbiter.request(profile, from: "energy", at: t0 + .seconds(5)) != .granted)
        #expect(arbiter.request(profile, from: "energy", at: t0 + .seconds(10)) == .granted)
    }

    @Test func anIdleHolderIsReleasedByTheSecondlyCheckAndEveryChangeOfHolderIsReported() {
        var arbiter = ControlArbiter(rules: .init(idle: .seconds(60), preferred: []))
        _ = arbiter.request(profile, from: "energy", at: t0)
        arbiter.expire(at: t0 + .seconds(59))
        #expect(arbiter.holder == "energy")
        arbiter.expire(at: t0 + .seconds(60))
        #expect(arbiter.holder == nil)

        let changes = Mutex<[String?]>([])
        let control = StationControl(rules: .init(preferred: [])) { holder in changes.withLock { $0.append(holder) } }
        _ = control.request(profile, from: "energy")
        _ = control.request(profile, from: "energy")  // still energy: no change
        _ = control.request(profile, from: "fleet")  // refused: no change
        control.saw(Call(messageID: "1", action: "StatusNotification",
                         payload: RawJSON(validatedBytes: Data(#"{"connectorId":0,"errorCode":"GroundFailure","status":"Faulted"}"#.utf8))),
                    action: .statusNotification, answer: nil)
        #expect(changes.withLock { $0 } == ["energy", nil])
    }
}
