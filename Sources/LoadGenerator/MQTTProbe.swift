import Foundation
import Logging
import MQTT
import Synchronization

/// The load generator's MQTT side: subscribes to the simulated stations' energy and command-result topics,
/// matches what arrives to what the chargers sent, and publishes commands.
final class MQTTProbe: Sendable {
    private let base: String
    private let prefix: String
    private let run: RunState
    private let connectedFlag = Atomic<Bool>(false)
    /// request_id -> (arrival, status) of command results.
    private let results = Mutex<[String: (at: UInt64, status: String)]>([:])
    private let client = Mutex<MQTTClient?>(nil)

    init(base: String, prefix: String, run: RunState) {
        self.base = base
        self.prefix = prefix
        self.run = run
    }

    /// Runs the MQTT client until the task is cancelled.
    func run(host: String, port: Int) async throws {
        var logger = Logger(label: "ocpp-loadgen.mqtt")
        logger.logLevel = .error
        let configuration = MQTTClientConfiguration(
            host: host, port: port, clientID: "ocpp-loadgen-\(getpid())", keepAlive: 60
        )
        let client = try MQTTClient(configuration: configuration, logger: logger) { [weak self] event in
            self?.handle(event)
        }
        client.subscribe(["\(base)/+/state/energy_active_import_register", "\(base)/+/cmd_result"], qos: 1)
        self.client.withLock { $0 = client }
        try await client.run()
    }

    var isConnected: Bool { connectedFlag.load(ordering: .acquiring) }

    func publish(topic: String, payload: String) -> Bool {
        guard let client = client.withLock({ $0 }) else { return false }
        return client.publish(topic: topic, payload: Array(payload.utf8), qos: 1, retain: false) != nil
    }

    func result(for requestID: String) -> (at: UInt64, status: String)? {
        results.withLock { $0[requestID] }
    }

    private func handle(_ event: MQTTClientEvent) {
        switch event {
        case .connected:
            connectedFlag.store(true, ordering: .releasing)
        case .disconnected:
            connectedFlag.store(false, ordering: .releasing)
        case .message(let topic, let payload, let retained):
            guard !retained else { return }  // left from an earlier run
            let now = monotonicNanoseconds()
            if topic.hasSuffix("/energy_active_import_register") {
                guard let index = chargerIndex(topic), let energy = Double(String(decoding: payload, as: UTF8.self)) else { return }
                run.observe(charger: index, energy: Int64(energy), at: now)
            } else if topic.hasSuffix("/cmd_result") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
                      let requestID = object["request_id"] as? String else { return }
                // {"status":"ok","response":{"status":"Accepted"}} or {"status":"error","error":{...}}
                let response = object["response"] as? [String: Any]
                let status = response?["status"] as? String ?? object["status"] as? String ?? "?"
                results.withLock { $0[requestID] = (now, status) }
            }
        case .published:
            break
        }
    }

    /// `<base>/<prefix><index>/state/...` -> index.
    private func chargerIndex(_ topic: String) -> Int? {
        let parts = topic.dropFirst(base.count + 1).split(separator: "/", maxSplits: 1)
        guard let station = parts.first, station.hasPrefix(prefix) else { return nil }
        return Int(station.dropFirst(prefix.count))
    }
}
