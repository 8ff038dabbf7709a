import Synchronization

/// Slows down password guessing (security profile 1): an address with ``limit`` failed logins within ``window`` has
/// its next handshakes refused (429) without looking at the password until the window has passed. 2,213 tries a
/// second went unchecked before. At most ``maximumAddresses`` addresses are tracked; past that, those whose window has
/// passed are dropped first, and a new address is tracked once there is room.
final class FailedLogins: Sendable {
    let limit: Int
    let window: Duration
    let maximumAddresses: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let failures = Mutex<[String: (since: ContinuousClock.Instant, count: Int)]>([:])

    init(limit: Int = 10, window: Duration = .seconds(60), maximumAddresses: Int = 10_000,
         now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limit = limit
        self.window = window
        self.maximumAddresses = maximumAddresses
        self.now = now
    }

    /// Whether handshakes from `address` are refused now.
    func isBlocked(_ address: String) -> Bool {
        let moment = now()
        return failures.withLock { failures in
            guard let entry = failures[address] else { return false }
            if moment - entry.since >= window {
                failures[address] = nil
                return false
            }
            return entry.count >= limit
        }
    }

    /// Counts a failed login from `address`; returns true when this one reached the limit (worth a log line).
    @discardableResult
    func failed(_ address: String) -> Bool {
        let moment = now()
        return failures.withLock { failures in
            if var entry = failures[address], moment - entry.since < window {
                entry.count += 1
                failures[address] = entry
                return entry.count == limit
            }
            if failures.count >= maximumAddresses {
                failures = failures.filter { moment - $0.value.since < window }
                guard failures.count < maximumAddresses else { return false }
            }
            failures[address] = (moment, 1)
            return limit == 1
        }
    }
}
