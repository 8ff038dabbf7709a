import Foundation

/// One simulated reading of a three-phase charger: what a MeterValues CALL carries.
public struct MeterReading: Sendable, Equatable {
    /// Energy.Active.Import.Register in Wh; unique per station within a run, so its MQTT publish can be matched.
    public var energyWh: Int64
    public var powerW: Int
    /// Current.Import per phase, in tenths of an ampere.
    public var currentDeciA: (Int, Int, Int)
    /// Voltage L1-N, L2-N, L3-N, in tenths of a volt.
    public var voltageDeciV: (Int, Int, Int)

    public init(energyWh: Int64, powerW: Int, currentDeciA: (Int, Int, Int), voltageDeciV: (Int, Int, Int)) {
        self.energyWh = energyWh
        self.powerW = powerW
        self.currentDeciA = currentDeciA
        self.voltageDeciV = voltageDeciV
    }

    public static func == (lhs: MeterReading, rhs: MeterReading) -> Bool {
        lhs.energyWh == rhs.energyWh && lhs.powerW == rhs.powerW && lhs.currentDeciA == rhs.currentDeciA
            && lhs.voltageDeciV == rhs.voltageDeciV
    }
}

/// Writes MeterValues CALL frames byte by byte, the way a charger's firmware would, without an encoder per message:
/// the load generator must stay cheap beside the gateway it measures. A test checks the frames against the
/// project's typed `MeterValuesRequest`.
public enum MeterValuesFrame {
    /// The frame text for one reading: eight sampled values (energy register, power, current and voltage per phase).
    public static func make(
        messageID: String, connectorID: Int, transactionID: Int, timestamp: String, reading: MeterReading
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(900)
        out += #"[2,""#.utf8
        out += messageID.utf8
        out += #"","MeterValues",{"connectorId":"#.utf8
        out += String(connectorID).utf8
        out += #","transactionId":"#.utf8
        out += String(transactionID).utf8
        out += #","meterValue":[{"timestamp":""#.utf8
        out += timestamp.utf8
        out += #"","sampledValue":["#.utf8
        samples(of: reading, &out, sample)
        out += "]}]}]".utf8
        return out
    }

    /// The same reading as an OCPP 2.0.1 TransactionEvent (Updated, MeterValuePeriodic): the message a 2.0.1 station
    /// sends its readings in during a transaction. Values are JSON numbers, units in `unitOfMeasure`.
    public static func make201(
        messageID: String, transactionID: String, seqNo: Int, timestamp: String, reading: MeterReading
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1100)
        out += #"[2,""#.utf8
        out += messageID.utf8
        out += #"","TransactionEvent",{"eventType":"Updated","timestamp":""#.utf8
        out += timestamp.utf8
        out += #"","triggerReason":"MeterValuePeriodic","seqNo":"#.utf8
        out += String(seqNo).utf8
        out += #","transactionInfo":{"transactionId":""#.utf8
        out += transactionID.utf8
        out += #"","chargingState":"Charging"},"meterValue":[{"timestamp":""#.utf8
        out += timestamp.utf8
        out += #"","sampledValue":["#.utf8
        samples(of: reading, &out, sample201)
        out += "]}]}]".utf8
        return out
    }

    /// The reading's eight sampled values, comma-separated, each written by `sample` (1.6's or 2.0.1's form).
    private static func samples(
        of reading: MeterReading, _ out: inout [UInt8],
        _ sample: (_ out: inout [UInt8], _ value: String, _ measurand: String, _ phase: String?, _ unit: String) -> Void
    ) {
        sample(&out, String(reading.energyWh), "Energy.Active.Import.Register", nil, "Wh")
        out.append(UInt8(ascii: ","))
        sample(&out, String(reading.powerW), "Power.Active.Import", nil, "W")
        for (phase, value) in zip(["L1", "L2", "L3"], [reading.currentDeciA.0, reading.currentDeciA.1, reading.currentDeciA.2]) {
            out.append(UInt8(ascii: ","))
            sample(&out, tenths(value), "Current.Import", phase, "A")
        }
        for (phase, value) in zip(["L1-N", "L2-N", "L3-N"], [reading.voltageDeciV.0, reading.voltageDeciV.1, reading.voltageDeciV.2]) {
            out.append(UInt8(ascii: ","))
            sample(&out, tenths(value), "Voltage", phase, "V")
        }
    }

    private static func sample201(_ out: inout [UInt8], _ value: String, measurand: String, phase: String?, unit: String) {
        out += #"{"value":"#.utf8
        out += value.utf8
        out += #","context":"Sample.Periodic","measurand":""#.utf8
        out += measurand.utf8
        if let phase {
            out += #"","phase":""#.utf8
            out += phase.utf8
        }
        out += #"","location":"Outlet","unitOfMeasure":{"unit":""#.utf8
        out += unit.utf8
        out += #""}}"#.utf8
    }

    private static func sample(_ out: inout [UInt8], _ value: String, measurand: String, phase: String?, unit: String) {
        out += #"{"value":""#.utf8
        out += value.utf8
        out += #"","context":"Sample.Periodic","measurand":""#.utf8
        out += measurand.utf8
        if let phase {
            out += #"","phase":""#.utf8
            out += phase.utf8
        }
        out += #"","location":"Outlet","unit":""#.utf8
        out += unit.utf8
        out += #""}"#.utf8
    }

    /// 163 -> "16.3".
    static func tenths(_ value: Int) -> String {
        let sign = value < 0 ? "-" : ""
        let magnitude = abs(value)
        return "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    /// An OCPP timestamp (UTC, seconds) for a Unix time.
    public static func timestamp(unixSeconds: Int) -> String {
        var seconds = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
