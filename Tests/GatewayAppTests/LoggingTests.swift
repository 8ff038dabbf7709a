import Foundation
import Logging
import Testing

@testable import GatewayApp

@Suite struct LoggingTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func theFileIsRotatedBySizeKeepingTheBackupCount() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("gw.log").path
        var file = try RotatingFile(path: path, maxSize: 100, backups: 2)
        for index in 0..<20 {
            file.write(Data(String(format: "line %02d %@\n", index, String(repeating: "x", count: 30)).utf8))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["gw.log", "gw.log.1", "gw.log.2"])
        for name in names {
            let size = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size] as! Int
            #expect(size <= 100)
        }
        let newest = try String(contentsOfFile: path, encoding: .utf8)
        #expect(newest.hasSuffix("line 19 \(String(repeating: "x", count: 30))\n"))
    }

    @Test func jsonLinesCarryTimeLevelMessageAndMetadata() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("json.log").path
        let output = LogOutput(format: .json, file: try RotatingFile(path: path, maxSize: 1 << 20, backups: 1), toStandardError: false)
        var logger = Logger(label: "test") { _ in GatewayLogHandler(output: output, logLevel: .info) }
        logger[metadataKey: "ocpp.station_id"] = "CP \"1\""
        logger.info("Station connected\nreally", metadata: ["ocpp.subprotocol": "ocpp1.6"])
        logger.debug("not at info")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["message"] as? String == "Station connected\nreally")
        #expect((object["time"] as? String)?.hasSuffix("Z") == true)
        #expect(object["metadata"] as? [String: String] == ["ocpp.station_id": "CP \"1\"", "ocpp.subprotocol": "ocpp1.6"])
    }

    @Test func textLinesPutTheMessageFirst() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("text.log").path
        let output = LogOutput(format: .text, file: try RotatingFile(path: path, maxSize: 1 << 20, backups: 1), toStandardError: false)
        let logger = Logger(label: "test") { _ in GatewayLogHandler(output: output, logLevel: .info) }
        logger.warning("Malformed frame", metadata: ["ocpp.error_code": "FormationViolation"])
        logger.critical("Gateway stopped")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines[0].contains(" warning Malformed frame ocpp.error_code=FormationViolation ["))
        // The longest level is not glued to the message.
        #expect(lines[1].contains(" critical Gateway stopped ["))
    }
}

@Suite struct EnvExampleTests {
    /// `.env.example` as generated from the settings table: every setting, commented out at its default.
    static func expected() -> String {
        var out = """
            # ocpp-gateway settings with their defaults. Copy to .env and uncomment what you change.
            # Every variable is described in docs/configuration.md. The process environment wins over this file.

            """
        for setting in Settings.all where setting != Settings.envFile {
            out += "\n# \(setting.help)\n#\(setting.name)=\(setting.defaultValue)\n"
        }
        return out
    }

    @Test func listsEverySettingWithItsDefault() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent(".env.example")
        let expected = Self.expected()
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil {
            try expected.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == expected, "regenerate with UPDATE_GOLDEN=1 swift test --filter EnvExample")
        // And it parses as an env file.
        #expect(try EnvFile.parse(expected).isEmpty)
    }
}
