import Testing

@testable import OCPP

/// Spec enums compare and hash by their case's position, read from the value (SpecEnum.swift).
@Suite struct SpecEnumTests {
    static let everyEnum: [any SpecEnum.Type] = [
        AuthorizationStatus.self, AvailabilityStatus.self, AvailabilityType.self, CancelReservationStatus.self,
        ChargePointErrorCode.self, ChargePointStatus.self, ChargingProfileKindType.self, ChargingProfilePurposeType.self,
        ChargingProfileStatus.self, ChargingRateUnitType.self, ClearCacheStatus.self, ClearChargingProfileStatus.self,
        ConfigurationStatus.self, DataTransferStatus.self, DiagnosticsStatus.self, FirmwareStatus.self,
        GetCompositeScheduleStatus.self, Location.self, Measurand.self, MessageTrigger.self, Phase.self,
        ReadingContext.self, Reason.self, RecurrencyKindType.self, RegistrationStatus.self, RemoteStartStopStatus.self,
        ReservationStatus.self, ResetStatus.self, ResetType.self, TriggerMessageStatus.self, UnitOfMeasure.self,
        UnlockStatus.self, UpdateStatus.self, UpdateType.self, ValueFormat.self, SignedFirmwareStatus.self,
        UploadLogStatus.self,
    ]

    @Test func theOrdinalIsThePositionInAllCases() {
        func check<E: SpecEnum>(_: E.Type) {
            for (position, value) in E.allCases.enumerated() {
                #expect(value.ordinal == position, "\(E.self).\(value)")
                #expect(E(rawValue: value.rawValue)!.ordinal == position)
            }
        }
        for type in Self.everyEnum { check(type) }
    }

    @Test func equalityAndHashingFollowTheCase() {
        func check<E: SpecEnum>(_: E.Type) {
            let cases = Array(E.allCases)
            #expect(Set(cases).count == cases.count, "\(E.self)")
            for (one, other) in zip(cases, cases.dropFirst()) {
                #expect(one != other && one == E(rawValue: one.rawValue)!)
                #expect(Set([one, other]).contains(E(rawValue: other.rawValue)!))
            }
        }
        for type in Self.everyEnum { check(type) }
    }

    /// A type that conforms without being a plain enum gets its ordinal by looking itself up.
    @Test func aStructThatConformsIsLookedUp() {
        #expect(Grade(rawValue: "c")!.ordinal == 2 && Grade(rawValue: "a")! != Grade(rawValue: "b")!)
    }

    struct Grade: SpecEnum {
        static let allCases = ["a", "b", "c"].map(Grade.init(name:))
        let rawValue: String
        private init(name: String) { rawValue = name }
        init?(rawValue: String) {
            guard ["a", "b", "c"].contains(rawValue) else { return nil }
            self.rawValue = rawValue
        }
    }
}
