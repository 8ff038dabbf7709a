/// What the bridge needs from an MQTT client. The gateway passes its libmosquitto client; tests pass a fake.
public protocol MQTTTransport: Sendable {
    /// Publishes a message; a QoS 1 message handed over while the connection drops is the transport's to deliver.
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool)
    /// Subscribes now and after every reconnect.
    func subscribe(_ filters: [String])
}

/// What the bridge hears from the MQTT client, in order.
public enum MQTTTransportEvent: Sendable {
    case connected
    case disconnected
    case message(topic: String, payload: [UInt8], retained: Bool)
}
