import CentralSystem
import Foundation
import GatewayApp
import OCPP
import ServiceLifecycle
import Synchronization

// The gateway with a console for the interop tests:
// stdin lines  {"id":"1","station":"CP1","action":"Reset","payload":{"type":"Soft"}}
// stdout lines {"id":"1","ok":true,"payload":{...}} or {"id":"1","ok":false,"kind":"timeout","message":"...","code":"..."}
//              {"event":"connected"|"disconnected"|"message"|"charging_enabled","station":"...",...}
// A line {"id":"2","station":"CP1","charging_enabled":false} flips the charging switch.

/// Writes one JSON object per line to stdout, whole lines only.
final class LineWriter: Sendable {
    private let lock = Mutex(())
    func write(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        lock.withLock { _ in
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

struct Console: Service {
    let centralSystem: CentralSystem
    let output = LineWriter()
    /// Subscribed when the console is made, before the services start: a charger that connects and is closed
    /// before this service runs must still have its events printed.
    let events: AsyncStream<CentralSystemEvent>

    init(centralSystem: CentralSystem) {
        self.centralSystem = centralSystem
        events = centralSystem.events()
    }

    func run() async throws {
        let lines = AsyncStream<String> { continuation in
            let thread = Thread {
                while let line = readLine() { continuation.yield(line) }
                continuation.finish()
            }
            thread.start()
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await event in events { output.write(describe(event)) }
                }
                group.addTask {
                    await withDiscardingTaskGroup { commands in
                        for await line in lines {
                            commands.addTask { await execute(line) }
                        }
                    }
                }
                try? await gracefulShutdown()
                group.cancelAll()
            }
        } onGracefulShutdown: {}
    }

    private func execute(_ line: String) async {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let id = object["id"] as? String, let station = object["station"] as? String
        else {
            output.write(["ok": false, "kind": "bad_line", "message": line])
            return
        }
        if let enabled = object["charging_enabled"] as? Bool {
            do {
                try centralSystem.setChargingEnabled(enabled, station: station)
                output.write(["id": id, "ok": true])
            } catch {
                output.write(["id": id, "ok": false, "kind": "store", "message": "\(error)"])
            }
            return
        }
        let action = object["action"] as? String ?? ""
        let payloadData = (try? JSONSerialization.data(withJSONObject: object["payload"] ?? [:])) ?? Data("{}".utf8)
        let result = await centralSystem.sendRaw(action: action, payload: RawJSON(validatedBytes: payloadData), to: station)
        switch result {
        case .success(let payload):
            output.write(["id": id, "ok": true, "payload": (try? JSONSerialization.jsonObject(with: payload.bytes)) ?? [:]])
        case .failure(let error):
            output.write(["id": id, "ok": false, "kind": error.kind.rawValue, "message": error.message,
                          "code": error.callError?.code.rawValue ?? ""])
        }
    }

    private func describe(_ event: CentralSystemEvent) -> [String: Any] {
        switch event {
        case .connected(let station, let info):
            return ["event": "connected", "station": station, "subprotocol": info.subprotocol ?? ""]
        case .disconnected(let station, let reason):
            return ["event": "disconnected", "station": station, "reason": "\(reason)"]
        case .chargingEnabledChanged(let station, let enabled):
            return ["event": "charging_enabled", "station": station, "enabled": enabled]
        case .upstream(let station, let status):
            return ["event": "upstream", "station": station, "state": status.state.rawValue, "error": status.lastError ?? ""]
        case .upstreamDetail(let station, let detail):
            return ["event": "upstream_detail", "station": station, "detail": "\(detail)"]
        case .message(let station, let message):
            var out: [String: Any] = ["event": "message", "station": station, "action": message.actionName]
            if case .meterValues(_, let samples) = message {
                out["samples"] = samples.map { sample -> [String: Any] in
                    ["measurand": sample.measurand.rawValue, "phase": sample.phase?.rawValue ?? "",
                     "unit": sample.unit?.rawValue ?? "", "value": sample.value ?? NSNull()]
                }
            }
            if case .stopTransaction(let request, _, let transaction, _) = message {
                out["transaction_id"] = request.transactionId
                out["known"] = transaction != nil
            }
            return out
        }
    }
}

exit(await Gateway.run(additionalServices: { [Console(centralSystem: $0)] }))
