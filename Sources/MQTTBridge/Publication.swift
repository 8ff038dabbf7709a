import CentralSystem

/// One message the bridge puts on the broker.
public struct Publication: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var payload: String
    public var retain: Bool
    /// Kept in full through broker outages and restarts (meter readings, transaction events): every one reaches
    /// the broker, in order. Other retained state keeps only its latest value.
    public var kept: Bool
    /// Held in the publisher's retained cache and republished after every reconnect. Home Assistant discovery
    /// configs are not (about 20 KiB per station): the bridge writes them anew after a reconnect instead.
    public var cached: Bool
    /// The topic's entry in the publisher's retained cache, for a topic published again and again (a connector's
    /// meter readings): the publisher updates it without looking the topic up. Not part of equality.
    var slot: RetainedSlot?

    public init(topic: String, payload: String, retain: Bool = true, kept: Bool = false, cached: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.kept = kept
        self.cached = cached
    }

    /// A retained publication on `slot`'s topic.
    init(slot: RetainedSlot, payload: String, kept: Bool) {
        self.init(topic: slot.topic, payload: payload, kept: kept)
        self.slot = slot
    }

    public static func == (a: Publication, b: Publication) -> Bool {
        a.topic == b.topic && a.payload == b.payload && a.retain == b.retain && a.kept == b.kept && a.cached == b.cached
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(topic)
        hasher.combine(payload)
        hasher.combine(retain)
        hasher.combine(kept)
        hasher.combine(cached)
    }

    public var description: String { "\(topic) = \(payload)\(retain ? "" : " (not retained)")" }
}

/// One topic's entry in the publisher's retained cache (its latest payload and the order it was first cached in),
/// held by the station model for each of a connector's meter topics and carried by their publications, so the
/// publisher updates it in place: looking a topic up by its string (hashing it and probing a table of every
/// station's topics) cost 5 % of the CPU at saturation.
///
/// Made by the station model, which reads only `topic`; the rest is the publisher's, read and changed only under its
/// lock.
final class RetainedSlot: @unchecked Sendable {
    let topic: String
    var payload = ""
    var order: UInt64 = 0
    /// In the publisher's cache: its table maps `topic` to this slot. Until then, and after the topic is cleared,
    /// the publisher looks the topic up.
    var cached = false

    init(topic: String) {
        self.topic = topic
    }
}

/// How values are written as MQTT payloads.
enum StateValue {
    /// `1500` rather than `1500.0`; `16.1` as it is.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func onOff(_ on: Bool) -> String { on ? "ON" : "OFF" }

    /// `disconnect_reason`'s value: the reason in snake_case (`going_away`, `closed_4000`).
    static func disconnectReason(_ reason: DisconnectReason) -> String {
        switch reason {
        case .normalClosure: "normal_closure"
        case .goingAway: "going_away"
        case .timeout: "timeout"
        case .replaced: "replaced"
        case .protocolError: "protocol_error"
        case .messageTooLarge: "message_too_large"
        case .unsupportedData: "unsupported_data"
        case .connectionLost: "connection_lost"
        case .closed(let code): "closed_\(code)"
        case .upstreamUnavailable: "upstream_unavailable"
        }
    }
}
