import CentralSystem
import Foundation
import Logging
import OCPP
import Testing
import TestSupport

@testable import MQTTBridge

/// `MQTTBridge.deliver` from several threads at once, as the event loops call it.
@Suite(.timeLimit(.minutes(1))) struct BridgeDeliverTests {
    let quiet = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A running bridge over an in-memory central system and a recording transport; the test finishes the stream and
    /// cancels the task.
    private func startBridge(discovery: DiscoveryConfiguration? = nil) throws
        -> (MQTTBridge, RecordingTransport, AsyncStream<MQTTTransportEvent>.Continuation, Task<Void, any Error>)
    {
        let central = try CentralSystem(configuration: .init(authorizedTags: []), store: InMemoryStateStore(), logger: quiet)
        let transport = RecordingTransport()
        let (events, connection) = AsyncStream<MQTTTransportEvent>.makeStream()
        let bridge = MQTTBridge(
            configuration: .init(topics: TopicLayout(basePath: "t", useStationName: true), discovery: discovery), centralSystem: central,
            outbox: MemoryOutbox(), commands: MemoryCommandStore(), transport: transport, transportEvents: events, logger: quiet)
        return (bridge, transport, connection, Task { try await bridge.run() })
    }

    @Test func eventsOfManyStationsFromTwoThreadsKeepEachStationsOrder() async throws {
        let (bridge, transport, connection, running) = try startBridge()
        defer {
            connection.finish()
            running.cancel()
        }
        connection.yield(.connected)
        #expect(await poll { transport.log.contains("t/bridge/state=online") })

        // Two tasks (on different threads of the pool), eight stations each, each station's switch toggled 200 times.
        let toggles = 200
        await withTaskGroup(of: Void.self) { group in
            for half in 0..<2 {
                group.addTask {
                    for n in 0..<toggles {
                        for station in 0..<8 {
                            bridge.deliver(.chargingEnabledChanged(station: "S\(half * 8 + station)", enabled: n % 2 == 0))
                        }
                    }
                }
            }
        }
        // Every station's values reached MQTT in the order they were delivered.
        for station in 0..<16 {
            let values = transport.log.compactMap { line -> String? in
                let prefix = "t/S\(station)/"
                guard line.hasPrefix(prefix), line.contains("charging_enabled=") else { return nil }
                return String(line[line.index(after: line.lastIndex(of: "=")!)...])
            }
            #expect(values == (0..<toggles).map { $0 % 2 == 0 ? "ON" : "OFF" }, "S\(station)")
        }
    }

    @Test func bridgeRequestsAreAnsweredWithStatusDataAndTheirTransaction() async throws {
        let (_, transport, connection, running) = try startBridge()
        defer {
            connection.finish()
            running.cancel()
        }
        connection.yield(.connected)
        func ask(_ name: String, _ payload: String, retained: Bool = false) {
            connection.yield(.message(topic: "t/bridge/request/\(name)", payload: Array(payload.utf8), retained: retained))
        }
        func response(_ name: String) async -> [String: JSONValue]? {
            guard await poll({ transport.log.contains { $0.hasPrefix("t/bridge/response/\(name)=") } }) else { return nil }
            let line = transport.log.last { $0.hasPrefix("t/bridge/response/\(name)=") }!
            let payload = line.dropFirst("t/bridge/response/\(name)=".count).dropLast()  // "!": not retained
            return JSONValue.parse(Array(payload.utf8))?.objectValue
        }
        ask("health_check", #"{"transaction": 7}"#)
        #expect(await response("health_check") == [
            "status": "ok", "transaction": 7, "data": ["healthy": true, "stations_connected": 0, "stations_known": 0],
        ])
        ask("republish_discovery", "")
        #expect(await response("republish_discovery") == ["status": "error", "error": "Home Assistant discovery is off (HA_DISCOVERY=false)", "data": [:]])
        ask("forget_station", "[1]")
        #expect(await response("forget_station") == ["status": "error", "error": "the request must be empty or a JSON object", "data": [:]])
        // A retained request is not answered (it would be answered again at every reconnect); an unknown one says so.
        ask("make_coffee", "", retained: true)
        ask("make_tea", "")
        #expect(await response("make_tea")?["error"] == "unknown request 'make_tea'; expected health_check, republish_discovery or forget_station")
        #expect(!transport.log.contains { $0.hasPrefix("t/bridge/response/make_coffee") })
    }

    /// Home Assistant coming online has every config published again at once, with nothing else going on: the
    /// configs go straight to MQTT (nothing waits before them), so no commit hands them over.
    @Test func discoveryIsRepublishedWhenHomeAssistantComesOnlineOnAQuietBridge() async throws {
        let (bridge, transport, connection, running) = try startBridge(discovery: DiscoveryConfiguration(prefix: "ha", statusTopic: "ha/status"))
        defer {
            connection.finish()
            running.cancel()
        }
        connection.yield(.connected)
        bridge.deliver(.connected(station: "CP1", info: ConnectionInfo(remoteAddress: "x", subprotocol: nil)))
        #expect(await poll { transport.log.contains { $0.hasPrefix("ha/sensor/t_CP1/energy/config=") } })
        // What Home Assistant's `online` on its status topic calls: the configs are on their way when it returns.
        transport.clear()
        #expect(bridge.events.republishDiscovery() == 21)
        #expect(transport.log.contains { $0.hasPrefix("ha/sensor/t_CP1/energy/config=") })
        // And through the status topic.
        transport.clear()
        connection.yield(.message(topic: "ha/status", payload: Array("online".utf8), retained: false))
        #expect(await poll { transport.log.contains { $0.hasPrefix("ha/sensor/t_CP1/energy/config=") } })
    }

    /// Polls `condition` until it holds or five seconds pass.
    private func poll(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}
