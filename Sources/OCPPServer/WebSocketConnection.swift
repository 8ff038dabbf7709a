import CentralSystem
import Foundation
import NIOCore
import NIOWebSocket

/// A charger's WebSocket, as the central system uses it.
final class WebSocketConnection: OCPPConnection {
    private let channel: any Channel
    /// Why it ends, as the session handler recorded it (the first cause only).
    private let outcome: ConnectionOutcome

    init(channel: any Channel, outcome: ConnectionOutcome) {
        self.channel = channel
        self.outcome = outcome
    }

    func send(_ frame: Data) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: frame)).get()
    }

    func close(because reason: DisconnectReason) async -> DisconnectReason {
        let request: CloseRequest = switch reason {
        case .replaced: CloseRequest(code: .normalClosure, reason: "replaced by a new connection", disconnectReason: reason)
        case .upstreamUnavailable:
            CloseRequest(code: WebSocketErrorCode(codeNumber: 1013), reason: "the upstream central system is unavailable; try again later",
                         disconnectReason: reason)
        default: CloseRequest(code: .goingAway, reason: "central system closing the connection", disconnectReason: reason)
        }
        try? await channel.triggerUserOutboundEvent(request).get()
        return outcome.recorded ?? reason
    }
}
