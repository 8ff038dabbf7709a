import Foundation
import NIOCore
import NIOPosix

/// What to run. Every address must be a loopback address: the load generator is a benchmark tool, not a way to
/// flood someone else's server.
public struct LoadOptions: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Chargers in a transaction sending MeterValues at `rate` each (0: back to back, for saturation).
        case meter
        /// Chargers that boot and stay connected: memory per connection.
        case idle
        /// Commands over MQTT, one at a time, to connected chargers: command latency.
        case command
    }

    public var mode = Mode.meter
    public var host = "127.0.0.1"
    public var port = 3000
    public var mqttHost = "127.0.0.1"
    public var mqttPort = 1883
    public var basePath = "ocpp/test"
    public var chargers = 10
    /// MeterValues per second per charger; 0 sends the next as soon as the last is answered.
    public var rate = 1.0
    /// Seconds of metering (meter mode) or of holding the connections (idle mode).
    public var duration = 10.0
    /// Commands to send in command mode.
    public var commands = 200
    /// New connections per second while ramping up.
    public var connectRate = 2000
    /// Event loop threads for the chargers.
    public var threads = 1
    public var stationPrefix = "lg"
    public var idTag = "LOADGEN"
    public var gatewayPID: Int32?
    public var brokerPID: Int32?
    /// How long to wait after metering for the last answers and MQTT publishes.
    public var drainTimeout = 20.0
    /// Seconds to wait between the last charger ready and the start of metering, so what the connects published
    /// (Home Assistant discovery: about 30 configs per charger) has reached the broker: metering then measures a
    /// fleet that is connected, not one that is connecting.
    public var settle = 0.0
    /// Current and voltage hold still in every reading (`--steady`), as at a charger limited by its current on a stiff
    /// grid; power and energy still move.
    public var steady = false
    /// The chargers speak OCPP 2.0.1 (`--ocpp 2.0.1`).
    public var v201 = false

    public init() {}

    static let maximumChargers = 30_000
    static let maximumDuration = 3_600.0

    /// Checks the bounds; returns the reason the options cannot run.
    public func problem() -> String? {
        for (name, host) in [("gateway", host), ("MQTT", mqttHost)] where !Self.isLoopback(host) {
            return "the \(name) address \(host) is not a loopback address (the load generator only targets this machine)"
        }
        if chargers < 1 || chargers > Self.maximumChargers { return "chargers must be 1 to \(Self.maximumChargers)" }
        if rate < 0 || rate > 1000 { return "rate must be 0 to 1000 per second" }
        if duration <= 0 || duration > Self.maximumDuration { return "duration must be above 0 and at most \(Int(Self.maximumDuration)) s" }
        if commands < 1 || commands > 100_000 { return "commands must be 1 to 100000" }
        if connectRate < 1 { return "connect rate must be at least 1" }
        if threads < 1 || threads > 64 { return "threads must be 1 to 64" }
        if settle < 0 || settle > 600 { return "settle must be 0 to 600 s" }
        return nil
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Runs one load and measures it.
public enum LoadRun {
    public static func execute(_ options: LoadOptions, progress: @escaping @Sendable (String) -> Void) async throws -> LoadReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let result: Result<LoadReport, any Error>
        do {
            result = .success(try await execute(options, group: group, progress: progress))
        } catch {
            result = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try result.get()
    }

    private static func execute(
        _ options: LoadOptions, group: MultiThreadedEventLoopGroup, progress: @escaping @Sendable (String) -> Void
    ) async throws -> LoadReport {
        let run = RunState()
        var report = LoadReport(options: options)

        let probe = MQTTProbe(base: options.basePath, prefix: options.stationPrefix, run: run)
        let probeTask = Task { try await probe.run(host: options.mqttHost, port: options.mqttPort) }
        defer { probeTask.cancel() }
        guard await poll(deadline: 10, { probe.isConnected }) else {
            throw LoadError("cannot connect to the MQTT broker at \(options.mqttHost):\(options.mqttPort)")
        }

        let before = options.gatewayPID.flatMap(ProcessSampler.sample(pid:))
        report.gatewayRSSBeforeKiB = before?.residentKiB

        // Ramp up, at most `connectRate` new connections a second and at most 500 handshakes in flight.
        var plan = ChargerPlan(mode: options.mode == .meter ? .meter : .idle, idTag: options.idTag)
        plan.steady = options.steady
        plan.v201 = options.v201
        let connector = ChargerConnector(host: options.host, port: options.port, group: group, plan: plan, run: run)
        let rampStart = monotonicNanoseconds()
        let rampLimit = Double(options.chargers) / Double(options.connectRate) + 60
        var launched = 0
        while launched < options.chargers, Double(monotonicNanoseconds() - rampStart) / 1e9 < rampLimit {
            let settled = run.ready.load(ordering: .relaxed) + run.connectFailures.load(ordering: .relaxed) + run.disconnected.load(ordering: .relaxed)
            let allowed = Int(Double(monotonicNanoseconds() - rampStart) / 1e9 * Double(options.connectRate)) + 1
            if launched - settled >= 500 || launched >= allowed {
                try await Task.sleep(for: .milliseconds(2))
                continue
            }
            let index = launched
            connector.connect(index: index, stationID: "\(options.stationPrefix)\(index)").whenFailure { error in
                run.connectFailures.add(1, ordering: .relaxed)
                run.fail("\(options.stationPrefix)\(index): cannot connect: \(error)")
            }
            launched += 1
        }
        let rampLeft = rampLimit - Double(monotonicNanoseconds() - rampStart) / 1e9
        _ = await poll(deadline: max(0, rampLeft)) {
            run.ready.load(ordering: .relaxed) + run.connectFailures.load(ordering: .relaxed) + run.disconnected.load(ordering: .relaxed) >= options.chargers
        }
        report.rampSeconds = Double(monotonicNanoseconds() - rampStart) / 1e9
        report.ready = run.ready.load(ordering: .relaxed)
        progress("\(report.ready) of \(options.chargers) chargers ready after \(String(format: "%.1f", report.rampSeconds)) s")
        let chargers = run.registeredChargers

        switch options.mode {
        case .idle:
            try await Task.sleep(for: .seconds(options.duration))
            let after = options.gatewayPID.flatMap(ProcessSampler.sample(pid:))
            report.gatewayRSSAfterKiB = after?.residentKiB
            if let before, let after, report.ready > 0 {
                report.rssKiBPerCharger = Double(after.residentKiB - before.residentKiB) / Double(report.ready)
            }
        case .meter:
            if options.settle > 0 {
                progress("settling for \(options.settle) s before metering")
                try await Task.sleep(for: .seconds(options.settle))
            }
            try await meter(options, run, chargers, &report, progress)
        case .command:
            try await command(options, run, probe, &report, progress)
        }

        // Stop transactions and disconnect.
        for charger in chargers {
            charger.eventLoop.execute { charger.value.finish() }
        }
        _ = await poll(deadline: 30) {
            run.finished.load(ordering: .relaxed) + run.disconnected.load(ordering: .relaxed) >= chargers.count
        }
        report.collect(run)
        return report
    }

    private static func meter(
        _ options: LoadOptions, _ run: RunState, _ chargers: [NIOLoopBound<SimulatedCharger>],
        _ report: inout LoadReport, _ progress: @escaping @Sendable (String) -> Void
    ) async throws {
        let interval: TimeAmount? = options.rate > 0 ? .nanoseconds(Int64(1e9 / options.rate)) : nil
        let start = NIODeadline.now() + .milliseconds(200)
        let count = max(1, chargers.count)
        for (position, charger) in chargers.enumerated() {
            // Spread the chargers evenly over one interval, as real chargers' clocks are.
            let offset = interval.map { TimeAmount.nanoseconds($0.nanoseconds * Int64(position) / Int64(count)) } ?? .zero
            charger.eventLoop.execute { charger.value.startMetering(at: start + offset, every: interval) }
        }
        let cpuStart = options.gatewayPID.flatMap(ProcessSampler.sample(pid:))
        let brokerStart = options.brokerPID.flatMap(ProcessSampler.sample(pid:))
        let selfStart = ProcessSampler.sampleSelf()
        let wallStart = monotonicNanoseconds()
        try await Task.sleep(for: .seconds(options.duration) + .milliseconds(200))
        let answeredInWindow = run.meterValuesAnswered.load(ordering: .relaxed)
        for charger in chargers {
            charger.eventLoop.execute { charger.value.stopMetering() }
        }
        let wallSending = Double(monotonicNanoseconds() - wallStart) / 1e9 - 0.2
        progress("metering stopped; waiting for the last answers and MQTT publishes")
        let drained = await poll(deadline: options.drainTimeout) {
            run.meterValuesAnswered.load(ordering: .relaxed) + run.callErrors.load(ordering: .relaxed)
                >= run.meterValuesSent.load(ordering: .relaxed) && run.unmatched == 0
        }
        report.drained = drained
        report.achievedPerSecond = Double(answeredInWindow) / max(0.001, wallSending)
        let cpuEnd = options.gatewayPID.flatMap(ProcessSampler.sample(pid:))
        let brokerEnd = options.brokerPID.flatMap(ProcessSampler.sample(pid:))
        let selfEnd = ProcessSampler.sampleSelf()
        let messages = run.meterValuesAnswered.load(ordering: .relaxed)
        if let cpuStart, let cpuEnd {
            report.gatewayCPUSeconds = cpuEnd.cpuSeconds - cpuStart.cpuSeconds
            report.gatewayRSSAfterKiB = cpuEnd.residentKiB
            if messages > 0 { report.cpuMicrosecondsPerMeterValues = report.gatewayCPUSeconds! / Double(messages) * 1e6 }
        }
        if let brokerStart, let brokerEnd {
            report.brokerCPUSeconds = brokerEnd.cpuSeconds - brokerStart.cpuSeconds
        }
        if let selfStart, let selfEnd {
            report.loadgenCPUSeconds = selfEnd.cpuSeconds - selfStart.cpuSeconds
        }
    }

    private static func command(
        _ options: LoadOptions, _ run: RunState, _ probe: MQTTProbe, _ report: inout LoadReport,
        _ progress: @escaping @Sendable (String) -> Void
    ) async throws {
        let toCall = LatencyRecorder(), toResult = LatencyRecorder()
        var failed = 0
        let ready = max(1, run.ready.load(ordering: .relaxed))
        for number in 0..<options.commands {
            let charger = number % ready
            let requestID = "lg-\(getpid())-\(number)"
            let sentAt = monotonicNanoseconds()
            let topic = "\(options.basePath)/\(options.stationPrefix)\(charger)/cmd"
            guard probe.publish(topic: topic, payload: #"{"action":"ClearCache","request_id":"\#(requestID)"}"#) else {
                failed += 1
                continue
            }
            let answered = await poll(deadline: 5, interval: .microseconds(200)) { probe.result(for: requestID) != nil }
            guard answered, let result = probe.result(for: requestID), result.status == "Accepted" else {
                failed += 1
                run.fail("command \(requestID) to \(topic): \(probe.result(for: requestID)?.status ?? "no result within 5 s")")
                continue
            }
            toResult.record(nanoseconds: result.at &- sentAt)
            if let call = run.lastCommandCall(charger: charger), call.at > sentAt {
                toCall.record(nanoseconds: call.at &- sentAt)
            }
        }
        report.commandToCharger = toCall.summary
        report.commandRoundTrip = toResult.summary
        report.commandsFailed = failed
        progress("\(options.commands - failed) of \(options.commands) commands answered")
    }

    /// Polls `condition` until it holds or `deadline` seconds pass; returns whether it held.
    static func poll(deadline seconds: Double, interval: Duration = .milliseconds(20), _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while !condition() {
            if ContinuousClock.now >= end { return false }
            try? await Task.sleep(for: interval)
        }
        return true
    }
}

public struct LoadError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
