import Synchronization

/// Percentiles of a set of durations, in microseconds.
public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    public var p50: Double
    public var p99: Double
    public var max: Double

    public static let empty = LatencySummary(count: 0, p50: 0, p99: 0, max: 0)

    /// Summarises durations given in nanoseconds (nearest-rank percentiles).
    public init(nanoseconds samples: [UInt64]) {
        guard !samples.isEmpty else {
            self = .empty
            return
        }
        let sorted = samples.sorted()
        func rank(_ percentile: Double) -> Double {
            let index = Int((percentile / 100 * Double(sorted.count)).rounded(.up)) - 1
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]) / 1000
        }
        self.init(count: sorted.count, p50: rank(50), p99: rank(99), max: Double(sorted[sorted.count - 1]) / 1000)
    }

    public init(count: Int, p50: Double, p99: Double, max: Double) {
        self.count = count
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}

/// Collects durations from any thread.
public final class LatencyRecorder: Sendable {
    private let samples = Mutex<[UInt64]>([])

    public init() {}

    public func record(nanoseconds: UInt64) {
        samples.withLock { $0.append(nanoseconds) }
    }

    public func reset() {
        samples.withLock { $0.removeAll(keepingCapacity: true) }
    }

    public var summary: LatencySummary {
        LatencySummary(nanoseconds: samples.withLock { $0 })
    }
}

/// Monotonic nanoseconds, comparable across the threads of this process.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

#if canImport(Glibc)
import Glibc
#endif
