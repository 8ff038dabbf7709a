import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A request to the admin API, whole.
struct AdminRequest: Sendable {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    /// The peer's IP address.
    var peer: String?

    /// The path without the query, as sent (percent-encoded).
    var path: String { head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/" }
    var method: HTTPMethod { head.method }
}

/// A response of the admin API: a body, or a stream of server-sent events.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    /// Headers besides Content-Type, Content-Length and Connection.
    var headers: [(String, String)] = []
    /// Writes the body piece by piece until it returns (server-sent events); `body` is not sent then.
    var stream: (@Sendable (_ write: @Sendable (String) async throws -> Void) async throws -> Void)?

    static func json(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: body)
    }

    static func text(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: body)
    }

    /// A redirect to `location` (relative to the request's path, so it works behind a proxy's prefix).
    static func redirect(_ location: String, headers: [(String, String)] = []) -> AdminResponse {
        AdminResponse(status: .seeOther, contentType: "text/plain; charset=utf-8", body: "see \(location)\n",
                      headers: [("Location", location)] + headers)
    }
}

/// The admin HTTP listener (`ADMIN_ADDR:ADMIN_PORT`), separate from the chargers' port: one small HTTP/1.1
/// server answering GET requests through `handler`, with a bound on its connections and timeouts
/// (``AdminLimits``), so a flood of slow or half-sent requests cannot hold the process's file descriptors.
final class AdminServer: Service {
    private let host: String
    private let port: Int
    private let group: any EventLoopGroup
    private let logger: Logger
    private let handler: @Sendable (AdminRequest) async -> AdminResponse
    private let connections: AdminConnections

    init(host: String, port: Int, group: any EventLoopGroup, logger: Logger, limits: AdminLimits = AdminLimits(),
         handler: @escaping @Sendable (AdminRequest) async -> AdminResponse) {
        self.host = host
        self.port = port
        self.group = group
        self.logger = logger
        self.handler = handler
        self.connections = AdminConnections(limits: limits, logger: logger)
    }

    func run() async throws {
        let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { [connections] channel in
                    channel.eventLoop.makeCompletedFuture {
                        connections.admit(channel)
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(AdminTimeoutHandler(connections: connections))
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw OCPPAdminError(description: "cannot listen for admin requests on \(host):\(port) (ADMIN_ADDR, ADMIN_PORT): \(error)")
        }
        let address = channel.channel.localAddress
        logger.info("Admin API listening", metadata: ["admin.listen_address": "\(address?.ipAddress ?? host):\(address?.port ?? port)"])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
            self.connections.stop()
        }
    }

    /// The largest request body taken (a command's JSON); a larger one gets 413 and the connection is closed.
    static let maxBody = 64 * 1024

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let peer = connection.channel.remoteAddress?.ipAddress
        try? await connection.executeThenClose { inbound, outbound in
            var request: AdminRequest?
            var tooLarge = false
            for try await part in inbound {
                switch part {
                case .head(let head):
                    request = AdminRequest(head: head, peer: peer)
                    tooLarge = false
                case .body(var buffer):
                    guard request != nil, !tooLarge else { continue }
                    if request!.body.count + buffer.readableBytes > Self.maxBody {
                        tooLarge = true
                        request!.body = []
                    } else {
                        request!.body += buffer.readBytes(length: buffer.readableBytes) ?? []
                    }
                case .end:
                    guard let current = request else { continue }
                    request = nil
                    let response = tooLarge
                        ? .text("the request body is larger than \(Self.maxBody) bytes\n", status: .payloadTooLarge)
                        : await handler(current)
                    let keepAlive = current.head.isKeepAlive && !tooLarge && response.stream == nil && !connections.isStopping
                    try await write(response, to: current.head, keepAlive: keepAlive, outbound)
                    if !keepAlive { return }
                }
            }
        }
    }

    private func write(_ response: AdminResponse, to request: HTTPRequestHead, keepAlive: Bool,
                       _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        if response.stream == nil { headers.add(name: "Content-Length", value: "\(response.body.utf8.count)") }
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
        if let stream = response.stream, request.method != .HEAD {
            // Ends when the stream returns, the client goes away (a write fails) or the gateway stops.
            try? await stream { text in try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text)))) }
        } else if request.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
        }
        try await outbound.write(.end(nil))
    }
}

struct OCPPAdminError: Error, CustomStringConvertible {
    var description: String
}
