import CentralSystem
import Logging
import Metrics
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// Why the charger listener could not run.
public struct OCPPServerError: Error, CustomStringConvertible {
    public var description: String
}

/// The WebSocket listener chargers connect to (`ws://host:port/<station-id>`), as a Service.
///
/// Each connection is served on its event loop by its `ChargerCallHandler`: frames are read in order and handed
/// to the central system, whose answers are written back. On graceful shutdown the listener closes, every charger is
/// closed with 1001 (going away), and `run()` returns once each has been detached from the central system.
///
/// ```swift
/// let server = OCPPServer(configuration: .init(port: 3000), centralSystem: central, logger: logger)
/// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class OCPPServer: Service {
    private let configuration: OCPPServerConfiguration
    private let centralSystem: CentralSystem
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let connections = ConnectionTracker()
    private let batches = AnswerBatches()
    private let failedLogins = FailedLogins()
    /// Connections that failed before the upgrade (TLS, garbage, an HTTP/2 preface, a header too large): logged at most
    /// once a minute, with how many there were.
    private let earlyFailures = Mutex<(lastLogged: ContinuousClock.Instant?, since: Int)>((nil, 0))
    private let closed = Mutex(false)
    private let listeningAddress = Mutex<SocketAddress?>(nil)

    enum UpgradeResult: Sendable {
        /// A charger's connection: from here on its `ChargerCallHandler` serves it.
        case websocket
        case notUpgraded(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, verdict: HandshakeVerdict?)
    }

    public init(
        configuration: OCPPServerConfiguration, centralSystem: CentralSystem, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.centralSystem = centralSystem
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Whether the listener is bound and accepting chargers.
    public var isListening: Bool {
        listeningAddress.withLock { $0 != nil } && !closed.withLock { $0 }
    }

    public func run() async throws {
        let configuration = configuration
        let channel: NIOAsyncChannel<EventLoopFuture<UpgradeResult>, Never>
        do {
            channel = try await bind(configuration)
        } catch {
            throw OCPPServerError(
                description: "cannot listen for chargers on \(configuration.host):\(configuration.port) "
                    + "(LISTEN_ADDR, LISTEN_PORT): \(Self.plain(error))")
        }
        let address = channel.channel.localAddress!
        logger.info("Listening for chargers", metadata: [
            "ocpp.listen_address": "\(address.ipAddress ?? configuration.host):\(address.port ?? configuration.port)",
            "ocpp.tls": "\(configuration.tls == nil ? "off" : configuration.tls?.settings.clientCAFile == nil ? "on" : "on, client certificates")",
        ])
        listeningAddress.withLock { $0 = address }

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await upgrade in inbound {
                        group.addTask { await self.serve(upgrade) }
                    }
                }
            }
            // The listener is closed; the chargers were asked to close: wait until each is detached, so their
            // last events are in before the bridge stops. Cancellation closes them at once.
            await withTaskCancellationHandler {
                await connections.waitUntilEmpty()
            } onCancel: {
                for open in self.connections.channels { open.close(promise: nil) }
            }
        } onGracefulShutdown: {
            self.logger.info("Closing the charger listener and every charger connection")
            self.closed.withLock { $0 = true }
            channel.channel.close(promise: nil)
            for open in self.connections.channels {
                open.triggerUserOutboundEvent(
                    CloseRequest(code: .goingAway, reason: "central system shutting down", disconnectReason: .goingAway),
                    promise: nil)
            }
        }
    }

    private func bind(_ configuration: OCPPServerConfiguration) async throws -> NIOAsyncChannel<EventLoopFuture<UpgradeResult>, Never> {
        try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.readBuffers)
            .childChannelOption(.writeBufferWaterMark, value: Self.unreadAnswersLimit)
            .bind(host: configuration.host, port: configuration.port) { [connections, centralSystem, batches, failedLogins, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configurePipeline(
                        channel, configuration: configuration, centralSystem: centralSystem, connections: connections,
                        batches: batches, failedLogins: failedLogins, logger: logger
                    ) { station in
                        connections.count >= configuration.maxStations
                            && centralSystem.connectedStations[station] == nil
                    }
                }
            }
    }

    /// Every connection keeps its read buffer between reads, at the largest size it has needed. NIO starts at
    /// 2 KiB; an idle charger's messages (heartbeats, status) fit in 512 bytes, and a connection that reads more
    /// (MeterValues are about 900 bytes, a burst more) doubles its buffer as it goes, up to 64 KiB.
    static let readBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    /// Answers a charger has not read, in bytes, past which reading from it waits (``ChargerCallHandler``): 64 KiB
    /// is hundreds of answers, while a charger keeping to OCPP-J's one outstanding CALL has one or two unread.
    static let unreadAnswersLimit = ChannelOptions.Types.WriteBufferWaterMark(low: 16 * 1024, high: 64 * 1024)

    /// "Address already in use" rather than NIO's `bind(descriptor:ptr:bytes:): … (errno: 98)`.
    private static func plain(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }

    private static func configurePipeline(
        _ channel: any Channel, configuration: OCPPServerConfiguration, centralSystem: CentralSystem,
        connections: ConnectionTracker, batches: AnswerBatches, failedLogins: FailedLogins, logger: Logger,
        atCapacity: @escaping @Sendable (String) -> Bool
    ) throws -> EventLoopFuture<UpgradeResult> {
        // The verdict is kept per connection: a refused upgrade's request is not passed on to the
        // not-upgraded pipeline, so that pipeline reads the verdict from here to answer it. Both live on the
        // connection's event loop: no lock.
        let verdictBox = NIOLoopBoundBox<HandshakeVerdict?>(nil, eventLoop: channel.eventLoop)
        let upgraded = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        // A connection that has not finished its handshake in time is closed: half-open or silent
        // connections cannot pile up.
        channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(configuration.handshakeTimeout.seconds * 1e9))) {
            if !upgraded.value && channel.isActive {
                Counter(label: "ocpp_connections_refused_total", dimensions: [("reason", "handshake_timeout")]).increment()
                channel.close(promise: nil)
            }
        }
        if let tls = configuration.tls {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current))
        }
        let requireClientCertificate = configuration.tls?.settings.clientCAFile != nil
        let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
            maxFrameSize: configuration.maxFrameSize,
            enableAutomaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                let address = channel.remoteAddress?.ipAddress ?? "unknown"
                var verdict: HandshakeVerdict
                if configuration.access.passwords != nil, failedLogins.isBlocked(address) {
                    verdict = .refuse(.tooManyRequests, reason: "too many failed logins from this address; try again in a minute",
                                      metric: "login_throttled")
                } else {
                    verdict = HandshakeVerdict.evaluate(
                        head, access: configuration.access, versions: configuration.versions, atCapacity: atCapacity, remembers: centralSystem.acceptsConnection(of:))
                    if case .refuse(.unauthorized, _, _) = verdict, failedLogins.failed(address) {
                        logger.warning("Too many failed logins from one address: its handshakes are refused (429) for a minute", metadata: [
                            "http.remote_address": "\(address)", "ocpp.failed_logins": "\(failedLogins.limit)",
                        ])
                    }
                }
                // Profile 3: the client certificate (already verified against OCPP_TLS_CLIENT_CA by the TLS
                // handshake) must name the station.
                if requireClientCertificate, case .accept(let station, _) = verdict {
                    let commonNames = ((try? channel.pipeline.syncOperations.nioSSL_peerCertificate()) ?? nil)?
                        .subjectName.filter { $0.type == .commonName }.map(\.value) ?? []
                    if !commonNames.contains(station) {
                        verdict = .refuse(.forbidden, reason: "the client certificate does not name this station", metric: "certificate_mismatch")
                    }
                }
                verdictBox.value = verdict
                guard case .accept(_, let subprotocol) = verdict else { return channel.eventLoop.makeSucceededFuture(nil) }
                var headers = HTTPHeaders()
                if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    guard case .accept(let station, let subprotocol) = verdictBox.value else {
                        throw ChannelError.inappropriateOperationForState
                    }
                    upgraded.value = true
                    let outcome = ConnectionOutcome()
                    let calls = ChargerCallHandler(
                        centralSystem: centralSystem, station: station, subprotocol: subprotocol, outcome: outcome,
                        tracker: connections, batches: batches, authorization: head.headers.first(name: "Authorization"))
                    try channel.pipeline.syncOperations.addHandlers(
                        FrameConformance(),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024,
                            maxAccumulatedFrameSize: configuration.maxFrameSize),
                        WebSocketSessionHandler(
                            pingInterval: configuration.pingInterval.map { .nanoseconds(Int64($0.seconds * 1e9)) },
                            pingTimeout: .nanoseconds(Int64(configuration.pingTimeout.seconds * 1e9)),
                            outcome: outcome, intake: centralSystem.intake),
                        calls)
                    return .websocket
                }
            })
        let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
            upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in
                channel.eventLoop.makeCompletedFuture {
                    let asyncChannel = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                    return .notUpgraded(asyncChannel, verdict: verdictBox.value)
                }
            })
        return try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
            configuration: .init(upgradeConfiguration: upgradeConfiguration))
    }

    private func serve(_ upgrade: EventLoopFuture<UpgradeResult>) async {
        do {
            switch try await upgrade.get() {
            case .websocket:
                break
            case .notUpgraded(let channel, let verdict):
                try await refuse(channel, verdict: verdict)
            }
        } catch {
            // TLS handshake failures (no or bad client certificate, plain text on a TLS port), requests NIO cannot
            // parse (garbage, an HTTP/2 preface, a header too large) end here.
            Counter(label: "ocpp_connections_refused_total", dimensions: [("reason", "handshake_failed")]).increment()
            let now = ContinuousClock.now
            let count = earlyFailures.withLock { state -> Int? in
                state.since += 1
                if let last = state.lastLogged, now - last < .seconds(60) { return nil }
                defer { state = (now, 0) }
                return state.since
            }
            if let count {
                logger.warning("Connection failed before the WebSocket handshake (logged at most once a minute)", metadata: [
                    "error": "\(error)", "ocpp.failures_since_last_line": "\(count)",
                ])
            } else {
                logger.debug("Connection failed before the WebSocket handshake", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Answers a request that was not upgraded: the refusal reason, or 426 for plain HTTP.
    private func refuse(
        _ channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, verdict: HandshakeVerdict?
    ) async throws {
        try await channel.executeThenClose { inbound, outbound in
            let status: HTTPResponseStatus
            let reason: String
            let metric: String
            var target = ""
            if case .refuse(let refusedStatus, let refusedReason, let refusedMetric) = verdict {
                status = refusedStatus
                reason = refusedReason
                metric = refusedMetric
            } else {
                // Not an upgrade request at all (or one NIO found malformed): read its head for the log.
                for try await part in inbound {
                    if case .head(let head) = part { target = head.uri }
                    if case .end = part { break }
                }
                status = .upgradeRequired
                reason = "this port serves OCPP 1.6 chargers over WebSocket: ws://host:port/<station-id>"
                metric = "not_websocket"
            }
            Counter(label: "ocpp_connections_refused_total", dimensions: [("reason", metric)]).increment()
            // The reason names the rule broken, never the credentials.
            logger.warning("Charger connection refused", metadata: [
                "http.status": "\(status.code)", "ocpp.refusal": "\(reason)", "ocpp.refusal_code": "\(metric)",
                "http.remote_address": "\(channel.channel.remoteAddress?.description ?? "unknown")",
                "http.target": "\(target.prefix(200))",
            ])
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(reason.utf8.count + 1)")
            headers.add(name: "Connection", value: "close")
            if status == .upgradeRequired { headers.add(name: "Upgrade", value: "websocket") }
            if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: #"Basic realm="OCPP", charset="UTF-8""#) }
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)),
                .body(.byteBuffer(ByteBuffer(string: reason + "\n"))),
                .end(nil),
            ])
        }
    }
}
