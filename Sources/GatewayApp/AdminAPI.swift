import CentralSystem
import Foundation
import MQTTBridge
import NIOCore
import NIOHTTP1
import NIOPosix
import OCPP
import OCPPServer
import Prometheus

/// The admin endpoints: `/healthz`, `/readyz`, `/metrics`, the web console (`/`, `/login`, `/api/events`) and the
/// REST API (`/api/status`, `/api/stations`, `/api/transactions`, commands, controls and the override).
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
    /// What `/api/status` says of the gateway: its version, mode and broker.
    var about: About = About()
    /// Refused requests and failed logins, a line a minute per kind at most.
    var refusals: ThrottledLog?

    struct About: Sendable {
        var version = ""
        var broker = ""
        var startedAt = Date()
    }

    func respond(_ request: AdminRequest) async -> AdminResponse {
        let response = await answer(request)
        if response.status.code >= 400, response.status != .notFound || request.method == .POST {
            // Not the path itself: it may carry what a scanner sent.
            refusals?.warning("\(response.status.code)", "Admin request refused", metadata: [
                "admin.method": "\(request.method)", "admin.status": "\(response.status.code)",
                "admin.peer": "\(request.peer ?? "unknown")",
            ])
        }
        return response
    }

    private func answer(_ request: AdminRequest) async -> AdminResponse {
        let path = request.path
        let verdict = access.verdict(path: path, headers: request.head.headers, peer: request.peer)
        // A browser without a session: to the login form rather than a bare 401.
        if verdict == .unauthorized, path == "/" || path == "/index.html" { return .redirect("login") }
        if let refusal = AdminAccess.refusal(verdict) { return refusal }
        // Logging out from another site harms nothing: the console's plain form may do it without the header.
        if request.method == .POST, verdict == .allowed(.session), path != "/logout", request.head.headers[AdminAccess.csrfHeader].isEmpty {
            return .text("a POST from the console must carry the \(AdminAccess.csrfHeader) header\n", status: .forbidden)
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            String($0).removingPercentEncoding ?? String($0)
        }
        switch (request.method, segments.first ?? "") {
        case (.POST, "login"):
            return logIn(request)
        case (.POST, "logout"):
            access.logOut(request.head.headers)
            return .redirect("login", headers: [("Set-Cookie", Self.sessionCookie("", maxAge: 0))])
        case (.POST, "api") where segments.count >= 4 && segments[1] == "stations":
            return await stationRequest(station: segments[2], segments.dropFirst(3).map { $0 }, body: request.body)
        case (.GET, _), (.HEAD, _):
            break
        default:
            var refusal = AdminResponse.text("\(request.method) is not served here\n", status: .methodNotAllowed)
            refusal.headers = [("Allow", path.hasPrefix("/api/stations/") ? "POST" : path == "/login" ? "GET, HEAD, POST" : "GET, HEAD")]
            return refusal
        }
        switch path {
        case "/", "/index.html":
            return ConsolePage.page(showLogOut: verdict == .allowed(.session))
        case "/login":
            return ConsolePage.login(tokenSet: access.token != nil, failed: false)
        case "/console.css":
            return AdminResponse(status: .ok, contentType: "text/css; charset=utf-8", body: ConsolePage.css,
                                 headers: [("Cache-Control", "no-cache")])
        case "/console.js":
            return AdminResponse(status: .ok, contentType: "text/javascript; charset=utf-8", body: ConsolePage.script,
                                 headers: [("Cache-Control", "no-cache")])
        case "/healthz":
            return await eventLoopsAnswer() ? .text("ok\n") : .text("event loops do not answer\n", status: .serviceUnavailable)
        case "/readyz":
            return readiness()
        case "/metrics":
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return AdminResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                 body: String(decoding: buffer, as: UTF8.self))
        case "/api/status":
            return .json(status().text + "\n")
        case "/api/events":
            return events(head: request.method == .HEAD)
        case "/api/stations":
            return .json(bridge.stationsDocument())
        case "/api/transactions", "/api/transactions.csv":
            return transactions(query: Self.query(request.head.uri), csv: path.hasSuffix(".csv"))
        default:
            return .text("""
                not found; try /, /healthz, /readyz, /metrics, /api/status, /api/events, /api/stations, /api/transactions \
                or /api/transactions.csv

                """, status: .notFound)
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
                let fields: [String] = [t.displayID, t.station, connector, t.idTag ?? "", date(t.startedAt), date(t.stoppedAt), start,
                                        String(t.meterStop), energy, t.stopReason, t.provider ?? "", money]
                out += fields.map(Self.csvField).joined(separator: ",") + "\n"
            }
            return AdminResponse(status: .ok, contentType: "text/csv; charset=utf-8", body: out)
        }
        let items: [JSONValue] = history.map { t in
            func optional(_ value: Int?) -> JSONValue { value.map { .int($0) } ?? .null }
            return .object([
                // OCPP 2.0.1's ids are the charger's strings.
                "transaction_id": t.chargerTransactionId.map { .string($0) } ?? .int(t.id), "station": .string(t.station), "connector_id": optional(t.connectorId),
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
