import Foundation
import OCPP

/// One sampled value of a MeterValues or StopTransaction, normalised: the default measurand filled in and
/// kilo-units turned into base units (kWh -> Wh, kW -> W, kvarh -> varh, kvar -> var, kVA -> VA).
public struct MeterSample: Sendable, Hashable {
    public var timestamp: Date
    public var measurand: Measurand
    public var phase: Phase?
    public var location: Location?
    public var context: ReadingContext?
    /// The unit of ``value`` after normalisation; `nil` when the charger gave none and the measurand has no
    /// spec default.
    public var unit: UnitOfMeasure?
    /// The numeric value, or `nil` when the value is not a number (signed data).
    public var value: Double?
    /// The value exactly as the charger sent it.
    public var rawValue: String

    public init(
        timestamp: Date, measurand: Measurand, phase: Phase? = nil, location: Location? = nil,
        context: ReadingContext? = nil, unit: UnitOfMeasure? = nil, value: Double?, rawValue: String
    ) {
        self.timestamp = timestamp
        self.measurand = measurand
        self.phase = phase
        self.location = location
        self.context = context
        self.unit = unit
        self.value = value
        self.rawValue = rawValue
    }

    /// Every sampled value of every meter value, in order.
    public static func normalise(_ meterValues: [MeterValue]) -> [MeterSample] {
        var samples: [MeterSample] = []
        samples.reserveCapacity(meterValues.reduce(0) { $0 + $1.sampledValue.count })
        for meterValue in meterValues {
            for sampled in meterValue.sampledValue {
                samples.append(MeterSample(meterValue.timestamp, sampled))
            }
        }
        return samples
    }

    init(_ timestamp: Date, _ sampled: SampledValue) {
        let measurand = sampled.measurand ?? .energyActiveImportRegister
        var unit = sampled.unit ?? Self.defaultUnit(measurand)
        var value = sampled.format == .signedData ? nil : (Double(sampled.value) ?? Double(sampled.value.trimmingCharacters(in: .whitespaces)))
        if let number = value, let (base, factor) = Self.baseUnit(unit) {
            value = number * factor
            unit = base
        }
        self.init(
            timestamp: timestamp, measurand: measurand, phase: sampled.phase, location: sampled.location,
            context: sampled.context, unit: unit, value: value, rawValue: sampled.value)
    }

    /// The spec's default unit is Wh; it only makes sense for energy registers and intervals.
    private static func defaultUnit(_ measurand: Measurand) -> UnitOfMeasure? {
        switch measurand {
        case .energyActiveImportRegister, .energyActiveExportRegister, .energyActiveImportInterval,
            .energyActiveExportInterval:
            .wh
        default:
            nil
        }
    }

    static func baseUnit(_ unit: UnitOfMeasure?) -> (UnitOfMeasure, Double)? {
        switch unit {
        case .kWh: (.wh, 1000)
        case .kW: (.w, 1000)
        case .kvarh: (.varh, 1000)
        case .kvar: (.var, 1000)
        case .kVA: (.va, 1000)
        default: nil
        }
    }
}
