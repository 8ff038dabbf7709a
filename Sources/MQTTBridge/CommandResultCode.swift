import OCPP

/// The code of a command's error result: `error.code` in `<S>/cmd_result` (docs/mqtt-api.md lists them).
public enum CommandResultCode: Hashable, Sendable, CustomStringConvertible {
    /// The payload is not a command (not JSON, not an object, no action, a retained command).
    case invalidCommand
    /// No such action or control.
    case unknownAction
    /// The arguments do not fit the action's request.
    case invalidArguments
    /// A control that needs an open transaction found none.
    case noTransaction
    /// The station did not connect while the command was tried.
    case stationOffline
    /// The station already has `OCPP_COMMAND_QUEUE_MAX` commands waiting.
    case queueFull
    /// The charger did not answer in time (`OCPP_CALL_TIMEOUT`).
    case timeout
    /// The connection ended before the charger answered (or the gateway restarted meanwhile).
    case connectionLost
    /// The charger's answer does not fit the action's response.
    case invalidResponse
    /// The gateway stopped before the command had a result.
    case gatewayStopping
    /// The gateway could not carry it out (its store failed).
    case internalError
    /// The charger answered with a CallError.
    case callError(CallErrorCode)

    /// The code as results name it (`StationOffline`, or the CallError's own code).
    public var description: String {
        switch self {
        case .invalidCommand: "InvalidCommand"
        case .unknownAction: "UnknownAction"
        case .invalidArguments: "InvalidArguments"
        case .noTransaction: "NoTransaction"
        case .stationOffline: "StationOffline"
        case .queueFull: "QueueFull"
        case .timeout: "Timeout"
        case .connectionLost: "ConnectionLost"
        case .invalidResponse: "InvalidResponse"
        case .gatewayStopping: "GatewayStopping"
        case .internalError: "InternalError"
        case .callError(let code): code.rawValue
        }
    }
}
