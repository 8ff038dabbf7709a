import Foundation

/// The figures of one run.
public struct LoadReport: Sendable {
    public var mode: String
    public var chargers: Int
    public var rate: Double
    public var duration: Double
    public var ready = 0
    public var rampSeconds = 0.0
    public var settleSeconds = 0.0
    public var connectFailures = 0
    public var disconnects = 0
    public var meterValuesSent = 0
    public var meterValuesAnswered = 0
    public var callErrors = 0
    public var lateSends = 0
    public var matched = 0
    /// MeterValues whose energy value never arrived on MQTT.
    public var lost = 0
    public var drained = true
    public var achievedPerSecond = 0.0
    public var meterValuesRoundTrip = LatencySummary.empty
    public var otherRoundTrip = LatencySummary.empty
    public var meterToMQTT = LatencySummary.empty
    public var gatewayCPUSeconds: Double?
    public var cpuMicrosecondsPerMeterValues: Double?
    public var gatewayRSSBeforeKiB: Int?
    public var gatewayRSSAfterKiB: Int?
    public var rssKiBPerCharger: Double?
    public var brokerCPUSeconds: Double?
    public var loadgenCPUSeconds: Double?
    public var commandToCharger = LatencySummary.empty
    public var commandRoundTrip = LatencySummary.empty
    public var commandsFailed = 0
    public var failures: [String] = []

    init(options: LoadOptions) {
        mode = options.mode.rawValue
        chargers = options.chargers
        rate = options.rate
        settleSeconds = options.settle
        duration = options.duration
    }

    mutating func collect(_ run: RunState) {
        connectFailures = run.connectFailures.load(ordering: .relaxed)
        disconnects = run.disconnected.load(ordering: .relaxed)
        meterValuesSent = run.meterValuesSent.load(ordering: .relaxed)
        meterValuesAnswered = run.meterValuesAnswered.load(ordering: .relaxed)
        callErrors = run.callErrors.load(ordering: .relaxed)
        lateSends = run.lateSends.load(ordering: .relaxed)
        matched = run.matched.load(ordering: .relaxed)
        lost = run.unmatched
        meterValuesRoundTrip = run.meterValuesRoundTrip.summary
        otherRoundTrip = run.otherRoundTrip.summary
        meterToMQTT = run.meterToMQTT.summary
        failures = run.failureMessages
    }

    /// Whether nothing went wrong: every charger ready, every CALL answered without error, nothing lost.
    public var clean: Bool {
        ready == chargers && connectFailures == 0 && disconnects == 0 && callErrors == 0 && lost == 0
            && meterValuesAnswered == meterValuesSent && commandsFailed == 0
    }

    /// One JSON object (keys in snake_case), for scripts.
    public var json: String {
        func latency(_ summary: LatencySummary) -> [String: Any] {
            ["count": summary.count, "p50_us": round1(summary.p50), "p99_us": round1(summary.p99), "max_us": round1(summary.max)]
        }
        var object: [String: Any] = [
            "mode": mode, "chargers": chargers, "rate": rate, "duration_s": duration, "ready": ready,
            "ramp_s": round1(rampSeconds), "settle_s": round1(settleSeconds), "connect_failures": connectFailures, "disconnects": disconnects,
            "meter_values_sent": meterValuesSent, "meter_values_answered": meterValuesAnswered, "call_errors": callErrors,
            "late_sends": lateSends, "matched": matched, "lost": lost, "drained": drained,
            "achieved_per_s": round1(achievedPerSecond), "meter_values_rtt": latency(meterValuesRoundTrip),
            "other_rtt": latency(otherRoundTrip), "meter_values_to_mqtt": latency(meterToMQTT),
            "command_to_charger": latency(commandToCharger), "command_round_trip": latency(commandRoundTrip),
            "commands_failed": commandsFailed, "failures": failures, "clean": clean,
        ]
        object["gateway_cpu_s"] = gatewayCPUSeconds.map(round3)
        object["cpu_us_per_meter_values"] = cpuMicrosecondsPerMeterValues.map(round1)
        object["gateway_rss_before_kib"] = gatewayRSSBeforeKiB
        object["gateway_rss_after_kib"] = gatewayRSSAfterKiB
        object["rss_kib_per_charger"] = rssKiBPerCharger.map(round1)
        object["broker_cpu_s"] = brokerCPUSeconds.map(round3)
        object["loadgen_cpu_s"] = loadgenCPUSeconds.map(round3)
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A few lines for people.
    public var text: String {
        func latency(_ summary: LatencySummary) -> String {
            summary.count == 0 ? "-" : String(format: "p50 %.0f us, p99 %.0f us, max %.0f us (%d)", summary.p50, summary.p99, summary.max, summary.count)
        }
        var lines = [
            "mode \(mode): \(ready)/\(chargers) chargers ready in \(String(format: "%.1f", rampSeconds)) s, connect failures \(connectFailures), disconnects \(disconnects)",
        ]
        if mode == LoadOptions.Mode.meter.rawValue {
            lines += [
                "MeterValues: sent \(meterValuesSent), answered \(meterValuesAnswered), CallErrors \(callErrors), late ticks \(lateSends), achieved \(String(format: "%.0f", achievedPerSecond))/s",
                "MQTT: matched \(matched), lost \(lost)\(drained ? "" : " (drain timed out)")",
                "MeterValues round trip: \(latency(meterValuesRoundTrip))",
                "MeterValues -> MQTT:    \(latency(meterToMQTT))",
                "other CALLs round trip: \(latency(otherRoundTrip))",
            ]
        }
        if mode == LoadOptions.Mode.command.rawValue {
            lines += [
                "MQTT command -> charger: \(latency(commandToCharger))",
                "MQTT command -> result:  \(latency(commandRoundTrip)), failed \(commandsFailed)",
            ]
        }
        if let gatewayCPUSeconds {
            lines.append(String(format: "gateway CPU %.2f s", gatewayCPUSeconds)
                + (cpuMicrosecondsPerMeterValues.map { String(format: ", %.1f us per MeterValues", $0) } ?? ""))
        }
        if let brokerCPUSeconds { lines.append(String(format: "broker CPU %.2f s", brokerCPUSeconds)) }
        if let loadgenCPUSeconds { lines.append(String(format: "load generator CPU %.2f s", loadgenCPUSeconds)) }
        if let before = gatewayRSSBeforeKiB, let after = gatewayRSSAfterKiB {
            lines.append("gateway RSS \(before) KiB -> \(after) KiB" + (rssKiBPerCharger.map { String(format: ", %.1f KiB per charger", $0) } ?? ""))
        }
        for failure in failures.prefix(5) { lines.append("failure: \(failure)") }
        return lines.joined(separator: "\n")
    }
}

private func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
private func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
