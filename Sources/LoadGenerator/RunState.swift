import Foundation
import NIOCore
import Synchronization

/// What every simulated charger and the MQTT probe report into, from any thread.
public final class RunState: Sendable {
    public let connected = Atomic<Int>(0)
    public let connectFailures = Atomic<Int>(0)
    public let ready = Atomic<Int>(0)
    public let finished = Atomic<Int>(0)
    public let disconnected = Atomic<Int>(0)
    public let meterValuesSent = Atomic<Int>(0)
    public let meterValuesAnswered = Atomic<Int>(0)
    public let callErrors = Atomic<Int>(0)
    /// MeterValues whose tick came while the previous CALL was still unanswered (sent as soon as it was).
    public let lateSends = Atomic<Int>(0)
    /// MQTT energy publishes that matched a MeterValues sent in this run.
    public let matched = Atomic<Int>(0)

    /// Round trip of MeterValues CALL -> CALLRESULT.
    public let meterValuesRoundTrip = LatencyRecorder()
    /// Round trip of every other CALL (boot, status, authorize, start, stop).
    public let otherRoundTrip = LatencyRecorder()
    /// MeterValues written -> its energy register value published on MQTT.
    public let meterToMQTT = LatencyRecorder()

    /// Energy values sent and not yet seen on MQTT, per charger index: energy Wh -> time sent.
    private let pending = Mutex<[Int: [Int64: UInt64]]>([:])
    /// When each charger last received a command CALL from the gateway.
    private let commandCalls = Mutex<[Int: (action: String, at: UInt64)]>([:])
    private let failures = Mutex<[String]>([])
    private let chargers = Mutex<[NIOLoopBound<SimulatedCharger>]>([])

    public init() {}

    func register(_ charger: NIOLoopBound<SimulatedCharger>) {
        chargers.withLock { $0.append(charger) }
    }

    /// Every charger that completed its WebSocket handshake.
    public var registeredChargers: [NIOLoopBound<SimulatedCharger>] { chargers.withLock { $0 } }

    func expect(charger: Int, energy: Int64, sentAt: UInt64) {
        pending.withLock { $0[charger, default: [:]][energy] = sentAt }
    }

    /// An energy value arrived on MQTT for a charger; records its latency if it was one we sent.
    func observe(charger: Int, energy: Int64, at now: UInt64) {
        let sentAt = pending.withLock { $0[charger]?.removeValue(forKey: energy) }
        if let sentAt {
            matched.add(1, ordering: .relaxed)
            meterToMQTT.record(nanoseconds: now &- sentAt)
        }
    }

    /// Energy values sent and not (yet) seen on MQTT.
    public var unmatched: Int { pending.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    func commandCallReceived(charger: Int, action: String, at now: UInt64) {
        commandCalls.withLock { $0[charger] = (action, now) }
    }

    public func lastCommandCall(charger: Int) -> (action: String, at: UInt64)? {
        commandCalls.withLock { $0[charger] }
    }

    /// Keeps the first few failures for the report.
    func fail(_ message: String) {
        failures.withLock { if $0.count < 20 { $0.append(message) } }
    }

    public var failureMessages: [String] { failures.withLock { $0 } }
}
