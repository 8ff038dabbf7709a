import Foundation

/// CPU time and resident memory of a process, read from /proc (Linux).
public struct ProcessSample: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in KiB.
    public var residentKiB: Int
}

public enum ProcessSampler {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; nil when the process does not exist.
    public static func sample(pid: Int32) -> ProcessSample? {
        sample(stat: "/proc/\(pid)/stat", status: "/proc/\(pid)/status")
    }

    /// This process.
    public static func sampleSelf() -> ProcessSample? {
        sample(stat: "/proc/self/stat", status: "/proc/self/status")
    }

    private static func sample(stat: String, status: String) -> ProcessSample? {
        guard let statText = try? String(contentsOfFile: stat, encoding: .utf8),
              let statusText = try? String(contentsOfFile: status, encoding: .utf8),
              let cpu = cpuSeconds(stat: statText), let rss = residentKiB(status: statusText)
        else { return nil }
        return ProcessSample(cpuSeconds: cpu, residentKiB: rss)
    }

    /// utime + stime (fields 14 and 15; counted after the command name, which may hold spaces).
    static func cpuSeconds(stat: String) -> Double? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    static func residentKiB(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}
