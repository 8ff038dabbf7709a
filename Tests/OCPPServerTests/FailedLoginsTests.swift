import Synchronization
import Testing

@testable import OCPPServer

/// Issue 19: wrong passwords were not throttled (2,213 tries a second). An address with ten failures within a minute
/// is refused until the minute has passed; other addresses are not affected; the tracked addresses are bounded.
@Suite struct FailedLoginsTests {
    final class Clock: Sendable {
        let start = ContinuousClock.now
        let offset = Mutex<Duration>(.zero)
        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
    }

    @Test func tenFailuresBlockAnAddressForTheRestOfTheMinute() {
        let clock = Clock()
        let logins = FailedLogins(limit: 10, window: .seconds(60), now: { clock.now })
        for attempt in 1...10 {
            #expect(!logins.isBlocked("198.51.100.7"))
            #expect(logins.failed("198.51.100.7") == (attempt == 10))  // the tenth is the one worth a log line
        }
        #expect(logins.isBlocked("198.51.100.7"))
        #expect(!logins.isBlocked("198.51.100.8"))
        clock.advance(.seconds(59))
        #expect(logins.isBlocked("198.51.100.7"))
        clock.advance(.seconds(1))
        #expect(!logins.isBlocked("198.51.100.7"))
    }

    @Test func trackedAddressesAreBounded() {
        let clock = Clock()
        let logins = FailedLogins(limit: 1, window: .seconds(60), maximumAddresses: 2, now: { clock.now })
        logins.failed("a")
        logins.failed("b")
        logins.failed("c")  // no room: not tracked
        #expect(logins.isBlocked("a") && logins.isBlocked("b") && !logins.isBlocked("c"))
        clock.advance(.seconds(61))
        logins.failed("c")  // the others' windows passed: room again
        #expect(logins.isBlocked("c"))
    }
}
