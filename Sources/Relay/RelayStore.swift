import Foundation
import OCPP

/// What relay mode keeps on disk, per station, so that an upstream outage loses nothing through a gateway restart or
/// kill: the messages the upstream has not seen (in order), what the gateway needs to answer in its place, and the
/// links between its own transaction ids and the upstream's. `SQLiteStore` in the gateway; an in-memory one in tests.
///
/// Every write is durable when it returns: a message is appended before its charger is answered.
public protocol RelayStore: Sendable {
    /// Everything kept for `station` (empty for a station never relayed).
    func relayBacklog(of station: String) throws -> RelayBacklog
    /// Appends a message for the upstream; returns its sequence number (increasing, across stations).
    func appendRelayMessage(_ message: QueuedMessage, station: String) throws -> Int64
    /// Removes messages the upstream answered (or that were dropped).
    func removeRelayMessages(_ sequence: [Int64]) throws
    func saveRelayFacts(_ facts: RelayFacts, station: String) throws
    /// Keeps (or with `upstream` nil, forgets) the link of a transaction id the gateway gave to the upstream's.
    func saveTransactionLink(local: Int, upstream: Int?, station: String) throws
    /// Keeps what the upstream said about an id tag (its `idTagInfo`).
    func saveTagVerdict(_ verdict: TagVerdict, tag: String, station: String) throws
}

/// A charger's message the upstream has not seen yet.
public struct QueuedMessage: Sendable, Hashable {
    /// The charger's CALL, as it sent it (its own message id and timestamps).
    public var frame: [UInt8]
    /// The transaction id the gateway gave a StartTransaction it answered itself.
    public var localTransaction: Int?

    public init(frame: [UInt8], localTransaction: Int? = nil) {
        self.frame = frame
        self.localTransaction = localTransaction
    }
}

/// What the gateway needs to stand in for the upstream, per station.
public struct RelayFacts: Sendable, Hashable {
    /// The charger's last BootNotification payload: sent again first when the upstream is back.
    public var boot: Data?
    /// The heartbeat interval the upstream gave last (what a boot answered here gets).
    public var interval: Int
    /// Whether the upstream must get a BootNotification before the queue (the gateway answered in its place).
    public var bootOwed: Bool
    /// The next transaction id the gateway gives when it answers a StartTransaction itself.
    public var nextLocalTransaction: Int

    /// The transaction ids the gateway gives: near the top of the 32-bit range, where no central system's counter
    /// gets, and still fitting chargers that keep the id unsigned.
    public static let localTransactionIDs = 2_100_000_000...2_147_483_647

    public init(boot: Data? = nil, interval: Int = 300, bootOwed: Bool = false,
                nextLocalTransaction: Int = RelayFacts.localTransactionIDs.lowerBound) {
        self.boot = boot
        self.interval = interval
        self.bootOwed = bootOwed
        self.nextLocalTransaction = nextLocalTransaction
    }
}

/// What the upstream said about an id tag: its `idTagInfo`.
public struct TagVerdict: Sendable, Hashable {
    public var status: AuthorizationStatus
    public var expiry: Date?
    public var parentIdTag: String?

    public init(status: AuthorizationStatus, expiry: Date? = nil, parentIdTag: String? = nil) {
        self.status = status
        self.expiry = expiry
        self.parentIdTag = parentIdTag
    }
}

/// A station's relay state as it was left.
public struct RelayBacklog: Sendable {
    /// The queued messages, oldest first, with their sequence numbers.
    public var messages: [(sequence: Int64, message: QueuedMessage)]
    public var facts: RelayFacts
    /// The gateway's transaction ids and the upstream's, where the upstream has given one.
    public var links: [Int: Int]
    public var verdicts: [String: TagVerdict]

    public init(messages: [(sequence: Int64, message: QueuedMessage)] = [], facts: RelayFacts = RelayFacts(),
                links: [Int: Int] = [:], verdicts: [String: TagVerdict] = [:]) {
        self.messages = messages
        self.facts = facts
        self.links = links
        self.verdicts = verdicts
    }
}
