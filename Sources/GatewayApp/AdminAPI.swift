import CentralSystem
import Foundation
import MQTTBridge
import NIOCore
import NIOHTTP1
import NIOPosix
import OCPPServer
import Prometheus

/// The admin endpoints: `/healthz`, `/readyz`, `/metrics`, `/api/stations`.
struct AdminAPI: Sendable {
    let centralSystem: CentralSystem
    let server: OCPPServer
    let bridge: MQTTBridge
    let registry: PrometheusCollectorRegistry
    let dataDirectory: String
    let readyRequiresMQTT: Bool

    func respond(_ request: HTTPRequestHead) async -> AdminResponse {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        switch path {
        case "/healthz":
            return await eventLoopsAnswer() ? .text("ok\n") : .text("event loops do not answer\n", status: .serviceUnavailable)
        case "/readyz":
            return readiness()
        case "/metrics":
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return AdminResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                 body: String(decoding: buffer, as: UTF8.self))
        case "/api/stations":
            return .json(bridge.stationsDocument())
        default:
            return .text("not found; try /healthz, /readyz, /metrics or /api/stations\n", status: .notFound)
        }
    }

    /// Alive unless an event loop does not run a trivial task within two seconds.
    private func eventLoopsAnswer() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                group.addTask {
                    await withTaskGroup(of: Bool.self) { race in
                        race.addTask { (try? await loop.submit {}.get()) != nil }
                        race.addTask {
                            try? await Task.sleep(for: .seconds(2))
                            return false
                        }
                        let first = await race.next() ?? false
                        race.cancelAll()
                        return first
                    }
                }
            }
            return await group.allSatisfy { $0 }
        }
    }

    private func readiness() -> AdminResponse {
        // The listener stops listening as soon as the gateway begins to stop, so a stopping gateway is not ready.
        let listener = server.isListening
        let store = FileManager.default.isWritableFile(atPath: dataDirectory)
        let mqtt = bridge.isMQTTConnected
        let ready = listener && store && (mqtt || !readyRequiresMQTT)
        let body = JSONValue.object([
            "ready": .bool(ready),
            "checks": .object([
                "ocpp_listener": .bool(listener), "store": .bool(store), "mqtt": .bool(mqtt),
                "mqtt_required": .bool(readyRequiresMQTT),
            ]),
        ]).text
        return .json(body + "\n", status: ready ? .ok : .serviceUnavailable)
    }
}
