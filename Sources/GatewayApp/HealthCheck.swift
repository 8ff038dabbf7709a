import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `ocpp-gateway healthcheck`: asks the local admin API for `/healthz` and exits 0 when it answers 200.
/// For container health checks, where the runtime image has no curl.
public enum HealthCheck {
    public static func run(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int32 {
        let port = UInt16(environment[Settings.adminPort.name].flatMap { UInt16($0) } ?? 8080)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 1 }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return 1 }
        let request = Array("GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return 1 }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 12 else { return 1 }
        let statusLine = String(decoding: buffer[0..<count], as: UTF8.self)
        return statusLine.hasPrefix("HTTP/1.0 200") || statusLine.hasPrefix("HTTP/1.1 200") ? 0 : 1
    }
}
