import CMosquitto
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// What happens on the MQTT connection.
public enum MosquittoEvent: Sendable {
    /// Connected (the broker accepted us); subscriptions have been renewed.
    case connected
    /// The connection ended; the client reconnects by itself.
    case disconnected(reason: String)
    /// A message arrived on a subscribed topic. `retained` is set for messages the broker kept from earlier.
    case message(topic: String, payload: [UInt8], retained: Bool)
    /// The broker acknowledged the message with this id (QoS 1 or 2), or a QoS 0 message was written.
    case published(messageID: Int32)
}

/// One MQTT connection over libmosquitto, as a Service.
///
/// The client owns libmosquitto's network loop on a thread of its own: it connects, runs the loop, and on any
/// failure waits (exponential backoff) and connects again, for as long as the service runs. Publishing and
/// subscribing are safe from any task. On graceful shutdown it publishes the will's message itself (a clean
/// disconnect does not trigger the last will), waits for outstanding publishes to be acknowledged, and
/// disconnects.
///
/// ```swift
/// let client = try MosquittoClient(configuration: .init(clientID: "gw"), logger: logger) { event in
///     continuation.yield(event)
/// }
/// client.subscribe(["ocpp/+/cmd"])
/// try await client.run()
/// ```
public final class MosquittoClient: Service, @unchecked Sendable {
    // @unchecked: `handle` is used only through libmosquitto's thread-safe API (threaded mode) and freed in
    // deinit; every mutable property is behind `state`.

    public let configuration: MosquittoConfiguration
    /// Told every connection change and incoming message, in order, on the network thread. It must not block.
    private let onEvent: @Sendable (MosquittoEvent) -> Void
    private let logger: Logger
    private let handle: OpaquePointer
    private let state = Mutex(State())
    /// Signalled on every change that a waiting thread or task may care about.
    private let wakeup = NSCondition()

    private struct State {
        var subscriptions: [String: Int] = [:]
        var connected = false
        var stopping = false
        var loopFinished = false
        /// Publishes handed to libmosquitto and not yet acknowledged (QoS 1/2) or written (QoS 0).
        var unacknowledged: Set<Int32> = []
        /// Acknowledgements that arrived before `mosquitto_publish` returned their message id to the publisher.
        var acknowledgedEarly: Set<Int32> = []
        /// Threads blocked in `wait` for acknowledgements (the shutdown flush): an acknowledgement wakes them only
        /// if there are any. The wait for the network loop's end, which lasts the client's whole life, does not
        /// count: waking it on every acknowledgement cost a futex wake and a context switch per publish.
        var acknowledgementWaiters = 0
        /// Whether the broker ever accepted us (later connections count as reconnects).
        var everConnected = false
    }

    /// QoS 1 messages sent and not yet acknowledged, at most; further ones wait in libmosquitto's queue.
    ///
    /// Not more: while fewer than this many are in flight, libmosquitto walks its list of unacknowledged messages
    /// on every publish and every acknowledgement (`message__release_to_inflight`), so each costs O(this). At
    /// 1,000 that walk was 15 % of the gateway's CPU at 5,000 chargers; 250 gave the same throughput at 18 % less
    /// CPU per MeterValues (docs/performance.md).
    static let maximumInFlight = 250

    private static let connectedGauge = Gauge(label: "mqtt_connected")
    private static let reconnects = Counter(label: "mqtt_reconnects_total")
    private static let publishes = Counter(label: "mqtt_publishes_total")
    private static let unacknowledgedGauge = Gauge(label: "mqtt_unacknowledged_messages")

    private static let libraryReady: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// Creates the client; it connects once ``run()`` runs.
    /// - Throws: ``MosquittoError`` when libmosquitto refuses the settings.
    public init(configuration: MosquittoConfiguration, logger: Logger, onEvent: @escaping @Sendable (MosquittoEvent) -> Void) throws {
        precondition(Self.libraryReady)
        self.configuration = configuration
        self.logger = logger
        self.onEvent = onEvent
        guard let handle = mosquitto_new(configuration.clientID, true, nil) else {
            throw MosquittoError("cannot create an MQTT client (out of memory or invalid client id)")
        }
        self.handle = handle
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "TCP_NODELAY")
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311)), "protocol version")
        // libmosquitto keeps 20 QoS 1 messages in flight by default and queues the rest until acknowledgements come:
        // about 20 per round trip to the broker, a ceiling a busy gateway reaches (docs/performance.md). Far more
        // costs CPU on every publish (see `maximumInFlight`).
        try check(mosquitto_max_inflight_messages_set(handle, UInt32(Self.maximumInFlight)), "messages in flight")
        if let username = configuration.username {
            try check(mosquitto_username_pw_set(handle, username, configuration.password), "username and password")
        }
        if let tls = configuration.tls {
            // Peer verification on, TLS 1.2 or later.
            try check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil), "TLS certificates")
            try check(mosquitto_tls_opts_set(handle, 1, "tlsv1.2", nil), "TLS options")
            if tls.insecure { try check(mosquitto_tls_insecure_set(handle, true), "TLS host name check") }
        }
        if let will = configuration.will {
            let bytes = Array(will.payload.utf8)
            try check(mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes, Int32(will.qos), will.retain), "last will")
        }
        mosquitto_connect_callback_set(handle) { _, context, code in
            MosquittoClient.from(context)?.didConnect(code: code)
        }
        mosquitto_disconnect_callback_set(handle) { _, context, code in
            MosquittoClient.from(context)?.didDisconnect(code: code)
        }
        mosquitto_publish_callback_set(handle) { _, context, messageID in
            MosquittoClient.from(context)?.didPublish(messageID: messageID)
        }
        mosquitto_message_callback_set(handle) { _, context, message in
            guard let client = MosquittoClient.from(context), let message else { return }
            client.didReceive(message.pointee)
        }
        // Last: `self` is complete, so the callbacks may find it.
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private static func from(_ context: UnsafeMutableRawPointer?) -> MosquittoClient? {
        context.map { Unmanaged<MosquittoClient>.fromOpaque($0).takeUnretainedValue() }
    }

    private func check(_ code: Int32, _ what: String) throws {
        guard code == MOSQ_ERR_SUCCESS.rawValue else {
            throw MosquittoError("cannot set \(what): \(String(cString: mosquitto_strerror(code)))")
        }
    }

    /// Whether the broker has accepted the connection and it has not ended since.
    public var isConnected: Bool { state.withLock { $0.connected } }

    // MARK: Publishing and subscribing

    /// Publishes a message and returns its message id, or nil when it was not handed to libmosquitto (not
    /// connected with QoS 0, or the message is invalid); a QoS 1 or 2 message published while disconnected is
    /// queued by libmosquitto and sent after the reconnect, so it must not be published again.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Int32? {
        var messageID: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &messageID, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos), retain)
        }
        let queued = code == MOSQ_ERR_SUCCESS.rawValue || (code == MOSQ_ERR_NO_CONN.rawValue && qos > 0)
        if queued {
            Self.publishes.increment()
            let waiting = state.withLock { state in
                if state.acknowledgedEarly.remove(messageID) == nil { state.unacknowledged.insert(messageID) }
                return state.unacknowledged.count
            }
            Self.unacknowledgedGauge.record(waiting)
        } else if code != MOSQ_ERR_NO_CONN.rawValue {
            logger.warning("MQTT publish refused", metadata: ["mqtt.topic": "\(topic)", "mqtt.error": "\(String(cString: mosquitto_strerror(code)))"])
        }
        return queued ? messageID : nil
    }

    /// Subscribes now (if connected) and after every reconnect.
    public func subscribe(_ filters: [String], qos: Int = 1) {
        let connected = state.withLock { state in
            for filter in filters { state.subscriptions[filter] = qos }
            return state.connected
        }
        if connected {
            for filter in filters { mosquitto_subscribe(handle, nil, filter, Int32(qos)) }
        }
    }

    // MARK: Callbacks (on the network thread)

    private func didConnect(code: Int32) {
        guard code == 0 else {
            logger.error("MQTT broker refused the connection", metadata: [
                "mqtt.broker": "\(configuration.brokerDescription)",
                "mqtt.error": "\(String(cString: mosquitto_connack_string(code)))",
            ])
            return
        }
        let (subscriptions, again) = state.withLock { state in
            state.connected = true
            defer { state.everConnected = true }
            return (state.subscriptions, state.everConnected)
        }
        Self.connectedGauge.record(1)
        if again { Self.reconnects.increment() }
        for (filter, qos) in subscriptions { mosquitto_subscribe(handle, nil, filter, Int32(qos)) }
        logger.info("MQTT connected", metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.client_id": "\(configuration.clientID)"])
        onEvent(.connected)
        wake()
    }

    private func didDisconnect(code: Int32) {
        let (wasConnected, stopping) = state.withLock { state in
            defer { state.connected = false }
            return (state.connected, state.stopping)
        }
        guard wasConnected else { return }
        Self.connectedGauge.record(0)
        let reason = code == 0 ? "client disconnected" : String(cString: mosquitto_strerror(code))
        logger.log(level: stopping ? .info : .warning, "MQTT disconnected",
                   metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.reason": "\(reason)"])
        onEvent(.disconnected(reason: reason))
        wake()
    }

    private func didPublish(messageID: Int32) {
        let waiting = state.withLock { state in
            if state.unacknowledged.remove(messageID) == nil { state.acknowledgedEarly.insert(messageID) }
            return state.unacknowledged.count
        }
        Self.unacknowledgedGauge.record(waiting)
        onEvent(.published(messageID: messageID))
        if state.withLock({ $0.acknowledgementWaiters > 0 }) { wake() }
    }

    private func didReceive(_ message: mosquitto_message) {
        let topic = String(cString: message.topic)
        let payload: [UInt8] = message.payload.map {
            Array(UnsafeRawBufferPointer(start: $0, count: Int(message.payloadlen)))
        } ?? []
        onEvent(.message(topic: topic, payload: payload, retained: message.retain))
    }

    private func wake() {
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
    }

    // MARK: The network loop

    public func run() async throws {
        let thread = Thread { [self] in networkLoop() }
        thread.name = "mqtt-network"
        thread.start()
        _ = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await waitUntil(deadline: nil) { $0.loopFinished }
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        } onCancel: {
            // Another service failed: stop at once, without the goodbye.
            self.stop()
        }
    }

    private func stop() {
        state.withLock { $0.stopping = true }
        mosquitto_disconnect(handle)
        wake()
    }

    /// Publishes the will's message, waits (bounded) for every publish to be acknowledged, then disconnects.
    private func shutdown() async {
        if let will = configuration.will, isConnected {
            publish(topic: will.topic, payload: Array(will.payload.utf8), qos: will.qos, retain: will.retain)
        }
        let flushed = await waitUntil(deadline: .now + .seconds(5), acknowledgements: true) {
            $0.unacknowledged.isEmpty || !$0.connected
        }
        if !flushed {
            logger.warning("MQTT publishes still unacknowledged at shutdown")
        }
        stop()
    }

    /// Waits until `condition` holds (or the deadline passes); returns whether it held.
    /// - Parameter acknowledgements: whether `condition` depends on acknowledgements (they wake only such waits).
    private func waitUntil(
        deadline: ContinuousClock.Instant?, acknowledgements: Bool = false, _ condition: @escaping @Sendable (State) -> Bool
    ) async -> Bool {
        await withCheckedContinuation { (result: CheckedContinuation<Bool, Never>) in
            // A short-lived helper thread waits on the condition, so no task blocks a cooperative thread.
            Thread { [self] in
                // Resume only after unlocking: resuming takes the task's status lock, which a cancellation
                // handler may hold while it waits for this lock (in `stop()` -> `wake()`).
                result.resume(returning: wait(deadline: deadline, acknowledgements: acknowledgements, condition))
            }.start()
        }
    }

    /// Blocks the calling thread until `condition` holds or the deadline passes.
    private func wait(deadline: ContinuousClock.Instant?, acknowledgements: Bool, _ condition: (State) -> Bool) -> Bool {
        wakeup.lock()
        if acknowledgements { state.withLock { $0.acknowledgementWaiters += 1 } }
        defer {
            if acknowledgements { state.withLock { $0.acknowledgementWaiters -= 1 } }
            wakeup.unlock()
        }
        while !state.withLock({ condition($0) }) {
            var limit = Date(timeIntervalSinceNow: 1)
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return false }
                limit = Date(timeIntervalSinceNow: min(left.timeInterval, 1))
            }
            _ = wakeup.wait(until: limit)
        }
        return true
    }

    private func networkLoop() {
        var delay = configuration.reconnectBaseDelay
        var lastFailure = ""
        while !state.withLock({ $0.stopping }) {
            let port = configuration.transport == .unix ? 0 : Int32(configuration.port)
            var code = mosquitto_connect(handle, configuration.host, port, Int32(configuration.keepAlive))
            var handshakeFailed = false
            if code == MOSQ_ERR_SUCCESS.rawValue {
                var acceptedThisTime = false
                while !state.withLock({ $0.stopping }) {
                    let loop = mosquitto_loop(handle, 1000, 1)
                    if state.withLock({ $0.connected }) {
                        delay = configuration.reconnectBaseDelay
                        acceptedThisTime = true
                    }
                    if loop != MOSQ_ERR_SUCCESS.rawValue {
                        // A connection the broker never accepted failed during the handshake (a TLS check, say).
                        if !acceptedThisTime {
                            code = loop
                            handshakeFailed = true
                        }
                        break
                    }
                }
                didDisconnect(code: MOSQ_ERR_CONN_LOST.rawValue)
            }
            if code != MOSQ_ERR_SUCCESS.rawValue && !state.withLock({ $0.stopping }) {
                var failure = code == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(code))
                if code == MOSQ_ERR_TLS.rawValue || (configuration.tls != nil && handshakeFailed) {
                    failure += " (check MQTT_TLS_CA and that the broker's certificate names MQTT_HOSTNAME)"
                }
                // One line per kind of failure, not one per attempt.
                if failure != lastFailure {
                    logger.error("Cannot reach the MQTT broker; retrying with backoff", metadata: [
                        "mqtt.broker": "\(configuration.brokerDescription)", "mqtt.error": "\(failure)",
                    ])
                    lastFailure = failure
                }
            }
            if state.withLock({ $0.stopping }) { break }
            sleep(for: delay)
            delay = min(delay * 2, configuration.reconnectMaxDelay)
        }
        state.withLock { $0.loopFinished = true }
        wake()
    }

    /// Waits on the condition so a shutdown cuts the wait short.
    private func sleep(for duration: Duration) {
        let until = Date(timeIntervalSinceNow: duration.timeInterval)
        wakeup.lock()
        while !state.withLock({ $0.stopping }) && Date() < until {
            _ = wakeup.wait(until: until)
        }
        wakeup.unlock()
    }
}

/// A setting libmosquitto refused.
public struct MosquittoError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
