import OCPP
import Testing

@testable import OCPP201

@Suite struct SchemaTests {
    let schemas = MessageSchemas201.shared

    func check(_ action: String, _ json: String, _ direction: MessageSchemas201.Direction = .request) -> MessageSchemas201.Verdict {
        schemas.check(action, direction, json: Array(json.utf8))
    }

    func violation(_ action: String, _ json: String, _ direction: MessageSchemas201.Direction = .request) -> SchemaViolation? {
        if case .violates(let violation) = check(action, json, direction) { return violation }
        return nil
    }

    @Test func everyActionHasARequestAndAResponseSchemaThatCompile() throws {
        #expect(MessageSchemas201.actions.count == 64)
        #expect(Set(OCPP201Schemas.requests.keys) == Set(OCPP201Schemas.responses.keys))
        for action in MessageSchemas201.actions {
            for text in [OCPP201Schemas.requests[action]!, OCPP201Schemas.responses[action]!] {
                _ = try JSONSchema(json: text)
            }
        }
        #expect(check("FlyToTheMoon", "{}") == .unknownAction)
    }

    @Test func aBootNotificationFitsOrSaysWhereItDoesNot() {
        #expect(check("BootNotification", #"{"reason": "PowerUp", "chargingStation": {"model": "X1", "vendorName": "Acme"}}"#) == .fits)
        let missing = violation("BootNotification", #"{"chargingStation": {"model": "X1", "vendorName": "Acme"}}"#)
        #expect(missing == SchemaViolation(kind: .occurrence, path: "reason", message: "is required"))
        #expect(missing?.kind.callErrorCode201 == .occurrenceConstraintViolation)
        let reason = violation("BootNotification", #"{"reason": "Bored", "chargingStation": {"model": "X1", "vendorName": "Acme"}}"#)
        #expect(reason?.kind == .property && reason?.path == "reason")
        let long = violation("BootNotification", #"{"reason": "PowerUp", "chargingStation": {"model": "X1", "vendorName": "Acme", "serialNumber": "12345678901234567890123456"}}"#)
        #expect(long?.kind == .property && long?.path == "chargingStation.serialNumber")
        let type = violation("BootNotification", #"{"reason": "PowerUp", "chargingStation": {"model": 7, "vendorName": "Acme"}}"#)
        #expect(type?.kind == .type && type?.kind.callErrorCode201 == .typeConstraintViolation)
        let extra = violation("BootNotification", #"{"reason": "PowerUp", "chargingStation": {"model": "X1", "vendorName": "Acme"}, "colour": "red"}"#)
        #expect(extra?.kind == .format && extra?.kind.callErrorCode201 == .formatViolation)
        #expect(violation("BootNotification", "[2,")?.kind == .format)
    }

    @Test func customDataIsAcceptedEverywhereWithItsVendorId() {
        let withCustomData = #"""
            {"reason": "PowerUp", "customData": {"vendorId": "acme", "anything": [1, 2]},
             "chargingStation": {"model": "X1", "vendorName": "Acme", "customData": {"vendorId": "acme", "more": true}}}
            """#
        #expect(check("BootNotification", withCustomData) == .fits)
        #expect(violation("BootNotification", #"{"reason": "PowerUp", "customData": {}, "chargingStation": {"model": "X", "vendorName": "A"}}"#)?
            .path == "customData.vendorId")
    }

    @Test func aTransactionEventChecksItsDatesArraysAndNumbers() {
        let event = #"""
            {"eventType": "Updated", "timestamp": "2026-12-07T15:00:00.000Z", "triggerReason": "MeterValuePeriodic", "seqNo": 3,
             "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
             "meterValue": [{"timestamp": "2026-12-07T15:00:00Z", "sampledValue": [{"value": 7.2, "measurand": "Power.Active.Import",
               "unitOfMeasure": {"unit": "kW", "multiplier": 3}}]}]}
            """#
        #expect(check("TransactionEvent", event) == .fits)
        #expect(violation("TransactionEvent", event.replacingOccurrences(of: "2026-12-07T15:00:00.000Z", with: "yesterday"))?.path == "timestamp")
        let empty = violation("TransactionEvent", #"""
            {"eventType": "Updated", "timestamp": "2026-12-07T15:00:00Z", "triggerReason": "MeterValuePeriodic", "seqNo": 3,
             "transactionInfo": {"transactionId": "tx-1"}, "meterValue": [{"timestamp": "2026-12-07T15:00:00Z", "sampledValue": []}]}
            """#)
        #expect(empty?.kind == .occurrence && empty?.path == "meterValue[0].sampledValue")
        #expect(violation("TransactionEvent", event.replacingOccurrences(of: #""seqNo": 3"#, with: #""seqNo": 3.5"#))?.kind == .type)
        #expect(check("TransactionEvent", event.replacingOccurrences(of: #""seqNo": 3"#, with: #""seqNo": 3.0"#)) == .fits)
        #expect(violation("TransactionEvent", event.replacingOccurrences(of: #""value": 7.2"#, with: #""value": "7.2""#))?.kind == .type)
    }

    @Test func responsesAreCheckedToo() {
        #expect(check("BootNotification", #"{"currentTime": "2026-12-07T15:00:00Z", "interval": 300, "status": "Accepted"}"#, .response) == .fits)
        #expect(violation("BootNotification", #"{"currentTime": "2026-12-07T15:00:00Z", "interval": 300}"#, .response)?.path == "status")
        #expect(check("Heartbeat", #"{"currentTime": "2026-12-07T15:00:00Z"}"#, .response) == .fits)
        #expect(check("RequestStartTransaction", #"{"status": "Accepted", "transactionId": "abc"}"#, .response) == .fits)
    }

    @Test func twoPointOneNamesItsOwnCallErrors() {
        #expect(CallErrorCode.allSpecified201.map(\.rawValue) == [
            "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented", "NotSupported",
            "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
            "TypeConstraintViolation",
        ])
    }

    @Test func aSchemaWithAnUnknownReferenceIsRefused() {
        #expect(throws: JSONSchema.Invalid.self) { try JSONSchema(json: ##"{"properties": {"a": {"$ref": "#/definitions/Nope"}}}"##) }
        #expect(throws: JSONSchema.Invalid.self) { try JSONSchema(json: "[]") }
    }
}
