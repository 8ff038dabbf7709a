import Foundation

/// The MQTT client id of this installation when `MQTT_CLIENT_ID` is not set: `ocppgw-` and 16 random hex digits,
/// made at the first start and kept in `DATA_DIR/mqtt-client-id`. Two gateways on one host (or two containers with
/// the same host name) have different data directories, so they no longer knock each other off the broker; one
/// gateway keeps its id across restarts. 23 characters, MQTT 3.1.1's limit.
enum InstallationIdentity {
    static let fileName = "mqtt-client-id"

    /// The id kept in `dataDirectory`, made and kept if there is none. Where it cannot be kept (a read-only data
    /// directory), an id derived from the host name and the data directory's path, so it is still stable.
    static func clientID(dataDirectory: String, hostName: String = ProcessInfo.processInfo.hostName) -> String {
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let kept = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) })?
            .trimmingCharacters(in: .whitespacesAndNewlines), isValid(kept)
        {
            return kept
        }
        var random = SystemRandomNumberGenerator()
        let made = "ocppgw-" + hex(random.next())
        do {
            try Data((made + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            return made
        } catch {
            return "ocppgw-" + hex(fnv1a(hostName + "\u{0}" + (dataDirectory as NSString).standardizingPath))
        }
    }

    /// What a kept id may be: 1 to 23 characters of letters, digits, `-` and `_` (what every broker takes).
    static func isValid(_ id: String) -> Bool {
        (1...23).contains(id.utf8.count) && id.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}
