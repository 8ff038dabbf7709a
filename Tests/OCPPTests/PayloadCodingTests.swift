import Foundation
import Testing

@testable import OCPP

@Suite struct PayloadCodingTests {
    private func payload(_ text: String) -> RawJSON { RawJSON(validatedBytes: Data(text.utf8)) }

    private func expectError<T: Decodable>(
        _ type: T.Type, _ json: String, _ code: CallErrorCode, mentioning fragment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try PayloadCoding.decode(type, from: payload(json))
            Issue.record("decoded \(json) without error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error.reason)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(fragment), "\(error.reason)", sourceLocation: sourceLocation)
        }
    }

    @Test func decodesABootNotificationIgnoringUnknownFields() throws {
        let boot = try PayloadCoding.decode(
            BootNotificationRequest.self,
            from: payload(#"{"chargePointVendor":"Acme","chargePointModel":"X1","firmwareVersion":"1.2","vendorExtra":5}"#))
        #expect(boot.chargePointVendor.value == "Acme")
        #expect(boot.firmwareVersion?.value == "1.2")
        #expect(boot.meterType == nil)
    }

    @Test func wrongTypeIsATypeConstraintViolation() {
        expectError(StartTransactionRequest.self,
                    #"{"connectorId":"one","idTag":"A","meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}"#,
                    .typeConstraintViolation, mentioning: "connectorId")
    }

    /// Issue 19: a fraction or a number past 64 bits in an integer field got FormationViolation ("not valid JSON"):
    /// the JSON is valid, the type is wrong.
    @Test(arguments: ["1.5", "9223372036854775808", "1e400", "-9223372036854775809"])
    func aNonIntegerNumberInAnIntegerFieldIsATypeConstraintViolation(_ number: String) {
        expectError(StatusNotificationRequest.self, #"{"connectorId":\#(number),"errorCode":"NoError","status":"Available"}"#,
                    .typeConstraintViolation, mentioning: "does not fit")
        expectError(StartTransactionRequest.self, #"{"connectorId":1,"idTag":"A","meterStart":\#(number),"timestamp":"2026-01-01T00:00:00Z"}"#,
                    .typeConstraintViolation, mentioning: "does not fit")
    }

    @Test func missingRequiredFieldIsAnOccurenceConstraintViolation() {
        expectError(StartTransactionRequest.self, #"{"connectorId":1,"meterStart":0,"timestamp":"2026-01-01T00:00:00Z"}"#,
                    .occurenceConstraintViolation, mentioning: "idTag")
        expectError(MeterValuesRequest.self, #"{"connectorId":1,"meterValue":[]}"#,
                    .occurenceConstraintViolation, mentioning: "meterValue")
        expectError(MeterValuesRequest.self, #"{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[]}]}"#,
                    .occurenceConstraintViolation, mentioning: "meterValue[0].sampledValue")
    }

    @Test func badEnumValueIsAPropertyConstraintViolation() {
        expectError(StatusNotificationRequest.self, #"{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}"#,
                    .propertyConstraintViolation, mentioning: "status: 'Sleeping' is not one of Available")
        expectError(MeterValuesRequest.self,
                    #"{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1","unit":"MWh"}]}]}"#,
                    .propertyConstraintViolation, mentioning: "meterValue[0].sampledValue[0].unit")
    }

    @Test func tooLongStringIsAPropertyConstraintViolation() {
        expectError(AuthorizeRequest.self, #"{"idTag":"123456789012345678901"}"#,
                    .propertyConstraintViolation, mentioning: "idTag: longer than 20 characters")
        let tooLong = "123456789012345678901"  // a variable: `CiString20("...")` would be literal coercion
        #expect(throws: PayloadDecodingError.self) { try CiString20(tooLong) }
    }

    @Test func badDateIsAPropertyConstraintViolation() {
        expectError(HeartbeatResponse.self, #"{"currentTime":"yesterday"}"#,
                    .propertyConstraintViolation, mentioning: "currentTime")
    }

    @Test func encodesOnlyPresentFieldsWithUTCDates() throws {
        let response = BootNotificationResponse(
            status: .accepted, currentTime: Date(timeIntervalSince1970: 1_795_000_000.75), interval: 300)
        #expect(try PayloadCoding.encode(response).description
            == #"{"currentTime":"2026-11-18T11:06:40Z","interval":300,"status":"Accepted"}"#)
        #expect(try PayloadCoding.encode(StopTransactionResponse()).description == "{}")
        #expect(try PayloadCoding.encode(DataTransferResponse(status: .unknownVendorId)).description
            == #"{"status":"UnknownVendorId"}"#)
    }

    @Test(arguments: [
        ("2026-11-21T13:51:30Z", 1_795_269_090.0),
        ("2026-11-21T13:51:30.250Z", 1_795_269_090.25),
        ("2026-11-21T14:51:30+01:00", 1_795_269_090.0),
        ("2026-11-21T08:51:30-0500", 1_795_269_090.0),
        ("2026-11-21T13:51:30", 1_795_269_090.0),
        ("2026-11-21 13:51:30.5", 1_795_269_090.5),
        ("1970-01-01T00:00:00Z", 0),
    ])
    func parsesDateTimes(text: String, seconds: Double) {
        #expect(OCPPDateTime.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: ["", "2026-11-21", "2026-13-01T00:00:00Z", "2026-11-21T13:51:30Zjunk", "2026-11-21T13:51"])
    func refusesBadDateTimes(text: String) {
        #expect(OCPPDateTime.parse(text) == nil)
    }

    @Test func formatsAndParsesDatesRoundTrip() {
        let day = 86_400.0
        for seconds in stride(from: -day * 1_000, to: day * 33_000, by: day * 17 + 3_671) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(OCPPDateTime.parse(OCPPDateTime.format(date)) == date)
        }
    }

    @Test func everyActionIsKnownWithItsInitiator() {
        #expect(Action.core.count == 28)
        #expect(Action(rawValue: "Heartbeat")?.initiator == .chargePoint)
        #expect(Action(rawValue: "Reset")?.initiator == .centralSystem)
        #expect(Action(rawValue: "DataTransfer")?.initiator == .both)
        #expect(Action(rawValue: "SecurityEventNotification")?.isSecurityExtension == true)
    }
}
