import Foundation

/// An MQTT command waiting for its station, as the store keeps it across restarts.
public struct StoredCommand: Sendable, Hashable {
    public var id: Int64
    /// The station named by the topic or payload; nil for "the station that connected last".
    public var station: String?
    public var name: String
    public var action: String
    public var payload: String
    public var requestID: String?
    /// The state parameter and value to publish when it succeeds (a control's new value).
    public var stateParameter: String?
    public var stateValue: String?
    /// Whether it was handed to the charger: such a command is not sent again after a restart.
    public var sent: Bool

    public init(
        id: Int64 = 0, station: String?, name: String, action: String, payload: String, requestID: String?,
        stateParameter: String? = nil, stateValue: String? = nil, sent: Bool = false
    ) {
        self.id = id
        self.station = station
        self.name = name
        self.action = action
        self.payload = payload
        self.requestID = requestID
        self.stateParameter = stateParameter
        self.stateValue = stateValue
        self.sent = sent
    }
}

/// Where commands wait for their station across restarts.
// Class-bound on purpose: with two non-class existentials (address-only) in MQTTBridgeConfiguration, returned through
// the typed-throws configuration loaders, Swift 6.3.1's debug build corrupted an async task context (a SIGSEGV
// jumping to 0x5 in ConfigurationTests). Class-bound existentials are plain references and avoid it.
public protocol CommandStore: AnyObject, Sendable {
    /// Stores a command; returns its id.
    func add(_ command: StoredCommand) throws -> Int64
    func markSent(_ id: Int64, _ sent: Bool) throws
    func remove(_ id: Int64) throws
    /// Every stored command, oldest first.
    func storedCommands() throws -> [StoredCommand]
}
