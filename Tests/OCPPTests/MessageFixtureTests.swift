import Foundation
import Testing

@testable import OCPP

/// Every implemented message, both directions: the golden fixture decodes into its type and encodes back to the
/// same JSON. Tests/Interop/test_fixtures.py checks the same fixtures against the official OCPP 1.6 schemas, so
/// together they show the types read and write spec-valid messages.
@Suite struct MessageFixtureTests {
    static let implemented = Action.allCases.filter { MessageTypes.requestType(for: $0) != nil }

    private func fixture(_ action: Action, _ kind: String) throws -> RawJSON {
        let url = try #require(Bundle.module.url(
            forResource: "\(action.rawValue).\(kind)", withExtension: "json", subdirectory: "Fixtures/messages"))
        var data = try Data(contentsOf: url)
        while data.last == UInt8(ascii: "\n") { data.removeLast() }
        return RawJSON(validatedBytes: data)
    }

    private func roundTrip<T: Codable>(_ type: T.Type, _ payload: RawJSON) throws -> RawJSON {
        try PayloadCoding.encode(try PayloadCoding.decode(type, from: payload))
    }

    private func jsonObject(_ payload: RawJSON) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: payload.bytes) as? NSDictionary)
    }

    @Test func allThirtyOneActionsAreImplemented() {
        #expect(Self.implemented.count == 31)
        #expect(Set(Action.core).isSubset(of: Set(Self.implemented)))
    }

    @Test(arguments: implemented)
    func requestAndResponseRoundTrip(_ action: Action) throws {
        let requestType = try #require(MessageTypes.requestType(for: action))
        let responseType = try #require(MessageTypes.responseType(for: action))
        #expect(requestType.action == action)
        for (kind, type) in [("request", requestType as any Codable.Type), ("response", responseType as any Codable.Type)] {
            let original = try fixture(action, kind)
            let encoded = try roundTrip(type, original)
            #expect(try jsonObject(encoded) == jsonObject(original), "\(action) \(kind): \(encoded)")
        }
    }
}

@Suite struct FieldNamesTests {
    /// The probe finds exactly the keys the fixtures use (the fixtures have every field set).
    @Test(arguments: MessageFixtureTests.implemented)
    func probeFindsEveryFieldOfTheFixture(_ action: Action) throws {
        let type = try #require(MessageTypes.requestType(for: action))
        let url = try #require(Bundle.module.url(forResource: "\(action.rawValue).request", withExtension: "json", subdirectory: "Fixtures/messages"))
        var keys: Set<String> = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                keys.formUnion(object.keys)
                object.values.forEach(collect)
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(try JSONSerialization.jsonObject(with: Data(contentsOf: url)))
        #expect(FieldNames.of(type) == keys)
    }
}
