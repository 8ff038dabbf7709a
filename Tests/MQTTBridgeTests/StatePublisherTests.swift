import CentralSystem
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import MQTTBridge

final class RecordingTransport: MQTTTransport {
    let published = Mutex<[String]>([])
    func publish(topic: String, text: String, qos: Int, retain: Bool) -> Int32? {
        published.withLock {
            $0.append("\(topic)=\(text)\(retain ? "" : "!")")
            return Int32($0.count)  // the message id: the position in the log, from 1
        }
    }
    func subscribe(_ filters: [String]) {}
    var log: [String] { published.withLock { $0 } }
    func clear() { published.withLock { $0 = [] } }
}

extension StatePublisher {
    /// One acknowledgement, as if it came alone in a read.
    func acknowledged(_ messageID: Int32) { acknowledged([messageID]) }
}

@Suite struct StatePublisherTests {
    let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    private func reading(_ topic: String, _ value: String) -> Publication { Publication(topic: topic, payload: value, kept: true) }

    @Test func duringAnOutageReadingsAreKeptInOrderAndOtherStateCoalesced() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.publish([Publication(topic: "status", payload: "Charging"), reading("energy", "100"), reading("energy", "200")])
        publisher.publish([Publication(topic: "status", payload: "SuspendedEV"), Publication(topic: "result", payload: "{}", retain: false),
                           reading("energy", "300")])
        #expect(transport.log == [])
        publisher.connected()
        // Every reading and the result in order, then the latest value of the coalesced state.
        #expect(transport.log == ["energy=100", "energy=200", "result={}!", "energy=300", "status=SuspendedEV"])
    }

    @Test func retainedStateIsRepublishedInFirstSeenOrderWithItsLatestValue() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.publish([Publication(topic: "a", payload: "1"), Publication(topic: "b", payload: "1"), Publication(topic: "c", payload: "1")])
        publisher.publish([Publication(topic: "a", payload: "2"), Publication(topic: "b", payload: ""),
                           Publication(topic: "d", payload: "1", cached: false)])
        publisher.connected()
        // b was cleared and d is not cached: neither comes back; a keeps its place with its latest value.
        #expect(transport.log == ["a=2", "c=1"])
    }

    @Test func withSkipUnchangedAnEqualReadingIsNotPublishedButTheLastOneIsAfterAReconnect() {
        for skip in [false, true] {
            let transport = RecordingTransport()
            let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), skipUnchanged: skip, logger: quiet)
            publisher.connected()
            let voltage = RetainedSlot(topic: "voltage"), energy = RetainedSlot(topic: "energy")
            func reading(_ volts: String, _ wh: String) -> [Publication] {
                [Publication(slot: voltage, payload: volts, kept: true), Publication(slot: energy, payload: wh, kept: true)]
            }
            publisher.publish(reading("230", "100"))
            publisher.publish(reading("230", "101"))
            publisher.publish(reading("231", "102"))
            publisher.publish([Publication(topic: "status", payload: "Charging"), Publication(topic: "status", payload: "Charging")])
            publisher.acknowledged(Array(1...Int32(transport.log.count)))
            let expected = skip
                ? ["voltage=230", "energy=100", "energy=101", "voltage=231", "energy=102"]
                : ["voltage=230", "energy=100", "voltage=230", "energy=101", "voltage=231", "energy=102"]
            // Other state is never skipped (it is coalesced while it waits instead).
            #expect(transport.log == expected + ["status=Charging", "status=Charging"], "skip: \(skip)")

            publisher.disconnected()
            transport.clear()
            publisher.connected()
            #expect(transport.log.sorted() == ["energy=102", "status=Charging", "voltage=231"], "skip: \(skip)")
        }
    }

    @Test func aSlotAndItsTopicShareOneCacheEntry() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        let m = RetainedSlot(topic: "m")
        func onSlot(_ slot: RetainedSlot, _ value: String) -> Publication { Publication(slot: slot, payload: value, kept: false) }
        publisher.publish([Publication(topic: "x", payload: "1"), onSlot(m, "1"), Publication(topic: "y", payload: "1")])
        publisher.publish([onSlot(m, "2")])
        publisher.publish([Publication(topic: "m", payload: "3")])  // by its topic: the slot's entry
        #expect(m.cached)
        publisher.connected()
        #expect(transport.log == ["x=1", "m=3", "y=1"])

        publisher.disconnected()
        transport.clear()
        publisher.forget(["m"])
        #expect(!m.cached)
        publisher.publish([onSlot(m, "4")])  // cached again, now after y
        let x = RetainedSlot(topic: "x")
        publisher.publish([onSlot(x, "5")])  // takes the place of x's value
        let other = RetainedSlot(topic: "m")
        publisher.publish([onSlot(other, "6")])  // takes m's entry from the first slot
        #expect(other.cached && !m.cached)
        publisher.publish([onSlot(m, "7")])  // and the first takes it back
        #expect(m.cached && !other.cached && x.cached)
        publisher.connected()
        #expect(transport.log == ["x=5", "y=1", "m=7"])
    }

    @Test func acknowledgedMessagesLeaveTheOutboxAndTheRestIsResent() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.connected()
        publisher.publish([reading("energy", "1"), reading("energy", "2"), reading("energy", "3")])
        #expect(transport.log == ["energy=1", "energy=2", "energy=3"])
        publisher.acknowledged(1)
        publisher.acknowledged(3)
        #expect(publisher.waiting == 1)
        publisher.disconnected()
        transport.clear()
        publisher.connected()
        // Only the unacknowledged reading goes again; the latest value of energy is not repeated after it.
        #expect(transport.log == ["energy=2"])
    }

    @Test func theAcknowledgementsOfOneReadAreTakenTogether() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.connected()
        publisher.publish((1...5).map { reading("energy", String($0)) })
        // Ids the publisher does not know (a duplicate, one from before a reconnect) are ignored.
        publisher.acknowledged([2, 1, 2, 9_999, 3])
        #expect(publisher.waiting == 2)
        publisher.acknowledged([5, 4])
        #expect(publisher.waiting == 0)
    }

    @Test func aFullWindowIsRefilledInOneGoOnceHalfOfItIsAcknowledged() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.connected()
        let count = 2 * StatePublisher.window + 10
        publisher.publish((1...count).map { reading("energy", String($0)) })
        #expect(transport.log.count == StatePublisher.window)
        // Acknowledgements that leave more than the refill level in flight send nothing more...
        let belowRefill = Int32(StatePublisher.window - StatePublisher.refillLevel - 1)
        for id in 1...belowRefill { publisher.acknowledged(id) }
        #expect(transport.log.count == StatePublisher.window)
        // ...and the one that reaches it fills the window again, in one go and in order.
        publisher.acknowledged(belowRefill + 1)
        #expect(transport.log.count == 2 * StatePublisher.window - StatePublisher.refillLevel)
        #expect(transport.log.last == "energy=\(transport.log.count)")
        // Acknowledging everything that was sent, as it is sent, gets every reading out, in order.
        var acknowledged: Int32 = belowRefill + 1
        while acknowledged < Int32(transport.log.count) {
            acknowledged += 1
            publisher.acknowledged(acknowledged)
        }
        #expect(transport.log == (1...count).map { "energy=\($0)" })
        #expect(publisher.waiting == 0)
    }

    @Test func atMostAWindowIsInFlightAndOrdinaryStateWaitsBehindIt() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), logger: quiet)
        publisher.connected()
        let count = StatePublisher.window + 5
        publisher.publish((1...count).map { reading("energy", String($0)) })
        #expect(transport.log.count == StatePublisher.window)
        // Ordinary state published now must not overtake the readings still waiting for the window.
        publisher.publish([Publication(topic: "energy", payload: "0")])
        #expect(transport.log.count == StatePublisher.window)
        for id in 1...Int32(StatePublisher.window) { publisher.acknowledged(id) }
        #expect(transport.log.count == count + 1)
        #expect(transport.log.suffix(2) == ["energy=\(count)", "energy=0"])
        for id in Int32(StatePublisher.window + 1)...Int32(count + 1) { publisher.acknowledged(id) }
        #expect(publisher.waiting == 0)
        // Nothing waits any more: ordinary state goes straight out again.
        publisher.publish([Publication(topic: "status", payload: "Available")])
        #expect(transport.log.last == "status=Available" && publisher.waiting == 0)
    }

    @Test func ordinaryStateQueuedBehindABacklogIsNotWrittenToTheStore() throws {
        let store = MemoryOutbox()
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: store, logger: quiet)
        publisher.connected()
        let count = StatePublisher.window + 5
        publisher.publish((1...count).map { reading("energy", String($0)) })
        publisher.publish([Publication(topic: "status", payload: "Charging")])  // waits behind the backlog
        #expect(publisher.waiting == count + 1)
        // The thousandth acknowledgement rewrites the store: the five readings left, not the status.
        for id in 1...Int32(StatePublisher.window) { publisher.acknowledged(id) }
        #expect(try store.load().map(\.payload) == (StatePublisher.window + 1...count).map(String.init))
    }

    /// Issue 19: a broker that takes nothing (hung while connected) fills the outbox, which keeps everything and leaves
    /// transaction messages answered (the durability gate open) while it has room; the window caps what is in flight.
    /// (Reading from chargers for such a broker: ``readingPausesForASlowBrokerButNotForAHungOne()``.)
    @Test func aBrokerThatTakesNothingFillsTheOutboxWithTheGateOpenWhileItHasRoom() {
        let transport = RecordingTransport()
        let gate = DurabilityGate()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(), gate: gate, logger: quiet)
        publisher.connected()
        for n in 1...10_000 { publisher.publish([reading("energy", String(n))]) }
        #expect(gate.isOpen && gate.closeCount == 0)
        #expect(publisher.waiting == 10_000)
        #expect(transport.log.count == StatePublisher.window)  // the window, and no more, in flight
    }

    @Test func aRestartSendsWhatWasNotAcknowledged() throws {
        let store = MemoryOutbox()
        let first = StatePublisher(transport: RecordingTransport(), qos: 1, store: store, logger: quiet)
        first.publish([reading("energy", "10"), reading("energy", "20")])
        // The process dies here, with the broker away. A new one starts on the same outbox:
        let transport = RecordingTransport()
        let second = StatePublisher(transport: transport, qos: 1, store: store, logger: quiet)
        second.publish([reading("energy", "30")])
        second.connected()
        #expect(transport.log == ["energy=10", "energy=20", "energy=30"])
        for id: Int32 in 1...3 { second.acknowledged(id) }
        #expect(try store.load().isEmpty)
    }

    /// A slow broker (it acknowledges, just less than the chargers send) still slows the chargers down: reading pauses
    /// at the pause level and resumes at the resume level. A broker that stops acknowledging (hung, SIGSTOP) releases
    /// the pause within `brokerSilence` (issue 19: it stopped every charger), and a broker that comes back alive with
    /// the backlog still there pauses reading again.
    @Test func readingPausesForASlowBrokerButNotForAHungOne() {
        final class Clock: Sendable {
            let start = ContinuousClock.now
            let offset = Mutex<Duration>(.zero)
            var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
            func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
        }
        let clock = Clock()
        let intake = IntakeGate()
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: MemoryOutbox(), intake: intake, logger: quiet,
                                       now: { clock.now })
        publisher.connected()
        let pause = StatePublisher.intakePauseLevel, resume = StatePublisher.intakeResumeLevel
        publisher.publish((1..<pause).map { reading("energy", String($0)) })
        #expect(intake.isOpen)
        publisher.publish([reading("energy", "\(pause)")])
        #expect(!intake.isOpen && intake.pauseCount == 1)  // the connection is fresh: the broker counts as alive
        // The broker acknowledges now and then: still alive, still paused while the backlog is above the resume level.
        clock.advance(.seconds(1))
        publisher.acknowledged(1)
        publisher.tick()
        #expect(!intake.isOpen)
        // Then nothing for longer than brokerSilence: hung. Chargers are read again; the outbox takes what they send.
        clock.advance(StatePublisher.brokerSilence + .milliseconds(1))
        publisher.tick()
        #expect(intake.isOpen)
        publisher.publish((1...1000).map { reading("power", String($0)) })
        #expect(intake.isOpen && publisher.waiting == pause - 1 + 1000)
        // It thaws: acknowledgements again, with the backlog above the resume level: paused until it drains.
        publisher.acknowledged(2)
        #expect(!intake.isOpen && intake.pauseCount == 2)
        var id: Int32 = 2
        while publisher.waiting > resume {
            id += 1
            publisher.acknowledged(id)
        }
        #expect(intake.isOpen)
        // Without a broker the gate stays open: an outage is not a slow broker.
        publisher.disconnected()
        publisher.publish((1...pause).map { reading("voltage", String($0)) })
        #expect(intake.isOpen)
    }

    /// Issue 19: a full outbox dropped its oldest tenth, readings chargers had been answered for. Now it drops
    /// nothing: at a bound the gate closes (transaction messages go unanswered), ordinary retained state is held
    /// back, and under 90 % of the bounds the gate opens and that state goes out.
    @Test func aFullOutboxClosesTheGateDropsNothingAndReopensUnderNinetyPercent() {
        let transport = RecordingTransport()
        let gate = DurabilityGate()
        let publisher = StatePublisher(transport: transport, qos: 1, store: MemoryOutbox(),
                                       limits: OutboxLimits(messages: 100), gate: gate, logger: quiet)
        publisher.connected()  // the broker takes the window and acknowledges nothing
        publisher.publish((1...99).map { reading("energy", String($0)) })
        #expect(gate.isOpen)
        publisher.publish([reading("energy", "100")])
        #expect(!gate.isOpen && gate.closeCount == 1)
        // Past the bound, what still comes (a command result, say) is kept too: nothing is dropped.
        publisher.publish([Publication(topic: "result", payload: "{}", retain: false)])
        publisher.publish([Publication(topic: "status", payload: "Charging")])  // held back, not queued
        #expect(publisher.waiting == 101)
        #expect(transport.log.count == 101 && transport.log.first == "energy=1" && !transport.log.contains("status=Charging"))
        for id: Int32 in 1...10 { publisher.acknowledged(id) }
        #expect(!gate.isOpen)  // 91 left: above 90
        publisher.acknowledged(11)
        #expect(gate.isOpen)
        #expect(transport.log.last == "status=Charging")  // the held-back state, once the gate opened
    }

    @Test func theByteBoundClosesTheGateToo() {
        let gate = DurabilityGate()
        let entry = OutboxEntry(sequence: 0, topic: "energy", payload: "1234", retain: true)
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: MemoryOutbox(),
                                       limits: OutboxLimits(bytes: 2048), gate: gate, logger: quiet)
        let fits = 2048 / entry.size
        publisher.publish((1...fits).map { _ in reading("energy", "1234") })
        #expect(gate.isOpen)
        publisher.publish([reading("energy", "1234")])
        #expect(!gate.isOpen)
    }

    /// Issue 19: with the disk full, messages were acknowledged into memory only and /readyz stayed ready. Now a
    /// failed write closes the gate and makes the store not writable; the entries wait in memory, and the retry that
    /// finds the store writable again writes them and opens the gate.
    @Test func aStoreThatCannotWriteClosesTheGateUntilARetryWrites() throws {
        let store = FailingOutbox()
        let gate = DurabilityGate()
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: store, gate: gate, logger: quiet)
        publisher.publish([reading("energy", "1")])
        store.failing.withLock { $0 = true }
        publisher.publish([reading("energy", "2")])
        #expect(!gate.isOpen && !publisher.storeWritable)
        publisher.retryUnwritten()  // still failing
        #expect(!gate.isOpen)
        publisher.publish([reading("energy", "3")])  // what comes meanwhile waits with it
        store.failing.withLock { $0 = false }
        publisher.retryUnwritten()
        #expect(gate.isOpen && publisher.storeWritable)
        let stored = try store.load().map(\.payload)
        #expect(stored == ["1", "2", "3"])
        #expect(publisher.waiting == 3)
    }
}

/// An outbox whose writes fail while `failing` is set, as on a full disk.
final class FailingOutbox: OutboxStore, @unchecked Sendable {
    struct DiskFull: Error {}
    private let memory = MemoryOutbox()
    let failing = Mutex(false)
    func load() throws -> [OutboxEntry] { try memory.load() }
    func append(_ entries: [OutboxEntry]) throws {
        if failing.withLock({ $0 }) { throw DiskFull() }
        try memory.append(entries)
    }
    func dropAcknowledged(below first: UInt64?) throws { try memory.dropAcknowledged(below: first) }
}

/// Counts the store's writes.
final class CountingOutbox: OutboxStore, @unchecked Sendable {
    private let memory = MemoryOutbox()
    let appends = Mutex<[[String]]>([])
    func load() throws -> [OutboxEntry] { try memory.load() }
    func append(_ entries: [OutboxEntry]) throws {
        appends.withLock { $0.append(entries.map(\.payload)) }
        try memory.append(entries)
    }
    func dropAcknowledged(below first: UInt64?) throws { try memory.dropAcknowledged(below: first) }
}

@Suite struct GroupCommitTests {
    let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    private func reading(_ topic: String, _ value: String) -> Publication { Publication(topic: topic, payload: value, kept: true) }

    /// The events of one event loop tick: staged one by one, written to the store together by the first commit.
    @Test func entriesStagedByManyEventsAreWrittenByOneCommit() throws {
        let store = CountingOutbox()
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, store: store, logger: quiet)
        publisher.connected()
        let first = try #require(publisher.stage([reading("energy", "1"), Publication(topic: "status", payload: "Charging")]))
        let second = try #require(publisher.stage([reading("energy", "2")]))
        #expect(second > first)
        // Nothing reaches the broker before it is in the outbox, and the status waits behind the reading before it.
        #expect(transport.log == [])
        #expect(publisher.waiting == 3)
        publisher.commit(through: first)
        #expect(store.appends.withLock { $0 } == [["1", "2"]])  // the status is not kept: not written
        #expect(transport.log == ["energy=1", "status=Charging", "energy=2"])
        // Already committed by the first: nothing more is written.
        publisher.commit(through: second)
        #expect(store.appends.withLock { $0.count } == 1)
        // Nothing waits for a commit now: ordinary state goes straight out again once acknowledged.
        for id in Int32(1)...3 { publisher.acknowledged(id) }
        #expect(publisher.stage([Publication(topic: "status", payload: "Available")]) == nil)
        // Handed to the client outside the publisher's lock, by the caller after staging.
        #expect(transport.log.last == "energy=2")
        publisher.handOverQueued()
        #expect(transport.log.last == "status=Available")
    }

    /// Commits from many threads at once: every entry is written exactly once, in sequence order.
    @Test func concurrentCommitsWriteEveryEntryOnceInOrder() async throws {
        let store = CountingOutbox()
        let publisher = StatePublisher(transport: RecordingTransport(), qos: 1, store: store, logger: quiet)
        publisher.connected()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for n in 0..<200 {
                        if let mark = publisher.stage([reading("energy", "\(task)-\(n)")]) { publisher.commit(through: mark) }
                    }
                }
            }
        }
        let written = try store.load()
        #expect(written.count == 1600)
        #expect(Set(written.map(\.payload)).count == 1600)
        #expect(written.map(\.sequence) == written.map(\.sequence).sorted())
    }

    /// A client that calls back into the publisher from inside `publish` (the broker's acknowledgement arriving
    /// before `publish` has returned its id): it would deadlock if the publisher held its lock while publishing, and
    /// would lose the acknowledgement if an id not yet recorded were dropped.
    @Test func theClientIsCalledOutsideThePublishersLockAndEarlyAcknowledgementsCount() throws {
        final class AcknowledgingTransport: MQTTTransport, @unchecked Sendable {
            var publisher: StatePublisher?
            let log = Mutex<[String]>([])
            func publish(topic: String, text: String, qos: Int, retain: Bool) -> Int32? {
                let id = log.withLock { log in
                    log.append(text)
                    return Int32(log.count)
                }
                publisher?.acknowledged([id])
                return id
            }
            func subscribe(_ filters: [String]) {}
        }
        let transport = AcknowledgingTransport()
        let store = MemoryOutbox()
        let publisher = StatePublisher(transport: transport, qos: 1, store: store, logger: quiet)
        transport.publisher = publisher
        publisher.connected()
        let count = 2 * StatePublisher.window + 500
        publisher.publish((1...count).map { reading("energy", String($0)) })
        // Every reading went out once, in order, past the window, and left the outbox and the store.
        #expect(transport.log.withLock { $0 } == (1...count).map(String.init))
        #expect(publisher.waiting == 0)
        #expect(try store.load().isEmpty)
    }
}
