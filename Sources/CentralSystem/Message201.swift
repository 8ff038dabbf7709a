import Foundation
import OCPP

/// A message from an OCPP 2.0.1 charger, read from its schema-checked payload into what the MQTT side shows
/// (docs/ocpp201.md). Connector topics are keyed by EVSE id, so every per-connector message names its EVSE.
public enum Message201: Sendable {
    case bootNotification(Boot201)
    case heartbeat
    /// StatusNotification: the EVSE's connector and its `connectorStatus` as sent (Available, Occupied, Reserved,
    /// Unavailable, Faulted).
    case statusNotification(evse: Int, connector: Int, status: String)
    /// Authorize: the token, its type and the central system's verdict.
    case authorize(idToken: String, type: String, status: String)
    case transactionEvent(TransactionEvent201)
    /// MeterValues outside a transaction's events, normalised (the unit multiplier applied, kilo-units in base units).
    case meterValues(evse: Int, samples: [MeterSample])
    /// NotifyEvent: its event data, as sent.
    case notifyEvent(JSONValue)
    case securityEventNotification(type: String, timestamp: Date)
    case firmwareStatusNotification(status: String)
    case logStatusNotification(status: String)
    case dataTransfer(vendorId: String, messageId: String?, data: String?)
    /// Any other charger message, answered and not shown on MQTT.
    case other(action: String)

    /// The action's spec name.
    public var action: String {
        switch self {
        case .bootNotification: "BootNotification"
        case .heartbeat: "Heartbeat"
        case .statusNotification: "StatusNotification"
        case .authorize: "Authorize"
        case .transactionEvent: "TransactionEvent"
        case .meterValues: "MeterValues"
        case .notifyEvent: "NotifyEvent"
        case .securityEventNotification: "SecurityEventNotification"
        case .firmwareStatusNotification: "FirmwareStatusNotification"
        case .logStatusNotification: "LogStatusNotification"
        case .dataTransfer: "DataTransfer"
        case .other(let action): action
        }
    }
}

/// A 2.0.1 BootNotification's charging station.
public struct Boot201: Sendable, Hashable {
    public var vendor: String
    public var model: String
    public var serialNumber: String?
    public var firmwareVersion: String?
    public var iccid: String?
    public var imsi: String?
    /// Why it booted (`PowerUp`, `RemoteReset`, ...).
    public var reason: String

    public init(vendor: String, model: String, serialNumber: String? = nil, firmwareVersion: String? = nil,
                iccid: String? = nil, imsi: String? = nil, reason: String) {
        self.vendor = vendor
        self.model = model
        self.serialNumber = serialNumber
        self.firmwareVersion = firmwareVersion
        self.iccid = iccid
        self.imsi = imsi
        self.reason = reason
    }
}

/// A TransactionEvent, with what the central system made of its place in the transaction.
public struct TransactionEvent201: Sendable {
    public enum EventType: String, Sendable {
        case started = "Started", updated = "Updated", ended = "Ended"
    }

    public var eventType: EventType
    /// The charger's transaction id (a string of up to 36 characters).
    public var transactionId: String
    public var seqNo: Int
    public var timestamp: Date
    public var triggerReason: String
    /// Sent from the charger's backlog: it happened while it was offline (its timestamp is when).
    public var offline: Bool
    public var evse: Int?
    public var connector: Int?
    /// `Charging`, `EVConnected`, `SuspendedEV`, `SuspendedEVSE` or `Idle`, when the event says.
    public var chargingState: String?
    public var stoppedReason: String?
    public var idToken: String?
    public var idTokenType: String?
    public var remoteStartId: Int?
    /// Its meter values, normalised.
    public var samples: [MeterSample]
    /// Whether it moves the transaction's state: false for a duplicate, for one older (by seqNo) than an event already
    /// applied, and for anything after the transaction's Ended. Such an event is answered and changes nothing.
    public var applies: Bool
    /// The EVSE the transaction runs on, from this event or an earlier one of the same transaction.
    public var transactionEVSE: Int?
    /// The transaction's meter start (Wh) as known after this event: its Transaction.Begin reading, else the first
    /// reading it reported (kept across restarts).
    public var meterStart: Double?
    /// For an Ended event: the transaction's meter stop (Wh), as the history has it: Ended's Transaction.End reading,
    /// else its last reading, else the last one the transaction reported in its events.
    public var meterStop: Double?

    /// The energy register's reading (the whole charger's, Wh) of the given context, or of any context.
    public func energy(_ context: ReadingContext?) -> Double? {
        samples.last {
            $0.measurand == .energyActiveImportRegister && $0.phase == nil && (context == nil || $0.context == context)
        }?.value
    }

    public init(eventType: EventType, transactionId: String, seqNo: Int, timestamp: Date, triggerReason: String,
                offline: Bool = false, evse: Int? = nil, connector: Int? = nil, chargingState: String? = nil,
                stoppedReason: String? = nil, idToken: String? = nil, idTokenType: String? = nil, remoteStartId: Int? = nil,
                samples: [MeterSample] = [], applies: Bool = true, transactionEVSE: Int? = nil) {
        self.eventType = eventType
        self.transactionId = transactionId
        self.seqNo = seqNo
        self.timestamp = timestamp
        self.triggerReason = triggerReason
        self.offline = offline
        self.evse = evse
        self.connector = connector
        self.chargingState = chargingState
        self.stoppedReason = stoppedReason
        self.idToken = idToken
        self.idTokenType = idTokenType
        self.remoteStartId = remoteStartId
        self.samples = samples
        self.applies = applies
        self.transactionEVSE = transactionEVSE ?? evse
    }
}

extension MeterSample {
    /// The sampled values of 2.0.1 meter values (`[{timestamp, sampledValue: [...]}]`), normalised like 1.6's: the
    /// unit of measure's multiplier applied (`value × 10^multiplier`), kilo-units turned into base units. A measurand
    /// 1.6 does not name (`Energy.Active.Net`, ...) is left out: MQTT has no topic for it.
    public static func normalise201(_ meterValues: [JSONValue]) -> [MeterSample] {
        var samples: [MeterSample] = []
        for meterValue in meterValues {
            guard let timestamp = meterValue["timestamp"]?.stringValue.flatMap(OCPPDateTime.parse) else { continue }
            for sampled in meterValue["sampledValue"]?.arrayValue ?? [] {
                guard let number = sampled["value"]?.doubleValue else { continue }
                let measurand: Measurand
                if let name = sampled["measurand"]?.stringValue {
                    guard let known = Measurand(rawValue: name) else { continue }
                    measurand = known
                } else {
                    measurand = .energyActiveImportRegister
                }
                let unitName = sampled["unitOfMeasure"]?["unit"]?.stringValue
                let multiplier = sampled["unitOfMeasure"]?["multiplier"]?.intValue ?? 0
                var value = multiplier == 0 ? number : number * pow(10, Double(multiplier))
                var unit = unitName.flatMap(UnitOfMeasure.init(rawValue:)) ?? (unitName == nil ? defaultUnit201(measurand) : nil)
                if let (base, factor) = baseUnit(unit) {
                    value *= factor
                    unit = base
                }
                samples.append(MeterSample(
                    timestamp: timestamp, measurand: measurand,
                    phase: sampled["phase"]?.stringValue.flatMap(Phase.init(rawValue:)),
                    location: sampled["location"]?.stringValue.flatMap(Location.init(rawValue:)),
                    context: sampled["context"]?.stringValue.flatMap(ReadingContext.init(rawValue:)),
                    unit: unit, value: value, rawValue: String(number)))
            }
        }
        return samples
    }

    /// The schema's default unit is Wh; it only makes sense for energy.
    private static func defaultUnit201(_ measurand: Measurand) -> UnitOfMeasure? {
        measurand.rawValue.hasPrefix("Energy.Active") ? .wh : nil
    }
}
