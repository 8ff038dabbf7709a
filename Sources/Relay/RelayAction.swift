import CentralSystem
import Foundation
import OCPP

/// A charger message's action as the relay keeps it: OCPP 1.6's, typed, or OCPP 2.0.1's, by its spec name (the two
/// versions share some names with different payloads, so the version goes with the name).
enum RelayAction: Hashable, Sendable, CustomStringConvertible {
    case v16(Action)
    case v201(String)

    /// The action of a call on a connection of `version`; nil for a 1.6 name 1.6 does not have.
    init?(_ name: String, version: OCPPVersion) {
        switch version {
        case .v16:
            guard let action = Action(rawValue: name) else { return nil }
            self = .v16(action)
        case .v201:
            self = .v201(name)
        }
    }

    var name: String {
        switch self {
        case .v16(let action): action.rawValue
        case .v201(let name): name
        }
    }

    var description: String { name }

    /// Readings only: the first to go from a full queue.
    var isReading: Bool { self == .v16(.meterValues) || self == .v201("MeterValues") }

    /// A transaction's start or stop, which a full queue never drops (2.0.1: TransactionEvent Started or Ended).
    func isTransactionBoundary(_ call: Call) -> Bool {
        switch self {
        case .v16(let action): action == .startTransaction || action == .stopTransaction
        case .v201(let name): name == "TransactionEvent" && call.payload.string(at: ["eventType"]) != "Updated"
        }
    }

    var isHeartbeat: Bool { name == "Heartbeat" }
}
