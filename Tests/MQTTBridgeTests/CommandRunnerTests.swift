import CentralSystem
import Foundation
import Logging
import OCPP
import Synchronization
import TestSupport
import Testing

@testable import MQTTBridge

/// The command pipeline (intake, store, per-station queues, retries, results) against a fake central system: no
/// broker, no charger, and no real waiting (the fake's wait for a connection returns at once and moves the clock).
@Suite(.timeLimit(.minutes(1))) struct CommandRunnerTests {
    /// A central system that answers from a script and records what it was asked.
    final class FakeTarget: CommandTarget, Sendable {
        struct Script {
            var connected: Set<String> = []
            /// Answers by action; a missing one is `Accepted`.
            var answers: [String: Result<RawJSON, CommandError>] = [:]
            /// Connect this station once it has been waited for this many times.
            var connectAfterWaits: (station: String, waits: Int)?
            /// Hold sends to this station until ``release()``.
            var holding: String?
            /// A wait for a connection lasts until the task is cancelled (a station that stays away).
            var waitsHang = false
        }

        let script: Mutex<Script>
        let sent = Mutex<[String]>([])
        let waits = Mutex<[(station: String, delay: Duration)]>([])
        let switches = Mutex<[String: Bool]>([:])
        let clock: ManualInstant
        private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

        init(_ script: Script = Script(), clock: ManualInstant) {
            self.script = Mutex(script)
            self.clock = clock
        }

        func sendRaw(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError> {
            if script.withLock({ $0.holding == station }) {
                await withCheckedContinuation { continuation in held.withLock { $0.append(continuation) } }
            }
            let (connected, answer) = script.withLock { ($0.connected.contains(station), $0.answers[action]) }
            guard connected else { return .failure(CommandError(.notConnected, "station '\(station)' is not connected")) }
            sent.withLock { $0.append("\(station) \(action) \(payload)") }
            return answer ?? .success(RawJSON(validatedBytes: Data(#"{"status":"Accepted"}"#.utf8)))
        }

        /// 2.0.1 calls are recorded with a `2.0.1 ` prefix on the action.
        func send201(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError> {
            await sendRaw(action: "2.0.1 " + action, payload: payload, to: station)
        }

        func waitForConnection(of station: String, upTo timeout: Duration) async -> Bool {
            clock.advance(by: timeout)
            let count = waits.withLock { waits in
                waits.append((station, timeout))
                return waits.count { $0.station == station }
            }
            if script.withLock({ $0.waitsHang }) {
                // Ends when the task is cancelled (the continuation, kept until then, never yields).
                let (never, continuation) = AsyncStream<Void>.makeStream()
                for await _ in never {}
                continuation.finish()
            }
            return script.withLock { script in
                if let connect = script.connectAfterWaits, connect.station == station, count >= connect.waits {
                    script.connected.insert(station)
                }
                return script.connected.contains(station)
            }
        }

        func setChargingEnabled(_ enabled: Bool, station: String) throws {
            switches.withLock { $0[station] = enabled }
        }

        var activeTransactions: [Transaction] { [] }

        let limits = Mutex<[String: Double]>([:])
        func noteCurrentLimit(_ amperes: Double, station: String) { limits.withLock { $0[station] = amperes } }

        /// Lets held sends go on.
        func release() {
            script.withLock { $0.holding = nil }
            for continuation in held.withLock({ held in defer { held = [] }; return held }) { continuation.resume() }
        }

        var heldCount: Int { held.withLock { $0.count } }
    }

    /// A clock the fake moves.
    final class ManualInstant: Sendable {
        private let offset = Mutex<Duration>(.zero)
        let start = ContinuousClock.now
        func advance(by duration: Duration) { offset.withLock { $0 += duration } }
        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    }

    /// What the runner published, and a wait for a condition on it.
    final class Published: Sendable {
        let publications = Mutex<[Publication]>([])
        func add(_ publications: [Publication]) { self.publications.withLock { $0 += publications } }

        /// The `<S>/cmd_result` documents, in order.
        var results: [[String: JSONValue]] {
            publications.withLock { $0 }.filter { $0.topic.hasSuffix("/cmd_result") }.compactMap { JSONValue.parse(Array($0.payload.utf8))?.objectValue }
        }

        func results(count: Int) async -> [[String: JSONValue]] {
            let deadline = ContinuousClock.now + .seconds(10)
            while results.count < count, ContinuousClock.now < deadline { await Task.yield() }
            return results
        }
    }

    let topics = TopicLayout(basePath: "t", useStationName: true)
    let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    func runner(_ target: FakeTarget, store: any CommandStore = MemoryCommandStore(), published: Published, attempts: Int = 3,
                queueLimit: Int = 100) -> CommandRunner {
        CommandRunner(
            settings: .init(topics: topics, retryAttempts: attempts, retryBaseDelay: .milliseconds(300), expectedStations: [],
                            queueLimit: queueLimit),
            target: target, store: store, logger: quiet, lastConnected: { nil }, publish: { published.add($0) },
            now: { target.clock.now })
    }

    func job(_ station: String, _ json: String) throws -> CommandJob {
        let intake = CommandIntake(topics: topics, controls: ControlConfiguration(), expectedStations: [])
        guard case .job(let job) = intake.accept(topic: "t/\(station)/cmd", payload: Array(json.utf8), retained: false, lastConnected: nil,
                                                  transactions: { _ in [] })
        else { throw CommandRejection(code: .invalidCommand, message: "refused: \(json)") }
        return job
    }

    /// Runs `jobs` to the end.
    func run(_ runner: CommandRunner, _ jobs: [CommandJob]) async {
        let (stream, continuation) = AsyncStream<CommandJob>.makeStream()
        for job in jobs { continuation.yield(job) }
        continuation.finish()
        await runner.run(jobs: stream)
    }

    @Test func aCommandForAConnectedStationIsSentAndItsResultPublished() async throws {
        let target = FakeTarget(.init(connected: ["CP1"]), clock: ManualInstant())
        let published = Published()
        let store = MemoryCommandStore()
        await run(runner(target, store: store, published: published), [try job("CP1", #"{"action": "reset", "args": {"type": "Soft"}, "request_id": "r1"}"#)])
        #expect(target.sent.withLock { $0 } == [#"CP1 Reset {"type":"Soft"}"#])
        #expect(published.results == [["station": "CP1", "action": "reset", "request_id": "r1", "status": "ok", "response": ["status": "Accepted"]]])
        // The ocpp2mqtt-style fields too.
        let fields = published.publications.withLock { $0 }.filter { $0.topic.hasPrefix("t/CP1/cmd_result/") }.map { "\($0.topic)=\($0.payload)" }
        #expect(fields.contains("t/CP1/cmd_result/status=Accepted"))
        #expect(try store.storedCommands().isEmpty)
    }

    @Test func anOfflineStationIsWaitedForWithDoublingDelaysThenReportedOffline() async throws {
        let clock = ManualInstant()
        let target = FakeTarget(clock: clock)
        let published = Published()
        let store = MemoryCommandStore()
        await run(runner(target, store: store, published: published), [try job("CP9", #"{"action": "clear_cache"}"#)])
        #expect(target.waits.withLock { $0.map(\.delay) } == [.milliseconds(300), .milliseconds(600), .milliseconds(1200)])
        #expect(target.sent.withLock { $0 }.isEmpty)
        let result = try #require(published.results.first)
        #expect(result["status"] == "error")
        #expect(result["error"] == ["code": "StationOffline", "description": "station 'CP9' is not connected (tried 4 times over 2.1 s)"])
        #expect(try store.storedCommands().isEmpty)
    }

    /// Issue 19: 10,000 commands for an offline station got one result about every 9 s, and when the station came back
    /// it received every one of them. Each command's window now runs from when it was taken: behind the first, whose
    /// back-offs use up the window, the others' windows have passed too, so they get their results at once, unsent.
    @Test func commandsForAnOfflineStationEachHaveTheirOwnWindowAndAreNeverSentLate() async throws {
        let target = FakeTarget(.init(holding: "CP9"), clock: ManualInstant())
        let published = Published()
        let store = MemoryCommandStore()
        let runner = runner(target, store: store, published: published)
        let (stream, jobs) = AsyncStream<CommandJob>.makeStream()
        let running = Task { await runner.run(jobs: stream) }
        for n in 1...50 { jobs.yield(try job("CP9", #"{"action": "reset", "args": {"type": "Hard"}, "request_id": \#(n)}"#)) }
        let deadline = ContinuousClock.now + .seconds(10)
        while (target.heldCount < 1 || runner.waitingCommands < 50), ContinuousClock.now < deadline { await Task.yield() }
        #expect(runner.waitingCommands == 50)  // all taken at the same moment, the first held at its first try
        target.release()
        let results = await published.results(count: 50)
        #expect(results.count == 50)
        #expect(results.allSatisfy { $0["error"]?.objectValue?["code"] == "StationOffline" })
        #expect(target.waits.withLock { $0.count } == 3)  // the first command's back-offs only
        // The station comes back: nothing stale is sent.
        target.script.withLock { $0.connected.insert("CP9") }
        jobs.finish()
        await running.value
        #expect(target.sent.withLock { $0 }.isEmpty)
        #expect(try store.storedCommands().isEmpty)
    }

    /// A station's queue is bounded: past `OCPP_COMMAND_QUEUE_MAX` a command gets `QueueFull` at once, and is neither
    /// stored nor sent.
    @Test func aFullQueueRefusesMoreCommandsAtOnce() async throws {
        let target = FakeTarget(.init(connected: ["CP1"], holding: "CP1"), clock: ManualInstant())
        let published = Published()
        let store = MemoryCommandStore()
        let runner = runner(target, store: store, published: published, queueLimit: 5)
        let (stream, jobs) = AsyncStream<CommandJob>.makeStream()
        let running = Task { await runner.run(jobs: stream) }
        for n in 1...8 { jobs.yield(try job("CP1", #"{"action": "clear_cache", "request_id": \#(n)}"#)) }
        let refused = await published.results(count: 3)
        #expect(refused.map { $0["request_id"] } == [6, 7, 8])
        #expect(refused.allSatisfy { $0["error"]?.objectValue?["code"] == "QueueFull" })
        #expect(try store.storedCommands().count == 5)
        target.release()
        jobs.finish()
        await running.value
        #expect(target.sent.withLock { $0 }.count == 5)
        #expect(published.results.count == 8)
    }

    @Test func aStationThatConnectsWhileWaitedForGetsTheCommand() async throws {
        let target = FakeTarget(.init(connectAfterWaits: ("CP1", 2)), clock: ManualInstant())
        let published = Published()
        await run(runner(target, published: published), [try job("CP1", #"{"action": "clear_cache"}"#)])
        #expect(target.waits.withLock { $0.count } == 2)
        #expect(target.sent.withLock { $0 } == ["CP1 ClearCache {}"])
        #expect(published.results.first?["status"] == "ok")
    }

    @Test func aChargersCallErrorAndTimeoutsBecomeTheirCodes() async throws {
        let callError = CallError(messageID: "1", code: .notSupported, description: "no")
        let target = FakeTarget(.init(connected: ["CP1"], answers: [
            "Reset": .failure(CommandError(.callError, "CallError", callError: callError)),
            "ClearCache": .failure(CommandError(.timeout, "no answer within 30 s")),
        ]), clock: ManualInstant())
        let published = Published()
        await run(runner(target, published: published), [
            try job("CP1", #"{"action": "reset", "args": {"type": "Hard"}}"#), try job("CP1", #"{"action": "clear_cache"}"#),
        ])
        let errors = published.results.map { $0["error"]?.objectValue?["code"] }
        #expect(errors == ["NotSupported", "Timeout"])
    }

    @Test func oneStationsCommandsRunInOrderWhileOtherStationsGoOn() async throws {
        let target = FakeTarget(.init(connected: ["A", "B"], holding: "A"), clock: ManualInstant())
        let published = Published()
        let runner = runner(target, published: published)
        let (stream, jobs) = AsyncStream<CommandJob>.makeStream()
        let running = Task { await runner.run(jobs: stream) }
        jobs.yield(try job("A", #"{"action": "reset", "args": {"type": "Soft"}, "request_id": 1}"#))
        jobs.yield(try job("A", #"{"action": "clear_cache", "request_id": 2}"#))
        jobs.yield(try job("B", #"{"action": "clear_cache", "request_id": 3}"#))
        // B's command is done while A's first is held, and A's second waits behind it.
        let whileHeld = await published.results(count: 1)
        #expect(whileHeld.map { $0["request_id"] } == [3])
        #expect(target.heldCount == 1)
        target.release()
        jobs.finish()
        await running.value
        #expect(published.results.map { $0["request_id"] } == [3, 1, 2])
        #expect(target.sent.withLock { $0 }.map { $0.split(separator: " ")[1] } == ["ClearCache", "Reset", "ClearCache"])
    }

    @Test func storedCommandsAreResumedOrReportedLostAtStart() async throws {
        let store = MemoryCommandStore()
        _ = try store.add(StoredCommand(station: "CP1", name: "clear_cache", action: "ClearCache", payload: "{}", requestID: "\"waiting\""))
        let sent = try store.add(StoredCommand(station: "CP1", name: "reset", action: "Reset", payload: #"{"type":"Hard"}"#, requestID: "\"sent\""))
        try store.markSent(sent, true)
        let target = FakeTarget(.init(connected: ["CP1"]), clock: ManualInstant())
        let published = Published()
        await run(runner(target, store: store, published: published), [])
        // The one handed to the charger before the restart is not sent again: sending could reset twice.
        #expect(target.sent.withLock { $0 } == ["CP1 ClearCache {}"])
        let results = published.results
        #expect(results.count == 2)
        #expect(results.first { $0["request_id"] == "sent" }?["error"]?.objectValue?["code"] == "ConnectionLost")
        #expect(results.first { $0["request_id"] == "waiting" }?["status"] == "ok")
        #expect(try store.storedCommands().isEmpty)
    }

    @Test func aCommandStaysStoredAndUnmarkedWhileItsStationIsAway() async throws {
        let store = MemoryCommandStore()
        let target = FakeTarget(.init(waitsHang: true), clock: ManualInstant())
        let published = Published()
        let runner = runner(target, store: store, published: published, attempts: 100)
        let (stream, jobs) = AsyncStream<CommandJob>.makeStream()
        let running = Task { await runner.run(jobs: stream) }
        jobs.yield(try job("CP1", #"{"action": "clear_cache"}"#))
        let deadline = ContinuousClock.now + .seconds(10)
        while target.waits.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { await Task.yield() }
        // Tried and not connected: kept, and not marked sent (a restart would send it).
        #expect(try store.storedCommands().map(\.sent) == [false])
        // The gateway stops: no result, the command stays for the next start.
        running.cancel()
        await running.value
        #expect(published.results.isEmpty)
        #expect(try store.storedCommands().count == 1)
    }

    @Test func theMaxCurrentControlsLimitIsKeptWhenTheChargerAcceptsIt() async throws {
        let target = FakeTarget(.init(connected: ["CP1"]), clock: ManualInstant())
        let published = Published()
        let intake = CommandIntake(topics: topics, controls: ControlConfiguration(maxCurrent: 32), expectedStations: [])
        guard case .job(let job) = intake.accept(topic: "t/CP1/set/max_current", payload: Array("16".utf8), retained: false,
                                                  lastConnected: nil, transactions: { _ in [] })
        else { throw CommandRejection(code: .invalidCommand, message: "refused") }
        await run(runner(target, published: published), [job])
        #expect(target.limits.withLock { $0 } == ["CP1": 16])
        #expect(published.publications.withLock { $0 }.contains { $0.topic == "t/CP1/state/max_current" && $0.payload == "16" })
    }

    @Test func theChargingSwitchIsTheGatewaysOwn() async throws {
        let target = FakeTarget(clock: ManualInstant())
        let published = Published()
        await run(runner(target, published: published), [try job("CP1", #"{"action": "charging_enabled", "args": "OFF"}"#)])
        #expect(target.switches.withLock { $0 } == ["CP1": false])
        #expect(published.results.first?["response"] == ["status": "Accepted", "charging_enabled": "OFF"])
    }

    @Test func refusedCommandsGetAnErrorResultNamingWhy() {
        let intake = CommandIntake(topics: topics, controls: ControlConfiguration(), expectedStations: [])
        func refusal(_ topic: String, _ payload: String, retained: Bool = false) -> RefusedCommand? {
            if case .refused(let refused) = intake.accept(topic: topic, payload: Array(payload.utf8), retained: retained, lastConnected: "LAST",
                                                         transactions: { _ in [] }) { return refused }
            return nil
        }
        #expect(refusal("t/CP1/cmd", "[1]")?.code == .invalidCommand)
        #expect(refusal("t/CP1/cmd", #"{"action": "reset", "args": {"type": "Soft"}}"#, retained: true)
            == RefusedCommand(station: "CP1", name: "reset", requestID: nil, code: .invalidCommand, description: CommandIntake.retainedRefusal))
        #expect(refusal("t/CP1/cmd", #"{"action": "fly"}"#)?.code == .unknownAction)
        #expect(refusal("t/CP1/set/max_current", "lots")?.code == .invalidArguments)
        #expect(refusal("t/CP1/set/remote_stop", "1")?.code == .noTransaction)
        // Clearing a retained command or control (an empty payload, retained or passed on live) is not a command: no
        // result at all. Issue 19: a live empty payload on a connector control acted on connector 1.
        for (topic, retained) in [("t/CP1/cmd", true), ("t/CP1/cmd", false), ("t/CP1/set/reset", true), ("t/CP1/set/reset", false),
                                  ("t/CP1/set/remote_start", false), ("t/CP1/set/unlock_connector", false)] {
            if case .ignored = intake.accept(topic: topic, payload: [], retained: retained, lastConnected: nil, transactions: { _ in [] }) {
            } else {
                Issue.record("clearing \(topic) was taken as a command")
            }
        }
        // Not a command topic at all.
        if case .ignored = intake.accept(topic: "t/CP1/state/status", payload: [], retained: false, lastConnected: nil, transactions: { _ in [] }) {
        } else {
            Issue.record("a state topic taken as a command")
        }

        let published = Published()
        let runner = runner(FakeTarget(clock: ManualInstant()), published: published)
        runner.refuse(refusal("t/CP1/cmd", #"{"action": "fly", "request_id": "x"}"#)!, topic: "t/CP1/cmd")
        #expect(published.results.first?["error"]?.objectValue?["code"] == "UnknownAction")
        #expect(published.results.first?["request_id"] == "x")
    }
}
