import CentralSystem
import Foundation
import MQTTBridge
import NIOHTTP1
import OCPP
import ServiceLifecycle

/// The console's side of the admin API: the login form, the live event stream, `/api/status`, and the POSTs that
/// command a station (through the bridge, as from MQTT).
extension AdminAPI {
    /// `POST /login` with the form's `token`: a session cookie and back to the console, or the form again with 401.
    func logIn(_ request: AdminRequest) -> AdminResponse {
        let form = Self.query("?" + String(decoding: request.body, as: UTF8.self))
        guard access.token != nil else { return .redirect("./") }
        guard let session = access.logIn(with: form["token"] ?? "") else {
            var page = ConsolePage.login(tokenSet: true, failed: true)
            page.status = .unauthorized
            return page
        }
        return .redirect("./", headers: [("Set-Cookie", Self.sessionCookie(session, maxAge: Int(AdminAccess.sessionLifetime)))])
    }

    /// The session cookie: not readable by scripts, sent only to this site, on every path (the console may sit behind
    /// a proxy's prefix).
    static func sessionCookie(_ value: String, maxAge: Int) -> String {
        "\(AdminAccess.cookieName)=\(value); Max-Age=\(maxAge); Path=/; HttpOnly; SameSite=Strict"
    }

    /// `POST /api/stations/{id}/commands` (`<S>/cmd`'s JSON), `.../controls/{name}` (`<S>/set/<name>`'s value) and
    /// `.../override` (`ON` or `OFF`).
    func stationRequest(station: String, _ rest: [String], body: [UInt8]) async -> AdminResponse {
        guard !station.isEmpty, bridge.knows(station) else {
            return .text("no station '\(station)' is known: it has not connected, and EXPECTED_CHARGE_POINTS does not list it\n",
                         status: .notFound)
        }
        switch rest.first {
        case "commands" where rest.count == 1:
            return Self.answer(await bridge.run(.command(body), station: station))
        case "controls" where rest.count == 2:
            let value = Array(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            return Self.answer(await bridge.run(.control(name: rest[1], value: value), station: station))
        case "override" where rest.count == 1:
            switch bridge.setOverride(body, station: station) {
            case .set(let on):
                return .json(JSONValue.object(["station": .string(station), "override": .string(on ? "ON" : "OFF")]).text + "\n")
            case .invalid:
                return .text(#"the override takes ON or OFF (or {"override": true})"# + "\n", status: .badRequest)
            case .notRelayMode:
                return .text("the owner's override exists in relay mode only (RELAY_URL)\n", status: .conflict)
            }
        default:
            return .text("try POST /api/stations/{id}/commands, /api/stations/{id}/controls/{name} or /api/stations/{id}/override\n",
                         status: .notFound)
        }
    }

    /// A command's result document, with the HTTP status its outcome calls for.
    static func answer(_ reply: CommandReply) -> AdminResponse {
        .json(reply.document + "\n", status: status(of: reply.code))
    }

    /// 200 for success; 400 for a command that is not one; 404, 409, 429, 503, 504 or 502 for what kept it from
    /// the charger or came back from it.
    static func status(of code: CommandResultCode?) -> HTTPResponseStatus {
        switch code {
        case nil: .ok
        case .invalidCommand?, .invalidArguments?: .badRequest
        case .unknownAction?: .notFound
        case .noTransaction?: .conflict
        case .queueFull?: .tooManyRequests
        case .stationOffline?, .gatewayStopping?: .serviceUnavailable
        case .timeout?: .gatewayTimeout
        case .connectionLost?, .invalidResponse?, .callError?: .badGateway
        case .internalError?: .internalServerError
        }
    }

    /// `/api/status`: the gateway, the broker, the stations, and in relay mode each station's backends.
    func status() -> JSONValue {
        let connected = centralSystem.connectedStations.count
        var backends: [JSONValue] = []
        if bridge.relayMode {
            for (station, paths) in bridge.stateSnapshot().sorted(by: { $0.key < $1.key }) {
                guard let state = paths["relay/state"] else { continue }
                var entry: [String: JSONValue] = ["station": .string(station), "state": .string(state)]
                for (key, path) in [("queue", "relay/queue"), ("last_error", "relay/last_error"), ("control", "relay/control"),
                                    ("override", "relay/override")] {
                    if let value = paths[path], !value.isEmpty { entry[key] = Int(value).map { .int($0) } ?? .string(value) }
                }
                if let text = paths["relay/secondaries"], let secondaries = JSONValue.parse(Array(text.utf8)) {
                    entry["secondaries"] = secondaries
                }
                backends.append(.object(entry))
            }
        }
        return .object([
            "version": .string(about.version),
            "mode": .string(bridge.relayMode ? "relay" : "standalone"),
            "started_at": .string(OCPPDateTime.format(about.startedAt)),
            "mqtt": .object(["connected": .bool(bridge.isMQTTConnected), "broker": .string(about.broker),
                             "outbox": .int(bridge.outboxDepth)]),
            "stations": .object(["connected": .int(connected), "known": .int(bridge.knownStations)]),
            "backends": .array(backends),
        ])
    }

    /// `/api/events`: server-sent events. The first `state` event holds every station's retained topics (`"reset":
    /// true`), each later one what changed in the last second, and each one the gateway's MQTT connection and outbox.
    /// A comment every 15 s keeps proxies from closing the stream and tells a client that left.
    func events(head: Bool) -> AdminResponse {
        let full = "too many consoles are watching (\(StateFeed.maxWatchers)); close one"
        guard bridge.stateWatchers < StateFeed.maxWatchers else { return .text(full + "\n", status: .serviceUnavailable) }
        var response = AdminResponse(status: .ok, contentType: "text/event-stream", body: "",
                                     headers: [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
        guard !head else { return response }
        let bridge = bridge
        // Watching starts in the stream, which the server always ends: a client gone before it starts leaves nothing.
        response.stream = { write in
            guard let watcher = bridge.watchState() else {
                try await write("event: error\ndata: \(full)\n\n")
                return
            }
            defer { bridge.stopWatchingState(watcher) }
            try await write("retry: 2000\n\n")
            var first = true
            var quiet = 0
            var lastGateway: JSONValue?
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                let (changes, reset) = bridge.takeStateChanges(watcher)
                let gateway = JSONValue.object(["mqtt_connected": .bool(bridge.isMQTTConnected), "outbox": .int(bridge.outboxDepth)])
                if first || reset || !changes.isEmpty || gateway != lastGateway {
                    var event: [String: JSONValue] = ["gateway": gateway, "at": .string(OCPPDateTime.format(Date()))]
                    if first || reset { event["reset"] = .bool(true) }
                    event["stations"] = .object(changes.mapValues { .object($0.mapValues { .string($0) }) })
                    try await write("event: state\ndata: \(JSONValue.object(event).text)\n\n")
                    first = false
                    quiet = 0
                    lastGateway = gateway
                } else {
                    quiet += 1
                    if quiet >= 15 {
                        try await write(": still here\n\n")
                        quiet = 0
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
        return response
    }
}
