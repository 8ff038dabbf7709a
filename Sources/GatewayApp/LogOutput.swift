import Foundation
import Logging
import OCPP
import Synchronization

/// Where log lines go: standard error, and a size-rotated file when `LOG_FILE` is set.
public final class LogOutput: Sendable {
    public enum Format: String, Sendable {
        /// `2026-11-21T13:51:30.123Z info  Station connected ocpp.station_id=CP1 [CentralSystem]`
        case text
        /// One JSON object per line: `{"time", "level", "message", "source", "metadata"}`.
        case json
    }

    let format: Format
    private let toStandardError: Bool
    private let file: Mutex<RotatingFile?>

    init(format: Format, file: consuming RotatingFile?, toStandardError: Bool = true) {
        self.format = format
        self.toStandardError = toStandardError
        self.file = Mutex(file)
    }

    func write(_ line: String) {
        let data = Data((line + "\n").utf8)
        file.withLock { file in
            if toStandardError { FileHandle.standardError.write(data) }
            file?.write(data)
        }
    }
}

/// A log file that is renamed to `.1` (and older ones to `.2`, …) when it would pass `maxSize` bytes,
/// keeping `backups` old files, as Python's RotatingFileHandler (and so ocpp2mqtt) does.
struct RotatingFile: ~Copyable {
    let path: String
    let maxSize: Int
    let backups: Int
    private var handle: FileHandle
    private var size: Int

    init(path: String, maxSize: Int, backups: Int) throws {
        self.path = path
        self.maxSize = maxSize
        self.backups = backups
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        (handle, size) = try Self.open(path)
    }

    private static func open(_ path: String) throws -> (FileHandle, Int) {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let size = Int(try handle.seekToEnd())
        return (handle, size)
    }

    mutating func write(_ data: Data) {
        if size > 0, size + data.count > maxSize { rotate() }
        handle.write(data)
        size += data.count
    }

    private mutating func rotate() {
        try? handle.close()
        let manager = FileManager.default
        if backups > 0 {
            try? manager.removeItem(atPath: "\(path).\(backups)")
            for index in stride(from: backups - 1, through: 1, by: -1) where manager.fileExists(atPath: "\(path).\(index)") {
                try? manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
            }
            try? manager.moveItem(atPath: path, toPath: "\(path).1")
        } else {
            try? manager.removeItem(atPath: path)
        }
        if let (handle, size) = try? Self.open(path) {
            self.handle = handle
            self.size = size
        }
    }
}

/// The gateway's log handler: text or JSON lines with structured metadata.
struct GatewayLogHandler: LogHandler {
    let output: LogOutput
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let time = Self.timestamp()
        switch output.format {
        case .text:
            let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            // Padded to the longest level but one ("critical" gets a space of its own, not glued to the message).
            let name = event.level.rawValue
            let level = name.count < 8 ? name.padding(toLength: 8, withPad: " ", startingAt: 0) : name + " "
            output.write("\(time) \(level)\(event.message)\(fields.isEmpty ? "" : " " + fields) [\(event.source)]")
        case .json:
            var line = #"{"time":"\#(time)","level":"\#(event.level.rawValue)","message":"#
            line += Self.quoted("\(event.message)") + #","source":"# + Self.quoted(event.source) + #","metadata":"#
            line += Self.json(.dictionary(merged)) + "}"
            output.write(line)
        }
    }

    private static func timestamp() -> String {
        let now = Date()
        let millis = Int((now.timeIntervalSince1970 * 1000).truncatingRemainder(dividingBy: 1000))
        let base = OCPPDateTime.format(now)
        return String(base.dropLast()) + "." + String(format: "%03d", millis) + "Z"
    }

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return quoted(text)
        case .stringConvertible(let convertible): return quoted(convertible.description)
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { quoted($0) + ":" + json(entries[$0]!) }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ text: String) -> String {
        JSONString.quoted(text)
    }
}
