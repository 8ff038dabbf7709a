import Foundation
import OCPP
import Testing

@testable import MQTTBridge

@Suite struct CommandParserTests {
    private func parse(_ text: String) -> Result<Command, CommandRejection> {
        CommandParser.parse(Array(text.utf8))
    }

    private func payload(_ text: String) throws -> String {
        let command = try parse(text).get()
        guard case .ocpp(_, let payload) = command.operation else { throw CommandRejection(code: .invalidCommand, message: "not ocpp") }
        return payload.description
    }

    @Test func everyCentralSystemOperationHasItsName() {
        #expect(Set(CommandParser.actions.keys) == [
            "cancel_reservation", "change_availability", "change_configuration", "clear_cache", "clear_charging_profile",
            "data_transfer", "get_composite_schedule", "get_configuration", "get_diagnostics", "get_local_list_version",
            "get_local_version", "remote_start_transaction", "remote_stop_transaction", "reserve_now", "reset",
            "send_local_list", "set_charging_profile", "trigger_message", "unlock_connector", "update_firmware",
        ])
    }

    @Test func snakeAndCamelArgumentsGiveTheSamePayloadAtEveryDepth() throws {
        let snake = try payload("""
            {"action": "set_charging_profile", "args": {"connector_id": 1, "cs_charging_profiles": {
              "charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
              "charging_profile_kind": "Absolute", "charging_schedule": {"charging_rate_unit": "A",
              "charging_schedule_period": [{"start_period": 0, "limit": 16}]}}}}
            """)
        let camel = try payload("""
            {"action": "SetChargingProfile", "args": {"connectorId": 1, "csChargingProfiles": {
              "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
              "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A",
              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}}}
            """)
        #expect(snake == camel)
        #expect(snake.contains(#""chargingSchedulePeriod":[{"limit":16"#))
    }

    @Test func theOlderOpMessageFormAndRequestIDs() throws {
        let command = try parse(#"{"op": "change_availability", "message": {"connector_id": 1, "type": "Operative"}, "request_id": 42}"#).get()
        #expect(command.name == "change_availability")
        #expect(command.requestID == "42")
        #expect(command.operation == .ocpp(.changeAvailability, payload: RawJSON(validatedBytes: Data(#"{"connectorId":1,"type":"Operative"}"#.utf8))))
        #expect(try parse(#"{"action": "get_local_version", "request_id": "abc"}"#).get().requestID == "\"abc\"")
        #expect(try parse(#"{"action": "clear_cache"}"#).get().operation == .ocpp(.clearCache, payload: .emptyObject))
    }

    @Test(arguments: [
        (#""ON""#, true), (#""off""#, false), ("true", true), ("0", false), (#"{"value": "yes"}"#, true), (#""false""#, false),
    ])
    func chargingEnabledTakesEveryFormOfASwitch(args: String, expected: Bool) throws {
        #expect(try parse(#"{"action": "charging_enabled", "args": \#(args)}"#).get().operation == .chargingEnabled(expected))
    }

    @Test(arguments: [
        ("", "InvalidCommand", "empty payload"),
        ("not json", "InvalidCommand", "not valid JSON"),
        ("[1,2]", "InvalidCommand", "not a JSON object"),
        ("\"reset\"", "InvalidCommand", "not a JSON object"),
        (#"{"args": {}}"#, "InvalidCommand", "missing \"action\""),
        (#"{"action": 5}"#, "InvalidCommand", "must be a string"),
        (#"{"action": "reset", "request_id": [1]}"#, "InvalidCommand", "request_id"),
        (#"{"action": "fly"}"#, "UnknownAction", "unknown action 'fly'"),
        (#"{"action": "boot_notification"}"#, "UnknownAction", "unknown action"),
        (#"{"action": "reset", "args": "Soft"}"#, "InvalidArguments", "args must be a JSON object"),
        (#"{"action": "reset"}"#, "InvalidArguments", "OccurenceConstraintViolation: type: required field is missing"),
        (#"{"action": "reset", "args": {"type": "Softly"}}"#, "InvalidArguments", "PropertyConstraintViolation"),
        (#"{"action": "unlock_connector", "args": {"connector_id": "1"}}"#, "InvalidArguments", "TypeConstraintViolation: connectorId"),
        (#"{"action": "reset", "args": {"type": "Soft", "hard": true}}"#, "InvalidArguments", "unknown argument 'hard' for reset (it takes: type)"),
        (#"{"action": "remote_start_transaction", "args": {"id_tag": "123456789012345678901"}}"#, "InvalidArguments", "longer than 20"),
        (#"{"action": "set_charging_profile", "args": {"connector_id": 1, "cs_charging_profiles": {"charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxProfile", "charging_profile_kind": "Absolute", "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 6, "phases": 3}]}}}}"#,
         "InvalidArguments", "unknown argument 'cs_charging_profiles.charging_schedule.charging_schedule_period[0].phases'"),
        (#"{"action": "charging_enabled", "args": "maybe"}"#, "InvalidArguments", "ON or OFF"),
    ])
    func malformedCommandsAreRefusedPrecisely(text: String, code: String, fragment: String) {
        guard case .failure(let rejection) = parse(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(rejection.code.description == code)
        #expect(rejection.message.contains(fragment), "\(rejection.message)")
    }

    @Test func binaryPayloadsAreRefused() {
        guard case .failure(let rejection) = CommandParser.parse([0xFF, 0xFE, 0x00]) else {
            Issue.record("accepted binary")
            return
        }
        #expect(rejection.code == .invalidCommand)
    }
}

@Suite struct CommandResultTests {
    let topics = TopicLayout(basePath: "ocpp", useStationName: true)

    @Test func aSuccessGivesEveryFieldAndTheDocument() {
        let response: [String: JSONValue] = [
            "configurationKey": .array([.object(["key": .string("A"), "readonly": .bool(true), "value": .string("1")])]),
            "unknownKey": .array([.string("B")]),
        ]
        let publications = CommandResult.publications(topics: topics, station: "CP1", name: "get_configuration", requestID: "\"r1\"", outcome: .ok(response: response))
        #expect(publications.map(\.description) == [
            "ocpp/CP1/cmd_result/action = get_configuration",
            "ocpp/CP1/cmd_result/request_id = r1",
            "ocpp/CP1/cmd_result/status = ok",
            #"ocpp/CP1/cmd_result/configuration_key = [{"key":"A","readonly":true,"value":"1"}]"#,
            #"ocpp/CP1/cmd_result/unknown_key = ["B"]"#,
            #"ocpp/CP1/cmd_result = {"action":"get_configuration","request_id":"r1","response":{"configurationKey":[{"key":"A","readonly":true,"value":"1"}],"unknownKey":["B"]},"station":"CP1","status":"ok"} (not retained)"#,
        ])
    }

    @Test func anErrorSaysStatusErrorWithCodeAndDescription() {
        let publications = CommandResult.publications(topics: topics, station: "CP1", name: "reset", requestID: "7", outcome: .error(code: .stationOffline, description: "gone"))
        #expect(publications.map(\.description) == [
            "ocpp/CP1/cmd_result/action = reset",
            "ocpp/CP1/cmd_result/request_id = 7",
            "ocpp/CP1/cmd_result/status = error",
            "ocpp/CP1/cmd_result/error = StationOffline: gone",
            #"ocpp/CP1/cmd_result = {"action":"reset","error":{"code":"StationOffline","description":"gone"},"request_id":7,"station":"CP1","status":"error"} (not retained)"#,
        ])
    }
}

/// A randomised test in the normal suite (scripts/fuzz.sh runs the coverage-guided version): mutated commands
/// never crash the parser, and each is a command or a rejection that says why.
@Suite struct CommandParserPropertyTests {
    @Test func mutatedCommandsAreCommandsOrPreciseRejections() {
        var state: UInt64 = 0xC0FFEE
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let seeds = [
            #"{"action":"reset","args":{"type":"Soft"},"request_id":"r1"}"#,
            #"{"op":"change_availability","message":{"connector_id":1,"type":"Operative"}}"#,
            #"{"action":"set_charging_profile","args":{"connector_id":1,"cs_charging_profiles":{"charging_profile_id":1,"stack_level":0,"charging_profile_purpose":"TxDefaultProfile","charging_profile_kind":"Absolute","charging_schedule":{"charging_rate_unit":"A","charging_schedule_period":[{"start_period":0,"limit":16}]}}}}"#,
            #"{"action":"charging_enabled","args":"OFF"}"#,
        ].map { Array($0.utf8) }
        let alphabet = Array(#"{}[]",:0123456789.-eE truefalsnl_"#.utf8) + [0, 0xFF, 0xC3]
        var accepted = 0
        for _ in 0..<5_000 {
            var bytes = seeds[Int(next() % UInt64(seeds.count))]
            for _ in 0..<(1 + next() % 3) where !bytes.isEmpty {
                let position = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[position] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: position)
                }
            }
            switch CommandParser.parse(bytes) {
            case .success: accepted += 1
            case .failure(let rejection):
                #expect(!rejection.code.description.isEmpty && !rejection.message.isEmpty)
            }
        }
        #expect(accepted > 0)  // the mutations are not all fatal: both paths are exercised
    }
}
