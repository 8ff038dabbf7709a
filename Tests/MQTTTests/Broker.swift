import Foundation
import Logging
import NIOCore
import NIOPosix

/// A real mosquitto on a free loopback port, started for a test and stopped at its end.
final class Broker: @unchecked Sendable {
    // @unchecked: `pid` changes only in start/stop, which one test calls in sequence.
    let port: Int
    let directory: URL
    private var pid: pid_t?

    /// Lines added to mosquitto's configuration.
    let extra: String

    init(extra: String = "") throws {
        self.extra = extra
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-broker-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts mosquitto (again, on the same port) and returns once it accepts connections (at most ten seconds).
    func start() throws {
        let configuration = directory.appendingPathComponent("mosquitto.conf")
        var text = "listener \(port) 127.0.0.1\npersistence false\nlog_dest none\nmax_queued_messages 0\n"
        text += extra.isEmpty ? "allow_anonymous true\n" : extra
        if geteuid() == 0 { text += "user root\n" }
        try text.write(to: configuration, atomically: true, encoding: .utf8)
        // posix_spawn and waitpid rather than Foundation's Process, whose exit monitoring needs a run loop.
        let words: [String] = ["/usr/sbin/mosquitto", "-c", configuration.path]
        let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, "/usr/sbin/mosquitto", nil, nil, arguments + [nil], environ)
        guard code == 0 else { throw BrokerError("cannot start mosquitto: \(String(cString: strerror(code)))") }
        self.pid = pid
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                self.pid = nil
                throw BrokerError("mosquitto exited with status \(status)")
            }
            if Self.accepts(port: port) { return }
            usleep(20_000)
        }
        throw BrokerError("mosquitto did not start within 10 s")
    }

    /// Stops mosquitto (a frozen one too) and waits for its end. SIGKILL: it may have inherited an ignored SIGTERM
    /// from the test process, and it keeps nothing on disk.
    func stop() {
        guard let pid else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        self.pid = nil
    }

    /// Stops answering without closing anything (SIGSTOP), until `resume`.
    func freeze() { if let pid { kill(pid, SIGSTOP) } }
    func resume() { if let pid { kill(pid, SIGCONT) } }

    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        guard let port = channel.localAddress?.port else { throw BrokerError("no free port") }
        return port
    }

    private static func accepts(port: Int) -> Bool {
        guard let channel = try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(500)).connect(host: "127.0.0.1", port: port).wait()
        else { return false }
        try? channel.close().wait()
        return true
    }
}

struct BrokerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
