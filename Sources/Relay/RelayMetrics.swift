import Metrics
import OCPP

/// Relay mode's metrics (docs/operations.md lists them).
enum RelayMetrics {
    /// A message dropped from a full queue for the upstream (`RELAY_QUEUE_MAX`), by action.
    static func dropped(_ action: String) {
        Counter(label: "ocpp_relay_dropped_total", dimensions: [("action", action)]).increment()
    }
}
