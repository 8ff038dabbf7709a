import Metrics
import OCPP
import OCPP201

/// The central system's metrics (docs/operations.md lists them). No-ops until a metrics backend is bootstrapped.
enum OCPPMetrics {
    static let connectedStations = Gauge(label: "ocpp_stations_connected")
    static let callDuration = Timer(label: "ocpp_call_duration_seconds")

    /// A message from a charger, by action and whether it was answered with a CALLRESULT.
    static func received(action: String, outcome: String) {
        receivedCounter(action: action, outcome: outcome).increment()
    }

    private static func receivedCounter(action: String, outcome: String) -> Counter {
        Counter(label: "ocpp_messages_total", dimensions: [("direction", "received"), ("action", action), ("outcome", outcome)])
    }

    /// The counters of ``received(action:outcome:)`` for every action a charger may send, with one outcome, made
    /// now (so they are listed, at 0, from the start).
    static func receivedCounters(outcome: String) -> [String: Counter] {
        // 1.6's and 2.0.1's (the names they share are one series).
        let names = Set(Action.allCases.filter { $0.initiator != .centralSystem }.map(\.rawValue)).union(MessageSchemas201.chargerInitiated)
        return Dictionary(uniqueKeysWithValues: names.map { ($0, receivedCounter(action: $0, outcome: outcome)) })
    }

    /// A CALL to a charger and how it ended; the round trip of answered calls.
    static func sent(action: String, result: Result<RawJSON, CommandError>, after duration: Duration) {
        let outcome: String
        switch result {
        case .success: outcome = "ok"
        case .failure(let error): outcome = error.kind.rawValue
        }
        Counter(label: "ocpp_messages_total", dimensions: [("direction", "sent"), ("action", action), ("outcome", outcome)]).increment()
        if case .failure(let error) = result, let code = error.callError?.code {
            callError(code.rawValue, direction: "received")
        }
        // The round trip of calls the charger answered (with a result or a CALLERROR).
        let answered = switch result {
        case .success: true
        case .failure(let error): error.kind == .callError
        }
        if answered {
            callDuration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        }
    }

    /// A CALLERROR, by code and direction (sent to or received from chargers).
    static func callError(_ code: String, direction: String) {
        Counter(label: "ocpp_call_errors_total", dimensions: [("direction", direction), ("code", code)]).increment()
    }
}
