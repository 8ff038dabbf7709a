import Foundation
import OCPP
import Testing

@testable import OCPP201

/// Every 2.0.1 message's golden payload (every field its schema has) and faults made from it, written by
/// scripts/ocpp201-fixtures.py and confirmed by the reference validator (Python `jsonschema`): the gateway's validator
/// must agree on every one, and name the kind of fault and where it is.
@Suite struct FixtureTests {
    struct Fixture: Decodable {
        struct Fault: Decodable {
            var kind: String
            var path: String
            var payload: JSONValue
        }

        var golden: JSONValue
        var faults: [Fault]
    }

    static let files: [URL] = {
        let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        return (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil))?
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent } ?? []
    }()

    @Test func thereIsOneForEveryMessage() {
        #expect(Self.files.count == 2 * MessageSchemas201.actions.count)
    }

    @Test(arguments: files)
    func theValidatorAgreesWithTheReference(_ file: URL) throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: file))
        let name = file.deletingPathExtension().lastPathComponent
        let direction: MessageSchemas201.Direction = name.hasSuffix("Request") ? .request : .response
        let action = String(name.dropLast(direction == .request ? "Request".count : "Response".count))
        #expect(MessageSchemas201.shared.check(action, direction, fixture.golden) == .fits, "\(name): the golden payload")
        #expect(!fixture.faults.isEmpty)
        for fault in fixture.faults {
            guard case .violates(let violation) = MessageSchemas201.shared.check(action, direction, fault.payload) else {
                Issue.record("\(name): the \(fault.kind) fault at \(fault.path) was taken as fitting")
                continue
            }
            #expect("\(violation.kind)" == fault.kind && violation.path == fault.path, "\(name): \(violation)")
        }
    }
}
