import CentralSystem
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import OCPP
import Testing

@testable import OCPPServer

/// The event-loop side of a charger connection: CALLs answered in order where they arrive, everything else passed on.
@Suite(.timeLimit(.minutes(1))) struct ChargerCallHandlerTests {
    final class SilentConnection: OCPPConnection {
        func send(_ frame: Data) async throws {}
        func close(because reason: DisconnectReason) async {}
    }

    /// Counts the reads that reach the socket's side of the pipeline.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    private func setUp(
        central: CentralSystem? = nil, before: [any ChannelHandler] = []
    ) async throws -> (EmbeddedChannel, ChargerCallHandler, CentralSystem.Link) {
        let central = try central ?? CentralSystem(
            configuration: CentralSystemConfiguration(authorizedTags: []), store: InMemoryStateStore(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let handler = ChargerCallHandler(centralSystem: central)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(before + [handler])
        let link = await central.attach(station: "CP1", connection: SilentConnection(), info: ConnectionInfo(remoteAddress: "test", subprotocol: nil))
        return (channel, handler, link)
    }

    private func answers(_ channel: EmbeddedChannel) throws -> [Frame] {
        var frames: [Frame] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            frames.append(try FrameCodec.decode(buffer.readableBytesView))
        }
        return frames
    }

    private func messageIDs(_ frames: [Frame]) -> [String] {
        frames.map {
            switch $0 {
            case .call(let call): call.messageID
            case .callResult(let result): result.messageID
            case .callError(let error): error.messageID
            }
        }
    }

    @Test func messagesBeforeTheAttachWaitAndAreAnsweredInOrder() async throws {
        let (channel, handler, link) = try await setUp()
        try channel.writeInbound(ByteBuffer(string: #"[2,"h1","Heartbeat",{}]"#))
        try channel.writeInbound(ByteBuffer(string: #"[2,"h2","Heartbeat",{}]"#))
        #expect(try answers(channel).isEmpty)
        handler.attached(link)
        try channel.writeInbound(ByteBuffer(string: #"[2,"h3","Heartbeat",{}]"#))
        channel.pipeline.fireChannelReadComplete()
        let frames = try answers(channel)
        #expect(messageIDs(frames) == ["h1", "h2", "h3"])
        #expect(frames.allSatisfy { if case .callResult = $0 { true } else { false } })
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)  // nothing left for the connection's task
        _ = try channel.finish()
    }

    @Test func answersToTheCentralSystemsCallsGoOnToTheTask() async throws {
        let (channel, handler, link) = try await setUp()
        handler.attached(link)
        let result = #"[3,"c1",{"status":"Accepted"}]"#
        let error = #"[4,"c2","NotSupported","",{}]"#
        try channel.writeInbound(ByteBuffer(string: result))
        try channel.writeInbound(ByteBuffer(string: error))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == result)
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == error)
        #expect(try answers(channel).isEmpty)
        _ = try channel.finish()
    }

    @Test func aMalformedFrameGetsItsCallErrorOnTheLoop() async throws {
        let (channel, handler, link) = try await setUp()
        handler.attached(link)
        try channel.writeInbound(ByteBuffer(string: #"[2,"m1","Heartbeat""#))
        try channel.writeInbound(ByteBuffer(string: #"[2,"m2","NoSuchAction",{}]"#))
        channel.pipeline.fireChannelReadComplete()
        let frames = try answers(channel)
        guard frames.count == 2, case .callError(let malformed) = frames[0], case .callError(let unknown) = frames[1] else {
            Issue.record("expected two CallErrors, got \(frames)")
            return
        }
        #expect(malformed.code == .formationViolation)
        #expect(malformed.messageID == "m1")  // read from the envelope, though the frame is cut short
        #expect(unknown.messageID == "m2")
        #expect(unknown.code == .notImplemented)
        _ = try channel.finish()
    }

    @Test func readsWaitWhileTheIntakeGateIsPaused() async throws {
        let central = try CentralSystem(
            configuration: CentralSystemConfiguration(authorizedTags: []), store: InMemoryStateStore(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let counter = ReadCounter()
        let (channel, handler, link) = try await setUp(central: central, before: [counter])
        handler.attached(link)
        channel.read()
        #expect(counter.reads == 1)
        central.intake.pause()
        channel.read()
        channel.read()
        #expect(counter.reads == 1)  // held
        central.intake.resume()  // the held read goes on the event loop
        channel.embeddedEventLoop.run()
        #expect(counter.reads == 2)  // one read for the two asked while paused
        channel.read()
        #expect(counter.reads == 3)
        _ = try channel.finish()
    }
}
