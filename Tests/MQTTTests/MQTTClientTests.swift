import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import MQTT

/// The client against a real mosquitto started for each test on a free loopback port.
@Suite(.timeLimit(.minutes(1))) struct MQTTClientTests {
    /// A client's events, and a wait (poll with deadline) for a condition on them.
    final class Recorder: Sendable {
        let events = Mutex<[MQTTClientEvent]>([])

        func record(_ event: MQTTClientEvent) { events.withLock { $0.append(event) } }

        var connections: Int { events.withLock { $0.count { if case .connected = $0 { true } else { false } } } }
        var acknowledged: Set<Int32> {
            events.withLock { events in
                var ids = Set<Int32>()
                for case .published(let batch) in events { ids.formUnion(batch) }
                return ids
            }
        }
        var messages: [(topic: String, payload: String, retained: Bool)] {
            events.withLock {
                $0.compactMap {
                    if case .message(let topic, let payload, let retained) = $0 { (topic, String(decoding: payload, as: UTF8.self), retained) } else { nil }
                }
            }
        }
        var disconnectReasons: [String] {
            events.withLock { $0.compactMap { if case .disconnected(let reason) = $0 { reason } else { nil } } }
        }

        /// Waits until `condition` holds; false when `seconds` passed first.
        func wait(seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < deadline {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return condition()
        }
    }

    private func client(
        _ broker: Broker, _ name: String, keepAlive: Int = 60, will: MQTTClientConfiguration.Will? = nil
    ) throws -> (MQTTClient, Recorder) {
        let recorder = Recorder()
        var logger = Logger(label: "mqtt-test")
        logger.logLevel = .critical
        let configuration = MQTTClientConfiguration(
            host: "127.0.0.1", port: broker.port, clientID: "\(name)-\(getpid())", keepAlive: keepAlive,
            connectTimeout: .seconds(2), reconnectBaseDelay: .milliseconds(100), reconnectMaxDelay: .milliseconds(400), will: will)
        let client = try MQTTClient(configuration: configuration, logger: logger) { recorder.record($0) }
        return (client, recorder)
    }

    private func running(_ client: MQTTClient) -> Task<Void, any Error> {
        Task { try await client.run() }
    }

    @Test func publishesReachASubscriberInOrderAndEveryOneIsAcknowledged() async throws {
        let broker = try Broker()
        let (publisher, published) = try client(broker, "pub")
        let (subscriber, received) = try client(broker, "sub")
        subscriber.subscribe(["t/#", "r/#"])
        let tasks = [running(publisher), running(subscriber)]
        defer { tasks.forEach { $0.cancel() } }
        #expect(await received.wait { received.connections == 1 })
        #expect(await published.wait { published.connections == 1 })
        // Subscribed: a retained message sent now comes back as not retained (it is live).
        #expect(publisher.publish(topic: "r/probe", payload: [], qos: 1, retain: false) != nil)
        #expect(await received.wait { received.messages.contains { $0.topic == "r/probe" } })

        // QoS 1 messages arrive in order. (mosquitto passes QoS 0 ones on at once and QoS 1 ones through its window,
        // so the two kinds are counted apart.)
        var ids: [Int32] = []
        for n in 0..<2_000 {
            let qos = n % 10 == 0 ? 0 : 1
            let topic = qos == 0 ? "t/0/\(n % 3)" : "t/1/\(n % 7)"
            ids.append(try #require(publisher.publish(topic: topic, payload: Array("\(n)".utf8), qos: qos, retain: false)))
        }
        #expect(Set(ids).count == ids.count)
        #expect(await received.wait { received.messages.filter { $0.topic.hasPrefix("t/") }.count == 2_000 })
        let arrived = received.messages.filter { $0.topic.hasPrefix("t/") }
        let inOrder = arrived.filter { $0.topic.hasPrefix("t/1/") }.map(\.payload).elementsEqual((0..<2_000).filter { $0 % 10 != 0 }.map { "\($0)" })
        #expect(inOrder)
        let qos0 = Set(arrived.filter { $0.topic.hasPrefix("t/0/") }.map(\.payload))
        #expect(qos0 == Set((0..<2_000).filter { $0 % 10 == 0 }.map { "\($0)" }))
        #expect(await published.wait { published.acknowledged.isSuperset(of: ids) })

        // A retained message reaches a later subscriber, marked as retained.
        let retainedID = try #require(publisher.publish(topic: "r/kept", payload: Array("42".utf8), qos: 1, retain: true))
        #expect(await published.wait { published.acknowledged.contains(retainedID) })
        let (late, lateReceived) = try client(broker, "late")
        late.subscribe(["r/kept"])
        let lateTask = running(late)
        defer { lateTask.cancel() }
        #expect(await lateReceived.wait { lateReceived.messages.contains { $0 == ("r/kept", "42", true) } })
    }

    @Test func whatIsPublishedWhileTheBrokerIsDownIsSentAfterTheReconnect() async throws {
        let broker = try Broker()
        let (publisher, events) = try client(broker, "pub")
        publisher.subscribe(["cmd"])
        let task = running(publisher)
        defer { task.cancel() }
        #expect(await events.wait { events.connections == 1 })

        broker.stop()
        #expect(await events.wait { !events.disconnectReasons.isEmpty })
        #expect(!publisher.isConnected)
        #expect(publisher.publish(topic: "w/qos0", payload: [1], qos: 0, retain: true) == nil)
        var ids: [Int32] = []
        for n in 0..<5 {
            // Bytes and text alike wait for the reconnect.
            let id = n % 2 == 0
                ? publisher.publish(topic: "w/\(n)", payload: Array("v\(n)".utf8), qos: 1, retain: true)
                : publisher.publish(topic: "w/\(n)", text: "v\(n)", qos: 1, retain: true)
            ids.append(try #require(id))
        }
        #expect(events.acknowledged.isDisjoint(with: ids))

        try broker.start()
        #expect(await events.wait { events.connections == 2 && events.acknowledged.isSuperset(of: ids) })
        let (reader, read) = try client(broker, "reader")
        reader.subscribe(["w/#", "cmd"])
        let readerTask = running(reader)
        defer { readerTask.cancel() }
        #expect(await read.wait { read.messages.count == 5 })
        #expect(Set(read.messages.map { "\($0.topic)=\($0.payload)" }) == Set((0..<5).map { "w/\($0)=v\($0)" }))

        // The publisher's subscription was renewed on the new connection.
        #expect(reader.publish(topic: "cmd", payload: Array("go".utf8), qos: 1, retain: false) != nil)
        #expect(await events.wait { events.messages.contains { $0 == ("cmd", "go", false) } })
    }

    @Test func aBrokerThatStopsAnsweringIsLeftAndReconnectedOnceItAnswers() async throws {
        let broker = try Broker()
        let (client, events) = try client(broker, "ka", keepAlive: 1)
        let task = running(client)
        defer { task.cancel() }
        #expect(await events.wait { events.connections == 1 })

        broker.freeze()
        let id = try #require(client.publish(topic: "during", payload: [1], qos: 1, retain: false))
        #expect(await events.wait { !events.disconnectReasons.isEmpty })
        #expect(events.disconnectReasons.first?.contains("keep-alive") == true)
        broker.resume()
        #expect(await events.wait { events.connections == 2 })
        // The message in flight when the broker froze is sent again and acknowledged.
        #expect(await events.wait { events.acknowledged.contains(id) })
    }

    @Test func messagesPublishedWithoutRedeliveryGoWithTheirConnection() async throws {
        let broker = try Broker()
        let (client, events) = try client(broker, "once", keepAlive: 1)
        let task = running(client)
        defer { task.cancel() }
        #expect(await events.wait { events.connections == 1 })
        let first = try #require(client.publish(topic: "once/a", text: "1", qos: 1, retain: false, redeliver: false))
        #expect(await events.wait { events.acknowledged.contains(first) })

        broker.freeze()
        let lost = try #require(client.publish(topic: "once/b", text: "2", qos: 1, retain: false, redeliver: false))
        let kept = try #require(client.publish(topic: "once/c", payload: [3], qos: 1, retain: false))
        #expect(await events.wait { !events.disconnectReasons.isEmpty })
        // Not taken while the connection is down; the caller publishes it again after the reconnect.
        #expect(client.publish(topic: "once/d", text: "4", qos: 1, retain: false, redeliver: false) == nil)
        broker.resume()
        #expect(await events.wait { events.connections == 2 && events.acknowledged.contains(kept) })
        // The broker acknowledges in order and `lost` went before `kept`: sent again, it would be acknowledged by now.
        #expect(!events.acknowledged.contains(lost))
        let again = try #require(client.publish(topic: "once/b", text: "2", qos: 1, retain: false, redeliver: false))
        #expect(await events.wait { events.acknowledged.contains(again) })
    }

    @Test func aBrokerThatRefusesUsIsLoggedAndTriedAgain() async throws {
        // No anonymous clients and no passwords: mosquitto answers CONNECT with "not authorised".
        let broker = try Broker(extra: "allow_anonymous false\n")
        let lines = LogLines()
        let configuration = MQTTClientConfiguration(
            host: "127.0.0.1", port: broker.port, clientID: "refused-\(getpid())", username: "u", password: "p",
            reconnectBaseDelay: .milliseconds(100), reconnectMaxDelay: .milliseconds(100))
        let events = Recorder()
        let client = try MQTTClient(configuration: configuration, logger: Logger(label: "t") { _ in lines }) { events.record($0) }
        let task = running(client)
        defer { task.cancel() }
        // Refused again and again (each attempt is logged), never connected.
        #expect(await events.wait { lines.matching("MQTT broker refused the connection").count >= 2 })
        #expect(lines.matching("MQTT broker refused the connection").allSatisfy { $0.contains("not authorised") })
        #expect(events.connections == 0)
        // Said once per attempt, not twice: no "Cannot reach" line besides.
        #expect(lines.matching("Cannot reach the MQTT broker").isEmpty)
    }

    @Test func aGracefulShutdownPublishesTheWillAndWaitsForAcknowledgements() async throws {
        let broker = try Broker()
        let (client, events) = try client(broker, "gw", will: .init(topic: "gw/state", payload: "offline", qos: 1, retain: true))
        var logger = Logger(label: "mqtt-test")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [client], logger: logger)
        let running = Task { try await group.run() }
        #expect(await events.wait { events.connections == 1 })
        var ids: [Int32] = []
        for n in 0..<500 {
            ids.append(try #require(client.publish(topic: "gw/n", payload: Array("\(n)".utf8), qos: 1, retain: false)))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        // Every message was acknowledged before `run` returned, the will's message included.
        #expect(events.acknowledged.isSuperset(of: ids))
        #expect(events.acknowledged.count == ids.count + 1)
        #expect(!client.isConnected)

        let (reader, read) = try self.client(broker, "reader")
        reader.subscribe(["gw/state"])
        let readerTask = Task { try await reader.run() }
        defer { readerTask.cancel() }
        #expect(await read.wait { read.messages.contains { $0 == ("gw/state", "offline", true) } })
    }
}

/// A log handler that keeps every line with its metadata, for tests that check what was logged.
struct LogLines: LogHandler, Sendable {
    private let storage = Storage()
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    final class Storage: Sendable {
        let lines = Mutex<[String]>([])
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        storage.lines.withLock { $0.append("\(event.level) \(event.message) \(fields)") }
    }

    func matching(_ text: String) -> [String] { storage.lines.withLock { $0.filter { $0.contains(text) } } }
}
