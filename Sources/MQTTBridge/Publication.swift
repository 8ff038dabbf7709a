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

    public init(topic: String, payload: String, retain: Bool = true, kept: Bool = false, cached: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.kept = kept
        self.cached = cached
    }

    public var description: String { "\(topic) = \(payload)\(retain ? "" : " (not retained)")" }
}

/// How values are written as MQTT payloads.
enum StateValue {
    /// `1500` rather than `1500.0`; `16.1` as it is.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func onOff(_ on: Bool) -> String { on ? "ON" : "OFF" }
}
