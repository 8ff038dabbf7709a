
/// One message waiting for the broker's acknowledgement.
public struct OutboxEntry: Sendable, Hashable {
    public var sequence: UInt64
    public var topic: String
    public var payload: String
    public var retain: Bool

    public init(sequence: UInt64, topic: String, payload: String, retain: Bool) {
        self.sequence = sequence
        self.topic = topic
        self.payload = payload
        self.retain = retain
    }
}

/// Where messages wait until the broker acknowledges them, so outages and restarts lose none.
/// Used by one owner at a time (the publisher, under its lock).
// Class-bound on purpose: with two non-class existentials (address-only) in MQTTBridgeConfiguration, returned through
// the typed-throws configuration loaders, Swift 6.3.1's debug build corrupted an async task context (a SIGSEGV
// jumping to 0x5 in ConfigurationTests). Class-bound existentials are plain references and avoid it.
public protocol OutboxStore: AnyObject, Sendable {
    /// The entries kept from before (after a restart), oldest first.
    func load() throws -> [OutboxEntry]
    /// Keeps `entries` (those committed together: one event's, or several events' staged in one tick; ascending
    /// sequences), all or none where the store can.
    func append(_ entries: [OutboxEntry]) throws
    /// Drops the entries before `first`, the oldest one not acknowledged (nil: every entry was acknowledged).
    /// Entries acknowledged out of order after it may stay until a later call passes them; after a restart they
    /// are sent once more, which QoS 1 allows.
    func dropAcknowledged(below first: UInt64?) throws
}
