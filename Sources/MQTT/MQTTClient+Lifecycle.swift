import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The connection loop, the set-up it needs, and the stop.
extension MQTTClient {
    public func run() async throws {
        let loop = Task { await connectLoop() }
        let stopped = state.withLock { state in
            state.loop = loop
            return state.session.stopping
        }
        if stopped { loop.cancel() }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await loop.value
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        } onCancel: {
            // Another service failed: stop at once, without the goodbye.
            self.stop()
        }
    }

    private var isStopping: Bool { state.withLock { $0.session.stopping } }

    private func connectLoop() async {
        var backoff = ReconnectBackoff(base: configuration.reconnectBaseDelay, maximum: configuration.reconnectMaxDelay)
        var random = SystemRandomNumberGenerator()
        var lastFailure = ""
        while !isStopping {
            let (accepted, failure) = await connectOnce()
            if accepted {
                backoff.reset()
                lastFailure = ""
            }
            if isStopping { break }
            // One line per kind of failure, not one per attempt.
            if let failure, failure != lastFailure {
                logger.error("Cannot reach the MQTT broker; retrying with backoff", metadata: [
                    "mqtt.broker": "\(configuration.brokerDescription)", "mqtt.error": "\(failure)",
                ])
                lastFailure = failure
            }
            do { try await Task.sleep(for: backoff.next(using: &random)) } catch { break }
        }
    }

    /// One connection, from connect to close. Returns whether the broker accepted it, and why it could not be
    /// made (nil when it was, or when the broker's refusal was logged already).
    private func connectOnce() async -> (accepted: Bool, failure: String?) {
        let outcome = ConnectionOutcome()
        let tlsContext = self.tlsContext
        let serverName = configuration.transport != .unix && !Self.isIPAddress(configuration.host) ? configuration.host : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tlsContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    if configuration.transport == .websockets {
                        try WebSocketTransport.configure(channel, configuration: configuration, outcome: outcome) {
                            ConnectionHandler(client: self, outcome: outcome)
                        }
                    } else {
                        try pipeline.addHandler(ConnectionHandler(client: self, outcome: outcome))
                    }
                }
            }
        do {
            let channel = try await (configuration.transport == .unix
                ? bootstrap.connect(unixDomainSocketPath: configuration.host)
                : bootstrap.connect(host: configuration.host, port: configuration.port)).get()
            if isStopping { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
        } catch {
            return (false, describe(error))
        }
        let (accepted, failure) = outcome.result
        if accepted { return (true, nil) }
        if let failure = failure as? ConnectionFailure, failure.logged { return (false, nil) }
        var description = failure.map(describe) ?? "the broker closed the connection before accepting it"
        if configuration.tls != nil && !(failure is ConnectionFailure) {
            description += " (check MQTT_TLS_CA and that the broker's certificate names MQTT_HOSTNAME)"
        }
        return (false, description)
    }

    /// CONNECT as the configuration says it, once every field is checked to fit MQTT 3.1.1.
    static func connectPacket(_ configuration: MQTTClientConfiguration) throws -> Packet.Connect {
        func check(_ value: String?, _ name: String) throws {
            guard let value, value.utf8.count > Int(UInt16.max) else { return }
            throw MQTTClientError("the \(name) is \(value.utf8.count) bytes long; MQTT allows at most 65,535")
        }
        try check(configuration.clientID, "client id")
        try check(configuration.username, "user name")
        try check(configuration.password, "password")
        guard (0...Int(UInt16.max)).contains(configuration.keepAlive) else {
            throw MQTTClientError("the keep-alive interval is \(configuration.keepAlive) s; MQTT allows 0 to 65,535")
        }
        if let will = configuration.will {
            guard isPublishable(will.topic) else { throw MQTTClientError("the will's topic '\(will.topic)' cannot be published to") }
            try check(will.payload, "will's message")
            guard (0...2).contains(will.qos) else { throw MQTTClientError("the will's QoS is \(will.qos); MQTT has 0, 1 and 2") }
        }
        return Packet.Connect(
            clientID: configuration.clientID, keepAlive: UInt16(configuration.keepAlive),
            username: configuration.username, password: configuration.password,
            will: configuration.will.map { ($0.topic, Array($0.payload.utf8), UInt8($0.qos), $0.retain) })
    }

    /// The TLS context for `settings`.
    static func tlsContext(_ tls: MQTTClientConfiguration.TLS) throws -> NIOSSLContext {
        var settings = TLSConfiguration.makeClientConfiguration()
        settings.minimumTLSVersion = .tlsv12
        do {
            settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tls.caFile))
            if let certificate = tls.certificateFile, let key = tls.keyFile {
                settings.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            if tls.insecure { settings.certificateVerification = .noHostnameVerification }
            return try NIOSSLContext(configuration: settings)
        } catch {
            throw MQTTClientError("cannot use the TLS files: \(error)")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// A connection failure in a few words, with a hint for TLS.
    func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { describe($0.error) } ?? "\(error)"
        case ChannelError.connectTimeout:
            return "timed out connecting"
        case let error as NIOSSLError:
            return "TLS: \(error)"
        case let error as ConnectionFailure:
            return error.description
        default:
            return "\(error)"
        }
    }

    /// Stops connecting; writes what waits and DISCONNECT on an accepted connection, then closes it.
    private func stop() {
        let (loop, channel, accepted) = state.withLock { state in
            (state.loop, state.channel, state.session.stop())
        }
        loop?.cancel()
        guard let channel else { return }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        let goodbye = {
            var packet = ByteBuffer()
            Packet.writeEmpty(.disconnect, to: &packet)
            return packet
        }()
        channel.eventLoop.execute {
            // After whatever is waiting to be written.
            self.flush(channel)
            channel.writeAndFlush(goodbye).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Publishes the will's message, waits (bounded) for every publish to be acknowledged, then disconnects.
    private func shutdown() async {
        if let will = configuration.will, isConnected {
            publish(topic: will.topic, text: will.payload, qos: will.qos, retain: will.retain)
        }
        if !(await drained(within: .seconds(5))) {
            logger.warning("MQTT publishes still unacknowledged at shutdown")
        }
        stop()
    }

    /// Waits until nothing is unacknowledged or the connection is gone; false when `timeout` passed first.
    private func drained(within timeout: TimeAmount) async -> Bool {
        let promise = state.withLock { state -> EventLoopPromise<Bool>? in
            guard let channel = state.channel, state.session.isConnected, state.session.unacknowledged > 0 else { return nil }
            let promise = channel.eventLoop.makePromise(of: Bool.self)
            state.drainWaiters.append(promise)
            return promise
        }
        guard let promise else { return true }
        promise.futureResult.eventLoop.scheduleTask(in: timeout) {
            let late = self.state.withLock { state in
                guard let index = state.drainWaiters.firstIndex(where: { $0.futureResult === promise.futureResult }) else { return false }
                state.drainWaiters.remove(at: index)
                return true
            }
            if late { promise.succeed(false) }
        }
        return (try? await promise.futureResult.get()) ?? false
    }
}

/// Why a connection ended, as the connection's handler saw it.
struct ConnectionFailure: Error, CustomStringConvertible {
    var description: String
    /// Logged where it happened (the broker's refusal), not to be logged again.
    var logged = false
}

/// What one connection came to: set on its event loop, read after it closed.
final class ConnectionOutcome: Sendable {
    private let value = Mutex<(accepted: Bool, failure: (any Error)?)>((false, nil))

    var result: (accepted: Bool, failure: (any Error)?) { value.withLock { $0 } }

    func accept() { value.withLock { $0.accepted = true } }

    /// Keeps the first failure: later ones are its consequences.
    func fail(_ error: any Error) {
        value.withLock { if $0.failure == nil { $0.failure = error } }
    }
}
