import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import GatewayApp

/// Issue 19: 3,000 half-sent admin requests stayed open, and two floods took the process to 20,000 file descriptors.
/// A request must now arrive whole in time, an idle connection is closed, and the connections are bounded, the
/// oldest making room for the newest.
@Suite(.timeLimit(.minutes(1))) struct AdminConnectionGuardTests {
    let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    private func connection(_ connections: AdminConnections) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        connections.admit(channel)
        try channel.pipeline.syncOperations.addHandler(AdminTimeoutHandler(connections: connections))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return channel
    }

    @Test func aRequestThatDoesNotArriveWholeInTimeIsClosed() throws {
        let connections = AdminConnections(limits: AdminLimits(), logger: quiet)
        let channel = try connection(connections)
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/healthz")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func anAnsweredConnectionMayIdleUpToTheIdleTimeout() throws {
        let connections = AdminConnections(limits: AdminLimits(), logger: quiet)
        let channel = try connection(connections)
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/healthz")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))  // answering takes as long as it takes
        #expect(channel.isActive)
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func pastTheBoundTheOldestConnectionMakesRoom() throws {
        let connections = AdminConnections(limits: AdminLimits(connections: 3), logger: quiet)
        let channels = try (0..<5).map { _ in try connection(connections) }
        #expect(channels.map(\.isActive) == [false, false, true, true, true])
        #expect(connections.count == 3)
        _ = try channels[4].finish()
        #expect(connections.count == 2)
    }
}
