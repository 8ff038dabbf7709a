import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A response of the admin API.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    /// Headers besides Content-Type, Content-Length and Connection.
    var headers: [(String, String)] = []

    static func json(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: body)
    }

    static func text(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: body)
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
    private let handler: @Sendable (HTTPRequestHead) async -> AdminResponse
    private let connections: AdminConnections

    init(host: String, port: Int, group: any EventLoopGroup, logger: Logger, limits: AdminLimits = AdminLimits(),
         handler: @escaping @Sendable (HTTPRequestHead) async -> AdminResponse) {
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
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let request): head = request
                case .body: break
                case .end:
                    guard let request = head else { continue }
                    let response = request.method == .GET || request.method == .HEAD
                        ? await handler(request) : .text("only GET\n", status: .methodNotAllowed)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: response.contentType)
                    headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
                    headers.add(name: "Connection", value: request.isKeepAlive ? "keep-alive" : "close")
                    for (name, value) in response.headers { headers.add(name: name, value: value) }
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers)))
                    if request.method != .HEAD {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
                    }
                    try await outbound.write(.end(nil))
                    if !request.isKeepAlive { return }
                    head = nil
                }
            }
        }
    }
}

struct OCPPAdminError: Error, CustomStringConvertible {
    var description: String
}
