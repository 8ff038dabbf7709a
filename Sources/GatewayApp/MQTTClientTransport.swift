import MQTT
import MQTTBridge

/// The MQTT client as the bridge's transport.
struct MQTTClientTransport: MQTTTransport {
    let client: MQTTClient

    func publish(topic: String, text: String, qos: Int, retain: Bool) -> Int32? {
        // The bridge's outbox sends again what was not acknowledged: the client need not keep it.
        client.publish(topic: topic, text: text, qos: qos, retain: retain, redeliver: false)
    }

    func subscribe(_ filters: [String]) {
        client.subscribe(filters)
    }

    /// A client event in the bridge's terms.
    static func bridgeEvent(_ event: MQTTClientEvent) -> MQTTTransportEvent {
        switch event {
        case .connected: .connected
        case .disconnected: .disconnected
        case .message(let topic, let payload, let retained): .message(topic: topic, payload: payload, retained: retained)
        case .published(let messageIDs): .acknowledged(messageIDs: messageIDs)
        }
    }
}
