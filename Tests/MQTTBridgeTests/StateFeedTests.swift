import Logging
import TestSupport
import Testing

@testable import MQTTBridge

@Suite struct StateFeedTests {
    let topics = TopicLayout(basePath: "ocpp", useStationName: true)

    @Test func topicsAreGroupedByStationBelowTheirRoot() {
        #expect(topics.stationPath(of: "ocpp/CP1/state/status")! == ("CP1", "state/status"))
        #expect(topics.stationPath(of: "ocpp/CP1/connector/2/state/power_active_import")! == ("CP1", "connector/2/state/power_active_import"))
        #expect(topics.stationPath(of: "ocpp/CP1/relay/queue")! == ("CP1", "relay/queue"))
        #expect(topics.stationPath(of: "ocpp/bridge/state") == nil)
        #expect(topics.stationPath(of: "ocpp/CP1") == nil)
        #expect(topics.stationPath(of: "homeassistant/sensor/x/config") == nil)
        let flat = TopicLayout(basePath: "ocpp", useStationName: false)
        #expect(flat.stationPath(of: "ocpp/state/status")! == (nil, "state/status"))
        #expect(flat.stationPath(of: "ocpp/bridge/stations") == nil)
    }

    @Test func nothingIsCollectedWhileNobodyWatches() {
        let feed = StateFeed(topics: topics)
        #expect(!feed.isWatched)
        let id = feed.watch()!
        #expect(feed.isWatched)
        feed.stopWatching(id)
        #expect(!feed.isWatched)
        feed.note([("ocpp/CP1/state/status", "Charging")])
        #expect(feed.take(id) == .changes([:]))
    }

    @Test func aWatcherGetsTheLatestValueOfEachTopicOnce() {
        let feed = StateFeed(topics: topics)
        let id = feed.watch()!
        feed.note([("ocpp/CP1/state/power_active_import", "100"), ("ocpp/CP2/state/status", "Charging")])
        feed.note([("ocpp/CP1/state/power_active_import", "200"), ("ocpp/CP1/state/voltage", "")])
        let changes = feed.take(id)
        #expect(changes == .changes(["CP1": ["state/power_active_import": "200", "state/voltage": ""], "CP2": ["state/status": "Charging"]]))
        #expect(feed.take(id) == .changes([:]))
    }

    @Test func theSnapshotComesFirstAndChangesSinceWatchingWin() {
        let feed = StateFeed(topics: topics)
        let id = feed.watch()!
        feed.note([("ocpp/CP1/relay/state", "connected")])
        feed.seed(id, feed.snapshot([("ocpp/CP1/relay/state", "connecting"), ("ocpp/CP1/state/status", "Available")]))
        #expect(feed.take(id) == .changes(["CP1": ["relay/state": "connected", "state/status": "Available"]]))
    }

    @Test func tagsAreMasked() {
        let feed = StateFeed(topics: topics)
        let id = feed.watch()!
        feed.note([("ocpp/CP1/connector/1/state/id_tag", "04A1B2C3"), ("ocpp/CP1/state/authorize", "TAG"),
                   ("ocpp/CP1/state/status", "04A1B2C3")])
        #expect(feed.take(id) == .changes(["CP1": ["connector/1/state/id_tag": "••••••C3", "state/authorize": "•••",
                                                   "state/status": "04A1B2C3"]]))
        #expect(StateFeed.mask("") == "")
        #expect(StateFeed.mask("ABCDEF") == "••••EF")
    }

    @Test func twoWatchersEachGetEveryChangeAndTheLogIsTrimmedBehindTheSlowest() {
        let feed = StateFeed(topics: topics)
        let fast = feed.watch()!, slow = feed.watch()!
        feed.note([("ocpp/CP1/state/status", "Preparing")])
        #expect(feed.take(fast) == .changes(["CP1": ["state/status": "Preparing"]]))
        feed.note([("ocpp/CP1/state/status", "Charging")])
        #expect(feed.take(fast) == .changes(["CP1": ["state/status": "Charging"]]))
        #expect(feed.loggedEntries == 2)  // the slow one has taken nothing yet
        #expect(feed.take(slow) == .changes(["CP1": ["state/status": "Charging"]]))
        #expect(feed.loggedEntries == 0)  // both have everything: the log is trimmed
        #expect(feed.take(slow) == .changes([:]))
        feed.stopWatching(fast)
        feed.stopWatching(slow)
        feed.note([("ocpp/CP1/state/status", "Finishing")])
        #expect(feed.loggedEntries == 0)  // nobody watches: nothing is kept
    }

    @Test func aWatcherThatStopsTakingFallsBehindInsteadOfHoldingMemory() {
        let feed = StateFeed(topics: topics)
        let stalled = feed.watch()!
        let batch = (0..<1000).map { ("ocpp/CP\($0)/state/power_active_import", "1") }
        for _ in 0...(StateFeed.maxLogEntries / batch.count) { feed.note(batch) }
        #expect(feed.take(stalled) == .behind)
        feed.note([("ocpp/CP1/state/status", "Charging")])
        #expect(feed.take(stalled) == .changes(["CP1": ["state/status": "Charging"]]))  // and on from there
    }

    @Test func watchersAreBounded() {
        let feed = StateFeed(topics: topics)
        let ids = (0..<StateFeed.maxWatchers).compactMap { _ in feed.watch() }
        #expect(ids.count == StateFeed.maxWatchers && Set(ids).count == ids.count)
        #expect(feed.watch() == nil)
        feed.stopWatching(ids[0])
        #expect(feed.watch() != nil)
    }

    @Test func withoutStationNamesTopicsBelongToTheStationWithoutAName() {
        let feed = StateFeed(topics: TopicLayout(basePath: "ocpp", useStationName: false))
        let id = feed.watch()!
        feed.note([("ocpp/state/status", "Charging"), ("ocpp/bridge/state", "online")])
        #expect(feed.take(id) == .changes(["": ["state/status": "Charging"]]))
    }

    @Test func thePublisherHandsOverRetainedStateOnlyWhileWatched() throws {
        let feed = StateFeed(topics: topics)
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: MemoryOutbox(), feed: feed,
                                       logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        publisher.publish([Publication(topic: "ocpp/CP1/state/status", payload: "Available")])
        let id = try #require(feed.watch())
        publisher.publish([Publication(topic: "ocpp/CP1/state/status", payload: "Charging"),
                           Publication(topic: "ocpp/CP1/cmd_result", payload: "{}", retain: false),
                           Publication(topic: "homeassistant/sensor/x/config", payload: "{}", cached: false)])
        #expect(feed.take(id) == .changes(["CP1": ["state/status": "Charging"]]))
        #expect(feed.snapshot(publisher.retainedTopics) == ["CP1": ["state/status": "Charging"]])
    }
}
