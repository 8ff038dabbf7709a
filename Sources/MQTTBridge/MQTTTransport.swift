/// What the bridge needs from an MQTT client. The gateway passes its MQTT client; tests pass a fake.
public protocol MQTTTransport: Sendable {
    /// Publishes a message on the current connection. Returns the message id the broker's acknowledgement will
    /// carry (``MQTTTransportEvent/acknowledged(messageIDs:)``), or nil when the message was not handed over (no
    /// connection). The transport need not keep it past the connection: after a reconnect the bridge publishes
    /// again whatever was not acknowledged, and the latest retained state.
    @discardableResult
    func publish(topic: String, text: String, qos: Int, retain: Bool) -> Int32?
    /// Subscribes now and after every reconnect.
    func subscribe(_ filters: [String])
}

/// What the bridge hears from the MQTT client, in order.
public enum MQTTTransportEvent: Sendable {
    case connected
    case disconnected
    case message(topic: String, payload: [UInt8], retained: Bool)
    /// The broker acknowledged these messages (QoS 1 or 2), or these QoS 0 messages were written.
    case acknowledged(messageIDs: [Int32])
}
