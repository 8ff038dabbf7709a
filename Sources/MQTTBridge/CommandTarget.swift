import CentralSystem
import Foundation
import OCPP

/// What the command runner needs from the central system: send a call, wait for a station, turn a charging switch,
/// the open transactions (for the controls that stop one), and the current limit a control set. The gateway passes its ``CentralSystem``; unit tests
/// pass a fake, so the runner's queues, retries and results are tested without a broker or a charger.
public protocol CommandTarget: Sendable {
    /// Sends `action` with `payload` to `station` and returns the charger's answer (a 2.0.1 station gets the 1.6
    /// call's translation).
    func sendRaw(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError>
    /// Sends an OCPP 2.0.1 call to a 2.0.1 station and returns the charger's answer.
    func send201(action: String, payload: RawJSON, to station: String) async -> Result<RawJSON, CommandError>
    /// Returns when `station` is connected, after `timeout`, or when the task is cancelled.
    func waitForConnection(of station: String, upTo timeout: Duration) async -> Bool
    /// Turns a station's `charging_enabled` switch on or off.
    func setChargingEnabled(_ enabled: Bool, station: String) throws
    /// Transactions started and not yet stopped.
    var activeTransactions: [Transaction] { get }
    /// Keeps the current limit the max current control set (published again after restarts).
    func noteCurrentLimit(_ amperes: Double, station: String)
}

extension CentralSystem: CommandTarget {}
