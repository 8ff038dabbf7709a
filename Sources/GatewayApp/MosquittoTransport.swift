import MQTTBridge
import Mosquitto

/// The libmosquitto client as the bridge's transport.
struct MosquittoTransport: MQTTTransport {
    let client: MosquittoClient

    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) {
        client.publish(topic: topic, payload: payload, qos: qos, retain: retain)
    }

    func subscribe(_ filters: [String]) {
        client.subscribe(filters)
    }

    /// The client's events in the bridge's terms.
    var events: AsyncStream<MQTTTransportEvent> {
        let source = client.events
        return AsyncStream { continuation in
            let task = Task {
                for await event in source {
                    switch event {
                    case .connected: continuation.yield(.connected)
                    case .disconnected: continuation.yield(.disconnected)
                    case .message(let topic, let payload, let retained):
                        continuation.yield(.message(topic: topic, payload: payload, retained: retained))
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
