import Foundation
import Testing

@testable import GatewayApp

@Suite struct InstallationIdentityTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("identity-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func anInstallationMakesItsIdOnceAndKeepsIt() throws {
        let first = try directory(), second = try directory()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let id = InstallationIdentity.clientID(dataDirectory: first, hostName: "same-host")
        #expect(id.hasPrefix("ocppgw-") && id.utf8.count == 23 && InstallationIdentity.isValid(id))
        #expect(InstallationIdentity.clientID(dataDirectory: first, hostName: "same-host") == id)
        // Another installation on the same host (a test instance, a second container) has its own.
        #expect(InstallationIdentity.clientID(dataDirectory: second, hostName: "same-host") != id)
        // A damaged file is replaced, not used.
        try Data("not an id!\n".utf8).write(to: URL(fileURLWithPath: (first as NSString).appendingPathComponent(InstallationIdentity.fileName)))
        #expect(InstallationIdentity.clientID(dataDirectory: first, hostName: "same-host") != "not an id!")
    }

    @Test func withoutAWritableDirectoryTheIdIsDerivedAndStable() {
        let nowhere = "/nonexistent/\(UUID())"
        let id = InstallationIdentity.clientID(dataDirectory: nowhere, hostName: "h")
        #expect(id == InstallationIdentity.clientID(dataDirectory: nowhere, hostName: "h"))
        #expect(id != InstallationIdentity.clientID(dataDirectory: nowhere + "x", hostName: "h"))
        #expect(id.utf8.count == 23)
    }
}
