import Logging
import Metrics
import Synchronization

/// Puts publications on the broker, and keeps what must survive a broker outage.
///
/// Retained state is cached, last value per topic, and the whole cache is published again after every
/// (re)connect: so state changed while the broker was away arrives once it is back (superseded values
/// coalesced), and a broker that lost its retained messages gets them back. Messages that are not retained
/// (the command result documents) are held in a bounded queue while disconnected and sent on reconnect.
final class StatePublisher: Sendable {
    private let transport: any MQTTTransport
    private let qos: Int
    private let pendingLimit: Int
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var connected = false
        var order: [String] = []
        var retained: [String: String] = [:]
        var pending: [Publication] = []
        var dropped = 0
    }

    init(transport: any MQTTTransport, qos: Int, pendingLimit: Int = 10_000, logger: Logger) {
        self.transport = transport
        self.qos = qos
        self.pendingLimit = pendingLimit
        self.logger = logger
    }

    func publish(_ publications: [Publication]) {
        guard !publications.isEmpty else { return }
        state.withLock { state in
            for publication in publications {
                if publication.retain && publication.payload.isEmpty {
                    // An empty retained payload clears the topic: nothing to keep or republish.
                    if state.retained.removeValue(forKey: publication.topic) != nil {
                        state.order.removeAll { $0 == publication.topic }
                    }
                } else if publication.retain {
                    if state.retained.updateValue(publication.payload, forKey: publication.topic) == nil {
                        state.order.append(publication.topic)
                    }
                }
                if state.connected {
                    send(publication)
                } else if !publication.retain {
                    if state.pending.count >= pendingLimit {
                        state.pending.removeFirst()
                        state.dropped += 1
                    }
                    state.pending.append(publication)
                    Self.queued.record(state.pending.count)
                }
            }
        }
    }

    /// The broker connection is up: republish every retained value, then what waited.
    func connected() {
        let (count, dropped) = state.withLock { state in
            state.connected = true
            for topic in state.order {
                send(Publication(topic: topic, payload: state.retained[topic]!, retain: true))
            }
            for publication in state.pending { send(publication) }
            defer {
                state.pending = []
                state.dropped = 0
                Self.queued.record(0)
            }
            return (state.order.count, state.dropped)
        }
        logger.info("Published the retained state after connecting", metadata: ["mqtt.retained_topics": "\(count)"])
        if dropped > 0 {
            logger.warning("Command results dropped while the broker was away (queue full)", metadata: ["mqtt.dropped": "\(dropped)"])
        }
    }

    func disconnected() {
        state.withLock { $0.connected = false }
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    private static let queued = Gauge(label: "mqtt_queued_messages")

    /// Clears topics on the broker (empty retained payloads) and drops them from the cache.
    func forget(_ topics: [String]) {
        publish(topics.map { Publication(topic: $0, payload: "") })
    }

    /// The retained value of a topic, as last published.
    func retainedValue(_ topic: String) -> String? {
        state.withLock { $0.retained[topic] }
    }

    private func send(_ publication: Publication) {
        transport.publish(topic: publication.topic, payload: Array(publication.payload.utf8), qos: qos, retain: publication.retain)
    }
}
