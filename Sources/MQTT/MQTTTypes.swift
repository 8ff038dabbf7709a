/// What happens on the MQTT connection.
public enum MQTTClientEvent: Sendable {
    /// Connected (the broker accepted us); subscriptions have been renewed.
    case connected
    /// The connection ended; the client reconnects by itself.
    case disconnected(reason: String)
    /// A message arrived on a subscribed topic. `retained` is set for messages the broker kept from earlier.
    case message(topic: String, payload: [UInt8], retained: Bool)
    /// The broker acknowledged the messages with these ids (QoS 1 or 2; those of one read together), or these
    /// QoS 0 messages were written.
    case published(messageIDs: [Int32])
}

/// A message's payload: bytes, or text published as its UTF-8. Text is kept as the string it is (a reference to
/// its storage) until it is written, so a caller that keeps the same text (the bridge's outbox) does not have it
/// copied into an array per publish.
public enum MQTTPayload: Sendable {
    case bytes([UInt8])
    case text(String)

    /// The length in bytes.
    var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .text(let text): text.utf8.count
        }
    }
}

/// A setting the client cannot use (a TLS file that does not load, a client id longer than MQTT allows, say).
public struct MQTTClientError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
