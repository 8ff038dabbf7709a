import CentralSystem
import Foundation
import NIOCore
import NIOWebSocket

/// A charger's WebSocket, as the central system uses it.
final class WebSocketConnection: OCPPConnection {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let channel: any Channel

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel) {
        self.outbound = outbound
        self.channel = channel
    }

    func send(_ frame: Data) async throws {
        try await outbound.write(ByteBuffer(bytes: frame))
    }

    func close(code: UInt16, reason: String) async {
        let disconnectReason: DisconnectReason = code == 1001 ? .goingAway : .replaced
        let request = CloseRequest(code: WebSocketErrorCode(codeNumber: Int(code)), reason: reason, disconnectReason: disconnectReason)
        try? await channel.triggerUserOutboundEvent(request).get()
    }
}
