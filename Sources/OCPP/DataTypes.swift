import Foundation

// The composite data types of OCPP 1.6 edition 2, section 7, with the spec's field names.

public struct IdTagInfo: Codable, Hashable, Sendable {
    public var expiryDate: Date?
    public var parentIdTag: CiString20?
    public var status: AuthorizationStatus

    public init(status: AuthorizationStatus, expiryDate: Date? = nil, parentIdTag: CiString20? = nil) {
        self.status = status
        self.expiryDate = expiryDate
        self.parentIdTag = parentIdTag
    }
}

public struct SampledValue: Codable, Hashable, Sendable {
    public var value: String
    public var context: ReadingContext?
    public var format: ValueFormat?
    public var measurand: Measurand?
    public var phase: Phase?
    public var location: Location?
    public var unit: UnitOfMeasure?

    public init(
        value: String, context: ReadingContext? = nil, format: ValueFormat? = nil, measurand: Measurand? = nil,
        phase: Phase? = nil, location: Location? = nil, unit: UnitOfMeasure? = nil
    ) {
        self.value = value
        self.context = context
        self.format = format
        self.measurand = measurand
        self.phase = phase
        self.location = location
        self.unit = unit
    }
}

public struct MeterValue: Codable, Hashable, Sendable {
    public var timestamp: Date
    public var sampledValue: [SampledValue]

    public init(timestamp: Date, sampledValue: [SampledValue]) {
        self.timestamp = timestamp
        self.sampledValue = sampledValue
    }

    private enum CodingKeys: String, CodingKey { case timestamp, sampledValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        timestamp = try container.decode(Date.self, forKey: .timestamp)
        sampledValue = try container.decode([SampledValue].self, forKey: .sampledValue)
            .requireNonEmpty(decoder, key: CodingKeys.sampledValue)
    }
}

public struct ChargingSchedulePeriod: Codable, Hashable, Sendable {
    public var startPeriod: Int
    public var limit: Double
    public var numberPhases: Int?

    public init(startPeriod: Int, limit: Double, numberPhases: Int? = nil) {
        self.startPeriod = startPeriod
        self.limit = limit
        self.numberPhases = numberPhases
    }
}

public struct ChargingSchedule: Codable, Hashable, Sendable {
    public var duration: Int?
    public var startSchedule: Date?
    public var chargingRateUnit: ChargingRateUnitType
    public var chargingSchedulePeriod: [ChargingSchedulePeriod]
    public var minChargingRate: Double?

    public init(
        chargingRateUnit: ChargingRateUnitType, chargingSchedulePeriod: [ChargingSchedulePeriod],
        duration: Int? = nil, startSchedule: Date? = nil, minChargingRate: Double? = nil
    ) {
        self.chargingRateUnit = chargingRateUnit
        self.chargingSchedulePeriod = chargingSchedulePeriod
        self.duration = duration
        self.startSchedule = startSchedule
        self.minChargingRate = minChargingRate
    }
}

public struct ChargingProfile: Codable, Hashable, Sendable {
    public var chargingProfileId: Int
    public var transactionId: Int?
    public var stackLevel: Int
    public var chargingProfilePurpose: ChargingProfilePurposeType
    public var chargingProfileKind: ChargingProfileKindType
    public var recurrencyKind: RecurrencyKindType?
    public var validFrom: Date?
    public var validTo: Date?
    public var chargingSchedule: ChargingSchedule

    public init(
        chargingProfileId: Int, stackLevel: Int, chargingProfilePurpose: ChargingProfilePurposeType,
        chargingProfileKind: ChargingProfileKindType, chargingSchedule: ChargingSchedule, transactionId: Int? = nil,
        recurrencyKind: RecurrencyKindType? = nil, validFrom: Date? = nil, validTo: Date? = nil
    ) {
        self.chargingProfileId = chargingProfileId
        self.transactionId = transactionId
        self.stackLevel = stackLevel
        self.chargingProfilePurpose = chargingProfilePurpose
        self.chargingProfileKind = chargingProfileKind
        self.recurrencyKind = recurrencyKind
        self.validFrom = validFrom
        self.validTo = validTo
        self.chargingSchedule = chargingSchedule
    }
}

public struct KeyValue: Codable, Hashable, Sendable {
    public var key: CiString50
    public var readonly: Bool
    public var value: CiString500?

    public init(key: CiString50, readonly: Bool, value: CiString500? = nil) {
        self.key = key
        self.readonly = readonly
        self.value = value
    }
}

public struct AuthorizationData: Codable, Hashable, Sendable {
    public var idTag: CiString20
    public var idTagInfo: IdTagInfo?

    public init(idTag: CiString20, idTagInfo: IdTagInfo? = nil) {
        self.idTag = idTag
        self.idTagInfo = idTagInfo
    }
}
