import CentralSystem
import Foundation
import OCPP
import Synchronization
import Testing

@testable import MQTTBridge

@Suite struct StationDirectoryTests {
    @Test func theThrottlePublishesAtOnceThenOncePerIntervalWithTheLastChange() {
        var throttle = PublishThrottle(interval: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(throttle.changed(at: t0) == .publishNow)
        throttle.published(at: t0)
        // Within the interval: held back; the first holding wakes the publishing task, later ones do not.
        #expect(throttle.changed(at: t0 + .milliseconds(100)) == .wake)
        #expect(throttle.changed(at: t0 + .milliseconds(200)) == .wait)
        #expect(throttle.pending && throttle.due == t0 + .seconds(1))
        throttle.published(at: t0 + .seconds(1))
        #expect(!throttle.pending)
        // After a quiet interval, the next change goes at once again.
        #expect(throttle.changed(at: t0 + .seconds(3)) == .publishNow)
    }

    @Test func theDirectoryListsStationsAndKnowsTheLastConnected() {
        let published = Mutex<[Publication]>([])
        let directory = StationDirectory(topics: TopicLayout(basePath: "ocpp", useStationName: true),
                                         now: { Date(timeIntervalSince1970: 1_795_269_090) }) { publications in
            published.withLock { $0 += publications }
        }
        directory.addDisconnected(["OLD"])
        directory.note(.connected(station: "CP1", info: ConnectionInfo(remoteAddress: "x", subprotocol: nil)))
        // Events that change nothing listed are not noted.
        directory.note(.message(station: "CP1", .heartbeat(HeartbeatResponse(currentTime: Date()))))
        directory.note(.disconnected(station: "CP1", reason: .goingAway))
        #expect(directory.lastConnected == "CP1")
        #expect(directory.count == 2)
        let list = JSONValue.parse(Array(directory.document().utf8))
        #expect(list == [
            ["id": "CP1", "connection_state": "DISCONNECTED", "disconnect_reason": "going_away", "last_connected": "2026-11-21T13:51:30Z",
             "last_disconnected": "2026-11-21T13:51:30Z", "last_seen": "2026-11-21T13:51:30Z", "ocpp_version": "1.6"],
            ["id": "OLD", "connection_state": "DISCONNECTED"],
        ])
        // The connect published the list at once; the disconnect within the interval is held back.
        #expect(published.withLock { $0.count } == 1)
        directory.publishPending()
        #expect(published.withLock { $0.map(\.topic) } == ["ocpp/bridge/stations", "ocpp/bridge/stations"])
    }
}
