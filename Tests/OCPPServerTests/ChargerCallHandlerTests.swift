import CentralSystem
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import OCPP
import Synchronization
import TestSupport
import Testing

@testable import OCPPServer

/// The event-loop side of a charger connection: it attaches the connection, answers CALLs in order where they
/// arrive, hands answers to the central system's calls to the session, and detaches the connection when it closes.
@Suite(.timeLimit(.minutes(1))) struct ChargerCallHandlerTests {
    /// Counts the reads that reach the socket's side of the pipeline (used on the event loop only).
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// One log of what happens, in order: the sink's stages and commits, and the answers written to the charger.
    final class EventLog: Sendable {
        private let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        func take() -> [String] { entries.withLock { entries in defer { entries = [] }; return entries } }
    }

    /// A durable sink that stages Heartbeat events (returning marks) and takes every other event at once.
    final class StagingSink: DurableEventSink {
        let log: EventLog
        private let next = Mutex<UInt64>(0)
        init(log: EventLog) { self.log = log }
        func deliver(_ event: CentralSystemEvent) {}
        func stage(_ event: CentralSystemEvent) -> UInt64? {
            guard case .message(_, .heartbeat) = event else { return nil }
            let mark = next.withLock { next in next += 1; return next }
            log.add("stage \(mark)")
            return mark
        }
        func commit(through mark: UInt64) { log.add("commit \(mark)") }
    }

    /// Logs the message id of every frame written to the charger.
    final class WriteLog: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        let log: EventLog
        init(log: EventLog) { self.log = log }
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let text = String(buffer: unwrapOutboundIn(data))
            log.add("write " + (text.split(separator: "\"").dropFirst().first.map(String.init) ?? text))
            context.write(data, promise: promise)
        }
    }

    /// A handler handed to the test event loop, which alone uses it.
    struct OnTheLoop<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private static func central() throws -> CentralSystem {
        try CentralSystem(
            configuration: CentralSystemConfiguration(authorizedTags: []), store: InMemoryStateStore(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    private func connect(
        _ central: CentralSystem, tracker: ConnectionTracker = ConnectionTracker(), counter: ReadCounter? = nil,
        handler: ChargerCallHandler? = nil, writes: WriteLog? = nil
    ) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        let handler = OnTheLoop(handler ?? ChargerCallHandler(
            centralSystem: central, station: "CP1", subprotocol: "ocpp1.6", outcome: ConnectionOutcome(), tracker: tracker,
            batches: AnswerBatches()))
        try await channel.testingEventLoop.executeInContext {
            if let counter { try channel.pipeline.syncOperations.addHandler(counter) }
            if let writes { try channel.pipeline.syncOperations.addHandler(writes) }
            try channel.pipeline.syncOperations.addHandler(handler.value)
        }
        return channel
    }

    /// The next `count` frames written to the charger (each write resumes the wait: no polling).
    private func answers(_ channel: NIOAsyncTestingChannel, _ count: Int) async throws -> [Frame] {
        var frames: [Frame] = []
        for _ in 0..<count {
            let buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            frames.append(try FrameCodec.decode(buffer.readableBytesView))
        }
        return frames
    }

    private func messageID(_ frame: Frame) -> String {
        switch frame {
        case .call(let call): call.messageID
        case .callResult(let result): result.messageID
        case .callError(let error): error.messageID
        }
    }

    @Test func theConnectionIsAttachedAndMessagesAreAnsweredInOrder() async throws {
        let central = try Self.central()
        let channel = try await connect(central)
        // Written at once: any that come before the attach wait for it, in order.
        for id in ["h1", "h2", "h3"] {
            try await channel.writeInbound(ByteBuffer(string: #"[2,""# + id + #"","Heartbeat",{}]"#))
        }
        let frames = try await answers(channel, 3)
        #expect(frames.map(messageID) == ["h1", "h2", "h3"])
        #expect(frames.allSatisfy { if case .callResult = $0 { true } else { false } })
        #expect(central.connectedStations["CP1"]?.subprotocol == "ocpp1.6")
        _ = try await channel.finish()
    }

    @Test func anAnswerToOurCallReachesTheCaller() async throws {
        let central = try Self.central()
        let channel = try await connect(central)
        try await channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        _ = try await answers(channel, 1)  // attached
        async let result = central.sendRaw(action: "ClearCache", payload: RawJSON(validatedBytes: Data("{}".utf8)), to: "CP1")
        guard case .call(let call) = try await answers(channel, 1)[0] else {
            Issue.record("expected the ClearCache CALL")
            return
        }
        #expect(call.action == "ClearCache")
        try await channel.writeInbound(ByteBuffer(string: #"[3,""# + call.messageID + #"",{"status":"Accepted"}]"#))
        let answer = try await result.get()
        #expect(answer.description.contains("Accepted"))
        _ = try await channel.finish()
    }

    @Test func aMalformedFrameGetsItsCallErrorAndAnUnexpectedAnswerGetsNone() async throws {
        let channel = try await connect(try Self.central())
        try await channel.writeInbound(ByteBuffer(string: #"[3,"c1",{"status":"Accepted"}]"#))  // nothing waits for it
        try await channel.writeInbound(ByteBuffer(string: #"[2,"m1","Heartbeat""#))
        try await channel.writeInbound(ByteBuffer(string: #"[2,"m2","NoSuchAction",{}]"#))
        let frames = try await answers(channel, 2)
        guard case .callError(let malformed) = frames[0], case .callError(let unknown) = frames[1] else {
            Issue.record("expected two CallErrors, got \(frames)")
            return
        }
        #expect(malformed.code == .formationViolation && malformed.messageID == "m1")  // the id is read, though cut short
        #expect(unknown.code == .notImplemented && unknown.messageID == "m2")
        _ = try await channel.finish()
    }

    @Test func closingTheChannelDetachesTheConnection() async throws {
        let central = try Self.central()
        let tracker = ConnectionTracker()
        let channel = try await connect(central, tracker: tracker)
        try await channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        _ = try await answers(channel, 1)
        #expect(tracker.count == 1)
        try await channel.close()
        await tracker.waitUntilEmpty()
        #expect(central.connectedStations["CP1"] == nil)
    }

    @Test func closingBeforeTheAttachIsDoneStillDetaches() async throws {
        let central = try Self.central()
        let tracker = ConnectionTracker()
        let channel = try await connect(central, tracker: tracker)
        try await channel.close()  // at once: the attach may not have finished
        await tracker.waitUntilEmpty()
        #expect(central.connectedStations["CP1"] == nil)
    }

    /// A finished task keeps its memory for as long as its handle lives: an idle connection holds none.
    @Test func finishedTasksAreNotKept() async throws {
        let central = try Self.central()
        let handler = ChargerCallHandler(
            centralSystem: central, station: "CP1", subprotocol: nil, outcome: ConnectionOutcome(), tracker: ConnectionTracker(),
            batches: AnswerBatches())
        let channel = try await connect(central, handler: handler)
        let held = { [handler = OnTheLoop(handler)] in try await channel.testingEventLoop.executeInContext { handler.value.heldTasks } }
        try await channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        _ = try await answers(channel, 1)  // attached
        #expect(try await held() == 0)
        async let result = central.sendRaw(action: "ClearCache", payload: RawJSON(validatedBytes: Data("{}".utf8)), to: "CP1")
        guard case .call(let call) = try await answers(channel, 1)[0] else {
            Issue.record("expected the ClearCache CALL")
            return
        }
        try await channel.writeInbound(ByteBuffer(string: #"[3,""# + call.messageID + #"",{"status":"Accepted"}]"#))
        _ = try await result.get()
        // The task tells the event loop it is done just after the caller has its answer.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await held() != 0, ContinuousClock.now < deadline { await Task.yield() }
        #expect(try await held() == 0)
        _ = try await channel.finish()
    }

    /// An earlier connection of the station whose close (inside the central system's attach of the next one) is held
    /// until it is opened.
    final class SlowToClose: OCPPConnection, @unchecked Sendable {
        private let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        func open() { gate.signal() }
        func send(_ frame: Data) async throws {}
        func close(because reason: DisconnectReason) async -> DisconnectReason {
            entered.signal()
            await withCheckedContinuation { done in DispatchQueue.global().async { self.gate.wait(); done.resume() } }
            return reason
        }
    }

    /// Until the connection is attached, what arrived waits and nothing more is read from the socket.
    @Test func readingWaitsForTheAttach() async throws {
        let central = try Self.central()
        let earlier = SlowToClose()
        _ = await central.attach(station: "CP1", connection: earlier, info: ConnectionInfo(remoteAddress: "earlier", subprotocol: nil))
        let counter = ReadCounter()
        let channel = try await connect(central, counter: counter)
        let reads = { try await channel.testingEventLoop.executeInContext { counter.reads } }
        await withCheckedContinuation { done in  // the attach closes the earlier connection, held
            DispatchQueue.global().async { earlier.entered.wait(); done.resume() }
        }
        let before = try await reads()
        try await channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        channel.read()
        channel.read()
        #expect(try await reads() == before)  // held until the attach is done
        earlier.open()
        let frames = try await answers(channel, 1)  // the message that waited is answered
        #expect(messageID(frames[0]) == "h1")
        #expect(try await reads() == before + 1)  // one read for the two asked for while waiting
        _ = try await channel.finish()
    }

    /// Issue 19: a charger that pipelines messages and never reads its answers took the gateway to 2.5 GB. While its
    /// answers wait unwritten (the channel is not writable) nothing more is read from it; once it reads them, reading
    /// goes on; a charger that stays stuck is closed.
    @Test func readsWaitWhileTheChargerLeavesItsAnswersUnread() async throws {
        let central = try Self.central()
        let counter = ReadCounter()
        let outcome = ConnectionOutcome()
        let channel = NIOAsyncTestingChannel()
        let handler = OnTheLoop(ChargerCallHandler(
            centralSystem: central, station: "CP1", subprotocol: "ocpp1.6", outcome: outcome, tracker: ConnectionTracker(),
            batches: AnswerBatches(), stuckTimeout: .seconds(60)))
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(counter)
            try channel.pipeline.syncOperations.addHandler(handler.value)
        }
        try await channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        _ = try await answers(channel, 1)  // attached: reading no longer waits for that
        let reads = { try await channel.testingEventLoop.executeInContext { counter.reads } }
        let before = try await reads()
        channel.read()
        #expect(try await reads() == before + 1)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        channel.read()
        #expect(try await reads() == before + 1)  // held
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try await reads() == before + 2)  // one read for the two asked while stuck
        // Stuck for good: closed after the timeout, as a timeout.
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        await channel.testingEventLoop.advanceTime(by: .seconds(59))
        #expect(outcome.recorded == nil)  // not yet
        await channel.testingEventLoop.advanceTime(by: .seconds(2))
        try await channel.closeFuture.get()
        #expect(outcome.reason == .timeout)
    }

    /// The messages of one event loop tick: their events are staged, committed once at the end of the tick, and
    /// only then are they answered, in order; an answer with nothing staged waits behind the held ones.
    @Test func answersWaitForOneCommitOfTheTicksEvents() async throws {
        let central = try Self.central()
        let log = EventLog()
        central.setDurableSink(StagingSink(log: log))
        let channel = try await connect(central, writes: WriteLog(log: log))
        try await channel.writeInbound(ByteBuffer(string: #"[2,"s0","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]"#))
        _ = try await answers(channel, 1)  // attached
        #expect(log.take() == ["write s0"])  // nothing staged: answered at once
        try await channel.testingEventLoop.executeInContext {
            // One tick's reads: the commit is a task on the loop, which runs after them.
            for text in [#"[2,"h1","Heartbeat",{}]"#, #"[2,"h2","Heartbeat",{}]"#,
                         #"[2,"s3","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}]"#] {
                channel.pipeline.fireChannelRead(ByteBuffer(string: text))
            }
            channel.pipeline.fireChannelReadComplete()
        }
        #expect(try await answers(channel, 3).map(messageID) == ["h1", "h2", "s3"])
        #expect(log.take() == ["stage 1", "stage 2", "commit 2", "write h1", "write h2", "write s3"])
        _ = try await channel.finish()
    }
}
