import Foundation
import Synchronization

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
public protocol CommandStore: Sendable {
    /// Stores a command; returns its id.
    func add(_ command: StoredCommand) throws -> Int64
    func markSent(_ id: Int64, _ sent: Bool) throws
    func remove(_ id: Int64) throws
    /// Every stored command, oldest first.
    func storedCommands() throws -> [StoredCommand]
}

/// Commands in memory (tests, and the bridge without a store).
public final class MemoryCommandStore: CommandStore {
    private let commands = Mutex<(next: Int64, all: [StoredCommand])>((1, []))

    public init() {}

    public func add(_ command: StoredCommand) throws -> Int64 {
        commands.withLock { state in
            var stored = command
            stored.id = state.next
            state.next += 1
            state.all.append(stored)
            return stored.id
        }
    }

    public func markSent(_ id: Int64, _ sent: Bool) throws {
        commands.withLock { state in
            if let index = state.all.firstIndex(where: { $0.id == id }) { state.all[index].sent = sent }
        }
    }

    public func remove(_ id: Int64) throws {
        commands.withLock { $0.all.removeAll { $0.id == id } }
    }

    public func storedCommands() throws -> [StoredCommand] {
        commands.withLock { $0.all }
    }
}
