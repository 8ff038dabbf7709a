import CentralSystem
import Foundation
import MQTTBridge
import NIOCore
import NIOHTTP1
import NIOPosix
import OCPP
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
    /// The loops `/healthz` checks.
    let eventLoops: any EventLoopGroup
    /// Who may use what.
    let access: AdminAccess
    /// The price of a kWh by provider (`PROVIDER_PRICES`).
    var prices: [String: Double] = [:]

    func respond(_ request: HTTPRequestHead) async -> AdminResponse {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        if let refusal = AdminAccess.refusal(access.verdict(path: path, headers: request.headers)) { return refusal }
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
        case "/api/transactions", "/api/transactions.csv":
            return transactions(query: Self.query(request.uri), csv: path.hasSuffix(".csv"))
        default:
            return .text("not found; try /healthz, /readyz, /metrics, /api/stations, /api/transactions or /api/transactions.csv\n", status: .notFound)
        }
    }

    /// `?station=CP1&since=2026-11-01T00:00:00Z`, percent-decoded.
    static func query(_ uri: String) -> [String: String] {
        guard let mark = uri.firstIndex(of: "?") else { return [:] }
        var out: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let key = parts.first?.removingPercentEncoding else { continue }
            out[key] = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
        }
        return out
    }

    private func transactions(query: [String: String], csv: Bool) -> AdminResponse {
        var since: Date?
        if let text = query["since"], !text.isEmpty {
            guard let date = OCPPDateTime.parse(text) else {
                return .text("since must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z\n", status: .badRequest)
            }
            since = date
        }
        let station = query["station"].flatMap { $0.isEmpty ? nil : $0 }
        let history: [CompletedTransaction]
        do {
            history = try centralSystem.history(station: station, since: since)
        } catch {
            return .text("cannot read the transaction history: \(error)\n", status: .internalServerError)
        }
        func date(_ value: Date?) -> String { value.map(OCPPDateTime.format) ?? "" }
        if csv {
            var out = "transaction_id,station,connector_id,id_tag,started_at,stopped_at,meter_start_wh,meter_stop_wh,energy_wh,stop_reason,provider,amount\n"
            for t in history {
                let connector: String = t.connectorId.map(String.init) ?? ""
                let start: String = t.meterStart.map(String.init) ?? ""
                let energy: String = t.energy.map(String.init) ?? ""
                let money: String = amount(t).map { String($0) } ?? ""
                let fields: [String] = [String(t.id), t.station, connector, t.idTag ?? "", date(t.startedAt), date(t.stoppedAt), start,
                                        String(t.meterStop), energy, t.stopReason, t.provider ?? "", money]
                out += fields.map(Self.csvField).joined(separator: ",") + "\n"
            }
            return AdminResponse(status: .ok, contentType: "text/csv; charset=utf-8", body: out)
        }
        let items: [JSONValue] = history.map { t in
            func optional(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }
            return .object([
                "transaction_id": .int(t.id), "station": .string(t.station), "connector_id": optional(t.connectorId),
                "id_tag": t.idTag.map { .string($0) } ?? .null, "started_at": t.startedAt.map { .string(OCPPDateTime.format($0)) } ?? .null,
                "stopped_at": .string(date(t.stoppedAt)), "meter_start_wh": optional(t.meterStart), "meter_stop_wh": .int(t.meterStop),
                "energy_wh": optional(t.energy), "stop_reason": .string(t.stopReason),
                "provider": t.provider.map { .string($0) } ?? .null, "amount": amount(t).map { .double($0) } ?? .null,
            ])
        }
        return .json(JSONValue.array(items).text + "\n")
    }

    /// The transaction's energy at its provider's price, rounded to the cent; nil without both.
    private func amount(_ t: CompletedTransaction) -> Double? {
        guard let energy = t.energy, let provider = t.provider, let price = prices[provider] else { return nil }
        return (Double(energy) / 1000 * price * 100).rounded() / 100
    }

    /// RFC 4180: quoted when it holds a comma, a quote or a line break.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Alive unless an event loop does not run a trivial task within two seconds.
    private func eventLoopsAnswer() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            for loop in eventLoops.makeIterator() {
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
        // Not ready while the outbox cannot write (a full disk): transaction messages go unanswered meanwhile.
        let store = FileManager.default.isWritableFile(atPath: dataDirectory) && bridge.isOutboxWritable
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
