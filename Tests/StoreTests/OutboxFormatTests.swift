import Foundation
import MQTTBridge
import Testing

@testable import Store

@Suite struct OutboxFormatTests {
    @Test func linesReadBackAsTheEntriesWritten() {
        let awkward = ["", "plain", "a/\"b\"\\c", "line\nbreak\ttab\u{01}", "Zähler ⚡️ 𝄞", String(repeating: "x", count: 300)]
        let sequences: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, 1 << 53, UInt64.max]
        var entries: [OutboxEntry] = []
        for (index, sequence) in sequences.enumerated() {
            entries.append(OutboxEntry(sequence: sequence, topic: awkward[index % awkward.count],
                                       payload: awkward[(index + 1) % awkward.count], retain: index % 2 == 0))
        }
        let lines = OutboxLines.encode(entries)
        #expect(OutboxLines.decode(lines) == entries)
        // One line per entry, and the numbers as JSON writes them.
        #expect(lines.split(separator: UInt8(ascii: "\n")).count == entries.count)
        #expect(String(decoding: lines, as: UTF8.self).hasPrefix(#"{"s":0,"t":"","p":"plain","r":true}"#))
        #expect(String(decoding: lines, as: UTF8.self).contains(#"{"s":18446744073709551615,"#))
    }

    @Test func packedEntriesReadBackAsTheEntriesPacked() throws {
        let awkward = ["", "plain", "a/\"b\"\\c", "line\nbreak\ttab\u{01}\u{0}", "Zähler ⚡️ 𝄞", String(repeating: "x", count: 300)]
        // Sequences rising, jumping, falling (never in a row, but the format does not rely on it) and at the ends.
        let sequences: [UInt64] = [0, 1, 9, 10, 200, 199, 12_345, 1 << 53, UInt64.max, 3]
        var entries: [OutboxEntry] = []
        for (index, sequence) in sequences.enumerated() {
            entries.append(OutboxEntry(sequence: sequence, topic: awkward[index % awkward.count],
                                       payload: awkward[(index + 1) % awkward.count], retain: index % 3 == 0))
        }
        #expect(OutboxPacking.unpack(OutboxPacking.pack(entries)) == entries)
        #expect(OutboxPacking.unpack([]) == [])

        // A MeterValues' readings on both topic layouts: every topic shares all but its parameter with the one two
        // before, and the packing is under a third of the JSON lines.
        var readings: [OutboxEntry] = []
        let parameters = ["energy_active_import_register", "power_active_import", "current_import_l1", "current_import_l2",
                          "current_import_l3", "voltage_l1", "voltage_l2", "voltage_l3", "session_energy"]
        for (index, parameter) in parameters.enumerated() {
            for topic in ["ocpp/CP-0001/connector/1/state/\(parameter)", "ocpp/CP-0001/state/\(parameter)"] {
                readings.append(OutboxEntry(sequence: 1_000_000 + UInt64(readings.count), topic: topic, payload: "\(1234.5 + Double(index))",
                                            retain: true))
            }
        }
        let packed = OutboxPacking.pack(readings)
        #expect(OutboxPacking.unpack(packed) == readings)
        #expect(packed.count * 3 < OutboxLines.encode(readings).count, "\(packed.count) \(OutboxLines.encode(readings).count)")

        // Damaged bytes never crash: cut anywhere, the bytes read as the entries before the cut or not at all.
        let whole = OutboxPacking.pack(entries)
        for cut in 0..<whole.count {
            if let read = OutboxPacking.unpack(whole[..<cut]) { #expect(Array(entries.prefix(read.count)) == read) }
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var noise = whole
            noise[Int.random(in: 0..<noise.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            _ = OutboxPacking.unpack(noise)
        }
    }

    @Test func aTornLineOfTheOldOutboxFileIsSkipped() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = LegacyFiles(directory: directory)
        var bytes = OutboxLines.encode([OutboxEntry(sequence: 1, topic: "a/\"b\"", payload: "line\nbreak", retain: true)])
        bytes += Array(#"{"s":2,"t":"#.utf8) + [UInt8(ascii: "\n")]  // torn by a crash
        bytes += OutboxLines.encode([OutboxEntry(sequence: 3, topic: "c", payload: "", retain: false)])
        try Data(bytes).write(to: files.outbox)
        #expect(files.loadOutbox().map(\.sequence) == [1, 3])
        #expect(files.loadOutbox().first?.payload == "line\nbreak")
    }
}
