/// How long to wait before the next attempt to connect: exponential backoff with jitter.
///
/// The nominal delay starts at `base` and doubles after every attempt that did not get a connection accepted, up to
/// `maximum`; the wait is drawn at random between half of it and all of it ("equal jitter"), so gateways that lost
/// the same broker at the same moment do not all come back in the same second. An accepted connection starts the
/// sequence again.
struct ReconnectBackoff {
    let base: Duration
    let maximum: Duration
    /// The nominal delay of the next wait.
    private(set) var nominal: Duration

    init(base: Duration, maximum: Duration) {
        self.base = base
        self.maximum = max(maximum, base)
        self.nominal = base
    }

    /// The wait before the next attempt, between half the nominal delay and all of it; the nominal delay doubles.
    mutating func next(using random: inout some RandomNumberGenerator) -> Duration {
        let nanoseconds = Self.nanoseconds(nominal)
        nominal = min(nominal * 2, maximum)
        guard nanoseconds > 1 else { return .nanoseconds(nanoseconds) }
        return .nanoseconds(Int64.random(in: (nanoseconds / 2)...nanoseconds, using: &random))
    }

    /// A connection was accepted: the next failure waits `base` again.
    mutating func reset() {
        nominal = base
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
